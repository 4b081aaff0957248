#pragma once
// Internal to weighlink-backend monitor (monitor.hpp): what its parts share. monitor.cpp runs the
// loop; monitor_check.cpp measures (the check, the server log, checksum failures);
// monitor_recovery.cpp acts (restore verified-latest, or the fresh reset, then repoint and
// restart); monitor_log.cpp writes the JSON lines and waits between checks. The decisions are
// MonitorState's (backup_policy.hpp).
//
// Threading: one thread, the monitor's.

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/base/command.hpp"
#include "weighlink/recovery/backup_catalog.hpp"
#include "weighlink/recovery/monitor.hpp"
#include "weighlink/recovery/offsite.hpp"

namespace weighlink::recovery::monitor_detail {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

inline constexpr std::string_view kDsnVariable = "WEIGHLINK_DSN";

// Durations in the log lines are whole milliseconds: Boost.JSON prints doubles as 2.63E-1.
[[nodiscard]] std::int64_t ms_since(Clock::time_point start);
// "2026-11-21T03:00:07.123Z": checks may come several to the second.
[[nodiscard]] std::string now_text();
// The last `max` bytes of a tool's output, on one line.
[[nodiscard]] std::string tail(std::string_view text, std::size_t max = 300);

// SIGTERM and SIGINT end the loop between checks (monitor_log.cpp).
[[nodiscard]] bool install_signal_handlers();
[[nodiscard]] bool stop_requested();
// Sleeps `seconds` unless a stop signal comes first; false when one did.
[[nodiscard]] bool sleep_unless_stopped(double seconds);

// Every line goes to the console's out and, with --ops-log, is appended there in one write
// (O_APPEND), so that lines of other writers of the same log (drill) never interleave with it.
class DecisionLog {
 public:
  DecisionLog(std::string ops_log, const base::Console& console)
      : ops_log_(std::move(ops_log)), console_(console) {}
  void write(const json::object& fields);

 private:
  std::string ops_log_;
  const base::Console& console_;
};

// What one check found.
enum class Health {
  healthy,
  unreachable,    // no connection, or the connection broke during the check
  missing,        // the server answers, weighlink's tables or its generation are not there
  schema_behind,  // older than this binary: run migrate (a restore would only lose data)
  corrupt,        // answers as healthy, but a damage indicator came with this check (pg_log.hpp)
};
[[nodiscard]] std::string_view health_name(Health health);

struct Check {
  Health health = Health::unreachable;
  std::string detail;
  int schema_version = 0;
  std::string generation;
  std::int64_t ms = 0;
  // The sum of pg_stat_database.checksum_failures; nullopt when data checksums are off or the
  // server did not answer.
  std::optional<std::int64_t> checksum_failures;
};

// A fresh connection each time (what a restarting backend would get), bounded by `timeout_s` for
// the connection (libpq counts 1 as 2) and the query, named weighlink-monitor in
// pg_stat_activity so that restore does not take it for a serving backend.
[[nodiscard]] Check check_database(const std::string& dsn, int timeout_s);

// One corruption indicator a check found: an `alert` line.
struct Finding {
  std::string indicator;
  bool damage = false;   // counts as a failed check (pg_log.hpp, IndicatorKind)
  std::string line;      // the log line it matched, or what the statistics said
  std::string found_in;  // the log file, or pg_stat_database
};

// What the checks have seen of the server's corruption indicators: the server log since the
// last check (--pg-log) and the rise of checksum_failures since the last check that read it.
class CorruptionWatch {
 public:
  explicit CorruptionWatch(const std::string& pg_log);
  ~CorruptionWatch();
  CorruptionWatch(const CorruptionWatch&) = delete;
  CorruptionWatch& operator=(const CorruptionWatch&) = delete;
  // The findings that came with `check` of `target` ("host:port/dbname": after a recovery the
  // checksum failures of another server start a new baseline); `log_error` says why the log
  // could not be read.
  [[nodiscard]] std::vector<Finding> scan(const std::string& target, const Check& check,
                                          std::string& log_error);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The verified-latest pointer, from the first location that answers.
struct Located {
  ReachableStore reachable;
  VerifiedLatest pointer;
};
// Why there is none: `error` says it; `nothing_verified` when a location answered (`location`)
// and holds no verified-latest at all (not when none answered, nor when its pointer exists but
// cannot be read: a verified dump may exist).
struct LocateFailure {
  std::string error;
  bool nothing_verified = false;
  std::string location;
};
[[nodiscard]] std::optional<Located> locate_verified_latest(const std::vector<Location>& locations,
                                                            LocateFailure& failure);
[[nodiscard]] json::object describe(const Located& located);

// Restores verified-latest into a fresh database on the recovery server (or, with --fresh-reset
// and no verified dump, creates a new empty one) and repoints the backend to it; `dsn` becomes
// the new database's once the dsn file names it. Returns the recovery line.
[[nodiscard]] json::object recover(const base::Console& console, const MonitorOptions& o,
                                   const std::vector<Location>& locations, std::string& dsn);

}  // namespace weighlink::recovery::monitor_detail
