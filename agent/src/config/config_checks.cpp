// The checks every section parser shares (config_checks.hpp).

#include "config/config_checks.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

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

}  // namespace config_checks

}  // namespace weighlink::agent
