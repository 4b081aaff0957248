#pragma once
// weighlink-backend monitor (SPEC §6, docs/operations.md "Health monitor"): checks the backend's
// database every interval as /readyz would (reachable, weighlink's tables there, schema not older
// than this binary, a generation); MonitorState (backup_policy.hpp) turns each outcome into a
// decision (none, alert, recover, hold), logged as one JSON line. With --recover, a recovery
// restores DIR/verified-latest into a fresh database weighlink_recovered_YYYYMMDD_HHMMSS on the
// server of --recover-dsn, rewrites WEIGHLINK_DSN in --dsn-file (the backend's systemd
// EnvironmentFile), runs --restart-command, and checks the new database from then on. With
// --fresh-reset, a recovery that finds no verified dump (the location answers, verified-latest
// names none) creates a new empty database instead (weighlink_reset_YYYYMMDD_HHMMSS: migrations,
// a new generation, the station registry carried over when the old database still reads), and
// the stations re-send what they hold. With --pg-log, each check also reads what the PostgreSQL
// server log gained for corruption indicators (pg_log.hpp), and reads
// pg_stat_database.checksum_failures; each is an `alert` line.
// Exit: 0 stopped by SIGTERM/SIGINT or after --max-checks with the last check healthy, 1 after
// --max-checks with the last check unhealthy, 2 bad usage.
//
// Threading: run_monitor blocks its caller (one thread; signals end it between checks).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/base/command.hpp"

namespace weighlink::recovery {

struct MonitorOptions {
  std::string dsn;                 // the database the backend serves (also from $WEIGHLINK_DSN)
  double interval_s = 30;          // between the end of one check and the start of the next
  int threshold = 3;               // consecutive failed checks before an alert or a recovery
  std::int64_t cooldown_s = 3600;  // no second recovery within this time of the last one
  int check_timeout_s = 5;         // connect_timeout and statement_timeout of a check
  std::int64_t max_checks = 0;     // stop after this many checks; 0: until SIGTERM/SIGINT
  std::string ops_log;             // append every JSON line here too (empty: stdout only)
  std::string pg_log;              // the PostgreSQL server log to read for corruption indicators
  // Recovery (opt-in).
  bool recover = false;
  std::string dir;                     // where verified-latest is: a folder or rclone remote
  std::vector<std::string> fallbacks;  // read in order when --dir is unreachable
  std::string recover_dsn;      // a role with CREATEDB on the server the new database goes to
  std::string dsn_file;         // EnvironmentFile whose WEIGHLINK_DSN line is rewritten
  std::string restart_command;  // run with /bin/sh -c after the rewrite (empty: none)
  int restart_timeout_s = 120;  // the restart command is killed past it
  std::string staging_dir;      // where a dump from a remote location is downloaded ($TMPDIR)
  int jobs = 2;                 // pg_restore --jobs for data and post-data
  // No verified dump: a new empty database the stations refill (opt-in, with --recover).
  bool fresh_reset = false;
};

[[nodiscard]] int run_monitor(const MonitorOptions& options, const base::Console& console);

// Pure helpers, exposed for the unit tests.

// "weighlink_recovered_20261121_030007" for that UTC time.
[[nodiscard]] std::string recovered_database_name(std::int64_t unix_seconds);

// "weighlink_reset_20261121_030007": the database a fresh reset creates at that UTC time.
[[nodiscard]] std::string fresh_database_name(std::int64_t unix_seconds);

// `value` as the right-hand side of an assignment that both systemd's EnvironmentFile= and
// /bin/sh read back as `value`: bare when it has only safe characters, else in double quotes
// with \ " ` $ escaped (the escapes both understand).
[[nodiscard]] std::string env_file_value(std::string_view value);

// An environment file's text with `variable` set to `value`: its first assignment is replaced in
// place, preceded by the line "<kRepointComment>: <comment>"; later assignments of it and the
// comment lines of earlier rewrites are dropped; every other line is kept as it is. Appended when
// the file has no assignment of `variable`.
inline constexpr std::string_view kRepointComment = "# repointed by weighlink-backend monitor";
[[nodiscard]] std::string repoint_env_file(std::string_view text, std::string_view variable,
                                           std::string_view value, std::string_view comment);

}  // namespace weighlink::recovery
