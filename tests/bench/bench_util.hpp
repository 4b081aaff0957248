#pragma once
// What the benchmarks share: nearest-rank percentiles, elapsed time, what /proc says about a
// process (CPU time, memory) and the machine (CPU time, load average), the command line (flags,
// comma-separated counts), and writing the JSON report.

#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>
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

// Nearest-rank p50 and p99, mean and max of `values` (any order), each divided by `divisor` (1000
// for microseconds to milliseconds); zeros for none.
struct Percentiles {
  std::size_t n = 0;
  double p50 = 0;
  double p99 = 0;
  double mean = 0;
  double max = 0;
};

inline Percentiles percentiles(std::vector<double> values, double divisor = 1) {
  Percentiles s;
  s.n = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.p50 = nearest_rank(values, 0.50) / divisor;
  s.p99 = nearest_rank(values, 0.99) / divisor;
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size()) /
           divisor;
  s.max = values.back() / divisor;
  return s;
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

// CPU seconds (user + system) of a process, all its threads; 0 when unreadable.
inline double cpu_seconds(pid_t pid) {
  const auto s = proc_stat(pid);
  return s ? s->self_s() : 0;
}

// CPU seconds (user + system) of this process (RUSAGE_SELF) or of its reaped children
// (RUSAGE_CHILDREN).
inline double rusage_cpu_s(int who) {
  rusage u{};
  ::getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The whole machine, from /proc/stat's first line (every core): CPU seconds busy (user, nice,
// system, irq, softirq, steal), idle, and waiting for I/O. Other sessions' work shows as busy
// seconds a benchmark's processes do not account for.
struct MachineCpu {
  double busy_s = 0;
  double idle_s = 0;
  double iowait_s = 0;
};

inline MachineCpu machine_cpu() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double v[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // user nice system idle iowait irq softirq steal
  in >> cpu;
  for (double& x : v) in >> x;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  MachineCpu m;
  m.busy_s = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tick;
  m.idle_s = v[3] / tick;
  m.iowait_s = v[4] / tick;
  return m;
}

inline MachineCpu operator-(const MachineCpu& a, const MachineCpu& b) {
  return MachineCpu{a.busy_s - b.busy_s, a.idle_s - b.idle_s, a.iowait_s - b.iowait_s};
}

inline boost::json::object to_json(const MachineCpu& m) {
  return boost::json::object{{"busy_s", m.busy_s}, {"idle_s", m.idle_s}, {"iowait_s", m.iowait_s}};
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

// The three load averages (1, 5 and 15 minutes), as /proc/loadavg has them: "0.52 0.61 0.70".
inline std::string load_averages() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// A benchmark's command line: flags that take a value (`--seconds 3`) and switches that do not
// (`--no-relay`), each with what it does to the options.
struct Flags {
  std::map<std::string, std::function<void(const std::string&)>> values;
  std::map<std::string, std::function<void()>> switches;
};

// Applies argv[1..] to `flags`; --help or -h prints `usage` and exits 0. Throws
// std::invalid_argument for an unknown flag, a missing value, or a value the flag's function
// refuses (std::stoi and friends, or its own check, throwing std::logic_error).
inline void parse_flags(int argc, char** argv, const Flags& flags, const std::string& usage) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf("%s\n", usage.c_str());
      std::exit(0);
    }
    if (const auto it = flags.switches.find(flag); it != flags.switches.end()) {
      it->second();
    } else if (const auto v = flags.values.find(flag); v != flags.values.end()) {
      if (i + 1 >= argc) throw std::invalid_argument("missing value for " + flag);
      const std::string value = argv[++i];
      try {
        v->second(value);
      } catch (const std::logic_error& e) {  // std::stoi and friends, or the flag's own check
        throw std::invalid_argument("bad value '" + value + "' for " + flag + " (" + e.what() +
                                    ")");
      }
    } else {
      throw std::invalid_argument("unknown flag " + flag);
    }
  }
}

// A benchmark's main(): `parse(argc, argv)` for its options (a bad flag or value: "NAME: why;
// --help" on stderr and exit status `usage_status`), then `run(options)` for the exit status; an
// exception out of it ends the benchmark with status 1.
template <class Parse, class Run>
int bench_main(const char* name, int argc, char** argv, Parse&& parse, Run&& run,
               int usage_status = 2) {
  decltype(parse(argc, argv)) options;
  try {
    options = parse(argc, argv);
  } catch (const std::exception& e) {  // a bad flag, or std::stoi and friends on a bad value
    std::fprintf(stderr, "%s: %s; --help\n", name, e.what());
    return usage_status;
  }
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
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
