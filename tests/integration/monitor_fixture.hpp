#pragma once
// What the monitor's integration tests share: `weighlink-backend monitor`'s command line and the
// JSON lines of its ops log.

#include <boost/json.hpp>
#include <filesystem>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/testing/process.hpp"

namespace weighlink::testing {

// The JSON lines of an ops log so far (a line being written is left for the next read).
inline std::vector<boost::json::object> read_lines(const std::filesystem::path& ops_log) {
  std::vector<boost::json::object> lines;
  std::istringstream in(read_file(ops_log));
  for (std::string line; std::getline(in, line);) {
    if (in.eof()) break;  // no newline yet: incomplete
    lines.push_back(boost::json::parse(line).as_object());
  }
  return lines;
}

inline std::vector<boost::json::object> events(const std::vector<boost::json::object>& lines,
                                               std::string_view event) {
  std::vector<boost::json::object> out;
  for (const auto& l : lines) {
    if (l.at("event").as_string() == event) out.push_back(l);
  }
  return out;
}

inline std::string text(const boost::json::object& line, std::string_view key) {
  return line.contains(key) ? std::string(line.at(key).as_string()) : "";
}

inline std::vector<std::string> monitor_argv(const std::string& dsn,
                                             std::vector<std::string> args) {
  std::vector<std::string> argv = {bin("weighlink-backend"), "monitor", "--dsn", dsn};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace weighlink::testing
