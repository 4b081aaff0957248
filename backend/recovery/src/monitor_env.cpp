// weighlink-backend monitor's pure helpers (monitor.hpp): the recovered database's name and the
// EnvironmentFile rewrite.
#include <cstdint>
#include <string>
#include <string_view>

#include "weighlink/base/timestamp.hpp"
#include "weighlink/recovery/monitor.hpp"

namespace weighlink::recovery {

std::string recovered_database_name(std::int64_t unix_seconds) {
  return "weighlink_recovered_" + base::format_utc_file_stamp(unix_seconds);
}

std::string fresh_database_name(std::int64_t unix_seconds) {
  return "weighlink_reset_" + base::format_utc_file_stamp(unix_seconds);
}

std::string env_file_value(std::string_view value) {
  const bool bare = !value.empty() && value.find_first_not_of(
                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789_@%+=:,./-") == std::string_view::npos;
  if (bare) return std::string(value);
  std::string out = "\"";
  for (const char c : value) {
    if (c == '\\' || c == '"' || c == '`' || c == '$') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string repoint_env_file(std::string_view text, std::string_view variable,
                             std::string_view value, std::string_view comment) {
  const std::string assignment = std::string(variable) + "=" + env_file_value(value);
  const std::string note = std::string(kRepointComment) + ": " + std::string(comment);
  std::string out;
  bool replaced = false;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto end = text.find('\n', at);
    const auto line = text.substr(at, end == text.npos ? text.npos : end - at);
    at = end == text.npos ? text.size() : end + 1;
    const auto first = line.find_first_not_of(" \t");
    const auto content = first == line.npos ? std::string_view() : line.substr(first);
    if (content.starts_with(kRepointComment)) continue;
    if (content.starts_with(std::string(variable) + "=")) {
      if (!replaced) out += note + "\n" + assignment + "\n";
      replaced = true;
      continue;
    }
    out += std::string(line) + "\n";
  }
  if (!replaced) out += note + "\n" + assignment + "\n";
  return out;
}

}  // namespace weighlink::recovery
