// The checks every section parser shares (config_checks.hpp).

#include "config/config_checks.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <vector>

namespace weighlink::agent {

namespace config_checks {

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& key,
                       const std::string& what) {
  throw std::runtime_error(file.string() + ": " + key + ": " + what);
}

std::string text(const YAML::Node& n, const std::filesystem::path& file, const std::string& key) {
  if (!n.IsScalar()) fail(file, key, "expected a string");
  return n.as<std::string>();
}

bool flag(const YAML::Node& n, const std::filesystem::path& file, const std::string& key) {
  try {
    return n.as<bool>();
  } catch (const YAML::Exception&) {
    fail(file, key, "expected true or false");
  }
}

void check_keys(const YAML::Node& node, const std::set<std::string>& known,
                const std::filesystem::path& file, const std::string& where) {
  for (const auto& kv : node) {
    const auto key = kv.first.as<std::string>();
    if (!known.contains(key)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      fail(file, where + key, "unknown key (known keys here: " + list + ")");
    }
  }
}

void check_device_id(const std::string& id, const std::filesystem::path& file,
                     const std::string& key) {
  const bool ok = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-';
  });
  if (!ok) fail(file, key, "'" + id + "' is not a device id: use 1 to 64 of A-Z a-z 0-9 _ . -");
}

template <class T>
T get(const YAML::Node& node, const std::filesystem::path& file, const std::string& key,
      const std::string& expected) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    fail(file, key, "expected " + expected);
  }
}

#define WEIGHLINK_CONFIG_GET(T)                                                          \
  template T get<T>(const YAML::Node&, const std::filesystem::path&, const std::string&, \
                    const std::string&);
WEIGHLINK_CONFIG_GET(std::string)
WEIGHLINK_CONFIG_GET(bool)
WEIGHLINK_CONFIG_GET(int)
// std::uint32_t, std::size_t and std::uint64_t, whichever of these each is on the platform.
WEIGHLINK_CONFIG_GET(unsigned int)
WEIGHLINK_CONFIG_GET(unsigned long)
WEIGHLINK_CONFIG_GET(unsigned long long)
WEIGHLINK_CONFIG_GET(std::vector<std::string>)
#undef WEIGHLINK_CONFIG_GET

std::chrono::milliseconds get_ms(const YAML::Node& node, const std::filesystem::path& file,
                                 const std::string& key, std::uint32_t min, std::uint32_t max) {
  const auto v = get<std::uint32_t>(node, file, key, "a number of milliseconds");
  if (v < min || v > max) {
    fail(file, key,
         std::to_string(v) + " is out of range " + std::to_string(min) + ".." +
             std::to_string(max) + " ms");
  }
  return std::chrono::milliseconds(v);
}

}  // namespace config_checks

}  // namespace weighlink::agent
