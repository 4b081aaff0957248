#pragma once
// What the benchmarks share: nearest-rank percentiles, elapsed time, what /proc says about a
// process (CPU time, memory) and the machine (load average), comma-separated counts on the command
// line, and writing the JSON report.

#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace weighlink::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The nearest-rank percentile `q` (0..1) of values sorted in ascending order; 0 for none.
template <class T>
T nearest_rank(const std::vector<T>& sorted, double q) {
  if (sorted.empty()) return T{};
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

// /proc/PID/stat: the parent, and CPU seconds of the process (all its threads, living and exited)
// and of its reaped children.
struct ProcStat {
  pid_t ppid = 0;
  double user_s = 0;      // utime
  double system_s = 0;    // stime
  double children_s = 0;  // cutime + cstime
  [[nodiscard]] double self_s() const { return user_s + system_s; }
};

inline std::optional<ProcStat> proc_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) return std::nullopt;
  const auto close = text.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 2));
  std::vector<std::string> f;  // f[0] is field 3 (the state)
  for (std::string field; f.size() < 15 && fields >> field;) f.push_back(field);
  if (f.size() < 15) return std::nullopt;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  ProcStat s;
  s.ppid = static_cast<pid_t>(std::stol(f[1]));
  s.user_s = std::stod(f[11]) / tick;
  s.system_s = std::stod(f[12]) / tick;
  s.children_s = (std::stod(f[13]) + std::stod(f[14])) / tick;
  return s;
}

// A line of /proc/PID/status in MB ("VmHWM": peak resident set, "VmRSS"); 0 when unreadable.
inline double status_mb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) / 1024.0;
  }
  return 0;
}

// The machine's load average over the last minute; 0 when unreadable.
inline double load_average() {
  double load = 0;
  if (std::ifstream in("/proc/loadavg"); in) in >> load;
  return load;
}

// "1,8,64" -> {1, 8, 64}; empty items are skipped, others go to std::stoi (which throws).
inline std::vector<int> parse_counts(const std::string& text) {
  std::vector<int> out;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(std::stoi(item));
  }
  return out;
}

// Writes `report` and a newline to `path`; false when that fails.
inline bool write_json(const std::string& path, const boost::json::object& report) {
  std::ofstream out(path, std::ios::trunc);
  out << boost::json::serialize(report) << '\n';
  return static_cast<bool>(out);
}

}  // namespace weighlink::bench
