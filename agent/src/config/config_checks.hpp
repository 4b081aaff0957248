#pragma once
// What every section parser of the agent's configuration file shares (config_*.cpp): one error
// form, "FILE: KEY: what is wrong", and the refusal of a key the section does not know.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>

namespace YAML {
class Node;
}  // namespace YAML

namespace weighlink::agent::config_checks {

// Throws std::runtime_error "FILE: KEY: WHAT".
[[noreturn]] void fail(const std::filesystem::path& file, const std::string& key,
                       const std::string& what);

// Fails on the first key of `node` not in `known`, naming `where` + key and listing the known ones.
void check_keys(const YAML::Node& node, const std::set<std::string>& known,
                const std::filesystem::path& file, const std::string& where);

// A scalar's text, and true/false; fail naming `key` otherwise.
[[nodiscard]] std::string text(const YAML::Node& node, const std::filesystem::path& file,
                               const std::string& key);
[[nodiscard]] bool flag(const YAML::Node& node, const std::filesystem::path& file,
                        const std::string& key);

// A station device's id (devices.hpp): 1..64 of [A-Za-z0-9_.-], so it can name files, metrics
// labels and URL paths as it is; fails naming `key` otherwise.
void check_device_id(const std::string& id, const std::filesystem::path& file,
                     const std::string& key);

// The value of `node` as a T, or a failure naming `key` and what was `expected` ("true or
// false"). Defined for std::string, bool, int, std::size_t, std::uint32_t, std::uint64_t and
// std::vector<std::string> (config_checks.cpp).
template <class T>
T get(const YAML::Node& node, const std::filesystem::path& file, const std::string& key,
      const std::string& expected);

// A number of milliseconds in min..max, or a failure naming `key` and the range.
std::chrono::milliseconds get_ms(const YAML::Node& node, const std::filesystem::path& file,
                                 const std::string& key, std::uint32_t min, std::uint32_t max);

}  // namespace weighlink::agent::config_checks
