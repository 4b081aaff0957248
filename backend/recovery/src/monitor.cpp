// weighlink-backend monitor: the check, the loop, the recovery and their JSON lines (monitor.hpp;
// docs/operations.md, "Health monitor"). The decisions themselves are MonitorState's
// (backup_policy.cpp); this file only measures, acts and logs.
#include "weighlink/recovery/monitor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>

#include "command_clock.hpp"
#include "weighlink/base/file_write.hpp"
#include "weighlink/base/subprocess.hpp"
#include "weighlink/pg/migrations.hpp"
#include "weighlink/pg/pg.hpp"
#include "weighlink/recovery/backup_catalog.hpp"
#include "weighlink/recovery/backup_policy.hpp"
#include "weighlink/recovery/commands.hpp"
#include "weighlink/recovery/offsite.hpp"
#include "weighlink/recovery/restore.hpp"

namespace weighlink::recovery {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kDsnVariable = "WEIGHLINK_DSN";

int usage(const base::Console& console, const std::string& what) {
  console.err << "weighlink-backend: monitor: " << what << "\n";
  return kExitUsage;
}

// Durations in the log lines are whole milliseconds: Boost.JSON prints doubles as 2.63E-1.
std::int64_t ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// "2026-11-21T03:00:07.123Z": checks may come several to the second.
std::string now_text() { return base::format_utc_timestamp_ms(std::chrono::system_clock::now()); }

// SIGTERM and SIGINT end the loop between checks: the handler only writes to a pipe, which the
// sleep between checks polls. A check or a recovery in progress finishes first (their children
// get the signal from systemd's control group, or from the terminal's process group, themselves).
int g_signal_pipe[2] = {-1, -1};
volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int) {
  g_stop = 1;
  const char byte = 1;
  const int saved = errno;
  (void)!::write(g_signal_pipe[1], &byte, 1);
  errno = saved;
}

bool install_signal_handlers() {
  if (::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  return ::sigaction(SIGTERM, &action, nullptr) == 0 && ::sigaction(SIGINT, &action, nullptr) == 0;
}

// Sleeps `seconds` unless a stop signal comes first; false when one did.
bool sleep_unless_stopped(double seconds) {
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(seconds));
  while (g_stop == 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return true;
    pollfd fd{g_signal_pipe[0], POLLIN, 0};
    (void)::poll(&fd, 1, static_cast<int>(std::min<long long>(left, 60'000)));
  }
  return false;
}

// Every line goes to the console's out and, with --ops-log, is appended there in one write
// (O_APPEND), so that lines of other writers of the same log (drill) never interleave with it.
class DecisionLog {
 public:
  DecisionLog(std::string ops_log, const base::Console& console)
      : ops_log_(std::move(ops_log)), console_(console) {}
  void write(const json::object& fields) {
    json::object line{{"time", now_text()}, {"source", "monitor"}};
    for (const auto& field : fields) line[field.key()] = field.value();
    const std::string text = json::serialize(line) + "\n";
    console_.out << text << std::flush;
    if (ops_log_.empty()) return;
    const int fd = ::open(ops_log_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    const bool written =
        fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    const int error = errno;
    if (fd >= 0) ::close(fd);
    if (!written) {
      console_.err << "weighlink-backend: monitor: cannot append to --ops-log " << ops_log_ << " ("
                   << (error != 0 ? std::strerror(error) : "short write")
                   << "); the line is on stdout only\n";
    }
  }

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
};

std::string_view health_name(Health health) {
  switch (health) {
    case Health::healthy:
      return "healthy";
    case Health::unreachable:
      return "unreachable";
    case Health::missing:
      return "missing";
    case Health::schema_behind:
      return "schema_behind";
  }
  return "unknown";
}

struct Check {
  Health health = Health::unreachable;
  std::string detail;
  int schema_version = 0;
  std::string generation;
  std::int64_t ms = 0;
};

// A fresh connection each time (what a restarting backend would get), bounded by `timeout_s` for
// the connection (libpq counts 1 as 2) and the query, named weighlink-monitor in
// pg_stat_activity so that restore does not take it for a serving backend.
Check check_database(const std::string& dsn, int timeout_s) {
  const auto started = Clock::now();
  Check check;
  const std::string timeout = std::to_string(timeout_s);
  pg::PgConnection db(pg::dsn_with_parameters(dsn, {{"connect_timeout", timeout},
                                                    {"tcp_user_timeout", timeout + "000"},
                                                    {"application_name", "weighlink-monitor"}}));
  auto finish = [&](Health health, std::string detail) {
    check.health = health;
    check.detail = std::move(detail);
    check.ms = ms_since(started);
    return check;
  };
  if (!db.ensure_connected()) return finish(Health::unreachable, db.last_error());
  if (!db.exec("SET statement_timeout = " + timeout + "000")) {
    return finish(Health::unreachable, db.last_error());
  }
  auto row = db.exec(
      "SELECT (SELECT coalesce(max(version), 0) FROM schema_migrations), "
      "(SELECT value FROM backend_meta WHERE key = 'generation')");
  if (!row) {
    return finish(row.error() == pg::Errc::not_migrated ? Health::missing : Health::unreachable,
                  db.last_error());
  }
  check.schema_version = std::atoi(std::string(row->get(0, 0)).c_str());
  if (row->is_null(0, 1)) {
    return finish(Health::missing,
                  "backend_meta has no generation: not a database a backend serves");
  }
  check.generation = std::string(row->get(0, 1));
  if (check.schema_version < pg::latest_schema_version()) {
    return finish(Health::schema_behind,
                  "schema at version " + std::to_string(check.schema_version) +
                      ", this binary needs " + std::to_string(pg::latest_schema_version()) +
                      ": run `weighlink-backend migrate`");
  }
  return finish(Health::healthy, "reachable and migrated");
}

std::string_view action_name(MonitorState::Action action) {
  switch (action) {
    case MonitorState::Action::none:
      return "none";
    case MonitorState::Action::alert:
      return "alert";
    case MonitorState::Action::recover:
      return "recover";
    case MonitorState::Action::hold:
      return "hold";
  }
  return "unknown";
}

// The last `max` bytes of a tool's output, on one line.
std::string tail(std::string_view text, std::size_t max = 300) {
  if (text.size() > max) text = text.substr(text.size() - max);
  std::string out;
  for (const char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// A recovery's steps, recorded into its JSON line as they run; the first failure ends it.
class Recovery {
 public:
  Recovery() : started_(Clock::now()) { line_["event"] = "recovery"; }

  void set(std::string_view key, json::value value) { line_[key] = std::move(value); }
  void step(std::string_view name, Clock::time_point since) { durations_[name] = ms_since(since); }
  // Records the failure; returns the line to log.
  json::object failed(std::string_view step, std::string_view why) {
    line_["outcome"] = "failed";
    line_["failed_step"] = step;
    line_["error"] = why;
    return finish();
  }
  json::object succeeded() {
    line_["outcome"] = "recovered";
    return finish();
  }

 private:
  json::object finish() {
    line_["durations_ms"] = durations_;
    line_["ms"] = ms_since(started_);
    return line_;
  }
  Clock::time_point started_;
  json::object line_;
  json::object durations_;
};

// The verified-latest pointer, from the first location that answers.
struct Located {
  ReachableStore reachable;
  VerifiedLatest pointer;
};
std::optional<Located> locate_verified_latest(const std::vector<Location>& locations,
                                              std::string& error) {
  auto found = find_verified_latest(locations);
  if (!found) {
    error = found.error().message;
    return std::nullopt;
  }
  if (!found->pointer) {
    error = "no usable verified-latest in " + found->reachable.store->location().display() + " (" +
            found->why + "): nothing verified to restore; run verify-backup";
    return std::nullopt;
  }
  return Located{std::move(found->reachable), *found->pointer};
}

json::object describe(const Located& located) {
  json::object fields{{"location", located.reachable.store->location().display()},
                      {"dump", located.pointer.dump},
                      {"dump_created_at", format_utc_timestamp(located.pointer.created_at)},
                      {"verified_at", format_utc_timestamp(located.pointer.verified_at)}};
  if (!located.reachable.skipped.empty()) {
    fields["fallback"] = describe_fallback(located.reachable);
  }
  return fields;
}

// Restores verified-latest into a fresh database on the recovery server and repoints the backend
// to it; `dsn` becomes the new database's once the dsn file names it.
json::object recover(const base::Console& console, const MonitorOptions& o,
                     const std::vector<Location>& locations, std::string& dsn) {
  Recovery r;
  auto t = Clock::now();
  std::string error;
  auto located = locate_verified_latest(locations, error);
  if (!located) return r.failed("locate", error);
  Store& store = *located->reachable.store;
  const VerifiedLatest& pointer = located->pointer;
  for (const auto& [key, value] : describe(*located)) r.set(key, value);
  r.step("locate", t);

  t = Clock::now();
  const fs::path staging = o.staging_dir.empty() ? base::temp_folder() : fs::path(o.staging_dir);
  const fs::path download = staging / ("wl-monitor-" + std::to_string(::getpid()) + ".dump");
  struct RemoveDownload {
    fs::path path;
    ~RemoveDownload() {
      std::error_code ec;
      if (!path.empty()) fs::remove(path, ec);
    }
  } cleanup{store.location().remote() ? download : fs::path()};
  auto fetched = store.fetch(pointer.dump, download);
  if (!fetched)
    return r.failed("fetch", "cannot fetch " + pointer.dump + ": " + fetched.error().message);
  r.step("fetch", t);

  // A fresh database: never one that holds anything (a restore with --force could drop live
  // data of a database that was only unreachable for a moment).
  t = Clock::now();
  pg::PgConnection admin(o.recover_dsn);
  if (!admin.ensure_connected()) {
    return r.failed("create", "cannot reach the recovery server " + pg::dsn_target(o.recover_dsn) +
                                  " (--recover-dsn): " + admin.last_error());
  }
  std::string name = recovered_database_name(unix_now());
  for (int n = 2; n < 10; ++n) {
    auto taken = admin.exec("SELECT 1 FROM pg_database WHERE datname = $1", {name});
    if (!taken || taken->rows() == 0) break;
    name = recovered_database_name(unix_now()) + "_" + std::to_string(n);
  }
  if (!admin.exec("CREATE DATABASE \"" + name + "\" TEMPLATE template0")) {
    return r.failed("create", "cannot create database " + name + " on " + admin.target() + " (" +
                                  admin.last_error() + "); the --recover-dsn role needs CREATEDB");
  }
  const std::string new_dsn = pg::dsn_with_database(o.recover_dsn, name);
  r.set("database", json::string(name));
  r.set("target", json::string(pg::dsn_target(new_dsn)));
  r.step("create", t);
  // A half-restored database is dropped: left behind, it would look like a recovery.
  auto drop = [&] {
    const bool dropped =
        static_cast<bool>(admin.ensure_connected() &&
                          admin.exec("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)"));
    r.set("dropped", dropped);
  };

  t = Clock::now();
  RestoreOptions restore{.file = fetched->string(),
                         .dsn = new_dsn,
                         .force = false,
                         .jobs = static_cast<std::size_t>(o.jobs),
                         .expected_sha256 = pointer.sha256};
  const auto restored = restore_dump(restore, console.err);
  if (!restored) {
    drop();
    return r.failed("restore", restored.error().message);
  }
  r.set("generation", json::string(restored->generation));
  r.set("dump_generation", json::string(restored->dump_generation));
  r.set("schema_version", restored->schema_after);
  r.step("restore", t);

  // The same check as the loop's, before anything points at it.
  t = Clock::now();
  const auto check = check_database(new_dsn, o.check_timeout_s);
  if (check.health != Health::healthy) {
    drop();
    return r.failed("verify", "the restored database " + name + " does not pass the check (" +
                                  std::string(health_name(check.health)) + ": " + check.detail +
                                  ")");
  }
  r.step("verify", t);

  t = Clock::now();
  std::string text;
  std::error_code exists_ec;
  if (fs::exists(o.dsn_file, exists_ec)) {
    std::ifstream in(o.dsn_file, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) return r.failed("repoint", "cannot read --dsn-file " + o.dsn_file);
  }
  const std::string comment = now_text() + " from " + pg::dsn_target(dsn) + " to " +
                              pg::dsn_target(new_dsn) + ", restored from " + pointer.dump;
  if (auto written = base::write_file_atomically(
          o.dsn_file, repoint_env_file(text, kDsnVariable, new_dsn, comment), 0600);
      !written) {
    // Not dropped: an operator can still point the backend at it by hand.
    return r.failed("repoint", written.error().message + "; the restored database " + name +
                                   " is ready: set WEIGHLINK_DSN to it by hand");
  }
  r.set("dsn_file", json::string(o.dsn_file));
  dsn = new_dsn;
  r.step("repoint", t);

  if (!o.restart_command.empty()) {
    t = Clock::now();
    // For the command, as the restarted backend will see it.
    ::setenv(std::string(kDsnVariable).c_str(), new_dsn.c_str(), 1);
    base::CommandOptions bounded;
    bounded.deadline = std::chrono::seconds(o.restart_timeout_s);
    const auto ran = base::run_command({"/bin/sh", "-c", o.restart_command}, bounded);
    json::object restart{{"command", o.restart_command},
                         {"exit_status", ran.exit_status},
                         {"timed_out", ran.timed_out}};
    if (!ran.err.empty()) restart["stderr"] = tail(ran.err);
    r.set("restart", std::move(restart));
    r.step("restart", t);
    if (!ran.ok()) {
      return r.failed("restart",
                      ran.timed_out ? "--restart-command did not finish within " +
                                          std::to_string(o.restart_timeout_s) + " s and was killed"
                      : !ran.started ? "--restart-command could not be started: " + ran.err
                                     : "--restart-command exited with status " +
                                           std::to_string(ran.exit_status) + ": " + tail(ran.err) +
                                           "; " + o.dsn_file +
                                           " names the restored database: restart the backend "
                                           "by hand");
    }
  }
  return r.succeeded();
}

std::vector<std::string> locations_of(const MonitorOptions& o) {
  std::vector<std::string> specs = {o.dir};
  specs.insert(specs.end(), o.fallbacks.begin(), o.fallbacks.end());
  return specs;
}

// Usage problems found before the first check; nullopt when the options make sense.
std::optional<std::string> usage_problem(const MonitorOptions& o) {
  if (!(o.interval_s >= 0.05 && o.interval_s <= 86400)) {
    return "--interval must be between 0.05 and 86400 seconds";
  }
  if (o.threshold < 1) return "--threshold must be at least 1";
  if (o.cooldown_s < 0) return "--cooldown must not be negative";
  if (o.check_timeout_s < 1 || o.check_timeout_s > 3600) {
    return "--check-timeout must be between 1 and 3600 seconds";
  }
  if (o.max_checks < 0) return "--max-checks must not be negative";
  const bool recovery_flags = !o.dir.empty() || !o.fallbacks.empty() || !o.recover_dsn.empty() ||
                              !o.dsn_file.empty() || !o.restart_command.empty();
  if (!o.recover) {
    if (recovery_flags) {
      return "--dir, --fallback, --recover-dsn, --dsn-file and --restart-command are used only "
             "with --recover; add --recover to turn automatic recovery on, or drop them";
    }
    return std::nullopt;
  }
  if (o.dir.empty()) return "--recover needs --dir (where verified-latest is)";
  if (o.recover_dsn.empty()) {
    return "--recover needs --recover-dsn (a role with CREATEDB on the server the recovered "
           "database goes to)";
  }
  if (o.dsn_file.empty()) {
    return "--recover needs --dsn-file (the backend's EnvironmentFile with WEIGHLINK_DSN=...)";
  }
  if (auto problem = pg::dsn_problem(o.recover_dsn)) return "invalid --recover-dsn: " + *problem;
  for (const auto& spec : locations_of(o)) {
    if (auto location = parse_location(spec); !location) return location.error().message;
  }
  const fs::path file = o.dsn_file;
  const fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || ::access(dir.c_str(), W_OK) != 0) {
    return "--dsn-file " + o.dsn_file + ": the folder " + dir.string() +
           " must exist and be writable by this user (the file is replaced by a rename)";
  }
  if (fs::exists(file, ec) &&
      (!fs::is_regular_file(file, ec) || ::access(file.c_str(), R_OK) != 0)) {
    return "--dsn-file " + o.dsn_file + " is not a readable regular file";
  }
  if (o.restart_timeout_s < 1) return "--restart-timeout must be at least 1 second";
  if (o.jobs < 1 || o.jobs > 64) return "--jobs must be between 1 and 64";
  return std::nullopt;
}

}  // namespace

std::string recovered_database_name(std::int64_t unix_seconds) {
  return "weighlink_recovered_" + base::format_utc_file_stamp(unix_seconds);
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

int run_monitor(const MonitorOptions& options, const base::Console& console) {
  if (auto problem = usage_problem(options)) return usage(console, *problem);
  std::vector<Location> locations;
  if (options.recover) {
    for (const auto& spec : locations_of(options)) locations.push_back(*parse_location(spec));
  }
  if (!install_signal_handlers()) {
    console.err << "weighlink-backend: monitor: cannot install the signal handlers: "
                << std::strerror(errno) << "\n";
    return kExitFailure;
  }

  DecisionLog log(options.ops_log, console);
  MonitorState state(MonitorPolicy{options.threshold, options.cooldown_s, options.recover});
  std::string dsn = options.dsn;
  json::object start{{"event", "start"},
                     {"target", pg::dsn_target(dsn)},
                     {"interval_ms", std::llround(options.interval_s * 1000)},
                     {"threshold", options.threshold},
                     {"cooldown_s", options.cooldown_s},
                     {"check_timeout_s", options.check_timeout_s},
                     {"recover", options.recover}};
  if (options.recover) {
    // What a recovery would need, looked at now rather than found missing when it is needed.
    json::object preflight;
    std::string error;
    if (auto located = locate_verified_latest(locations, error)) {
      preflight = describe(*located);
    } else {
      preflight["verified_latest_error"] = error;
    }
    pg::PgConnection admin(options.recover_dsn);
    preflight["recover_server"] =
        admin.ensure_connected() ? std::string("reachable") : "unreachable: " + admin.last_error();
    start["recover_target"] = pg::dsn_target(options.recover_dsn);
    start["dsn_file"] = options.dsn_file;
    start["preflight"] = std::move(preflight);
  }
  log.write(start);

  bool last_healthy = true;
  std::int64_t checks = 0;
  while (g_stop == 0) {
    const auto check = check_database(dsn, options.check_timeout_s);
    ++checks;
    last_healthy = check.health == Health::healthy;
    const auto decision =
        state.observe(last_healthy, unix_now(), check.health != Health::schema_behind);
    json::object line{{"event", "check"},
                      {"check", checks},
                      {"target", pg::dsn_target(dsn)},
                      {"healthy", last_healthy},
                      {"state", health_name(check.health)},
                      {"detail", check.detail},
                      {"check_ms", check.ms},
                      {"consecutive_failures", decision.consecutive_failures},
                      {"action", action_name(decision.action)},
                      {"reason", decision.reason}};
    if (!check.generation.empty()) {
      line["schema_version"] = check.schema_version;
      line["generation"] = check.generation;
    }
    log.write(line);
    if (decision.action == MonitorState::Action::recover && g_stop != 0) {
      // Asked to stop during the check: a restore would hold the stop up for minutes.
      log.write({{"event", "recovery"},
                 {"outcome", "skipped"},
                 {"error", "SIGTERM or SIGINT came during the check: stopping instead"}});
    } else if (decision.action == MonitorState::Action::recover) {
      log.write(recover(console, options, locations, dsn));
      state.recovered(unix_now());
    }
    if (options.max_checks > 0 && checks >= options.max_checks) break;
    if (!sleep_unless_stopped(options.interval_s)) break;
  }
  const bool signalled = g_stop != 0;
  log.write({{"event", "stop"},
             {"checks", checks},
             {"why", signalled ? "SIGTERM or SIGINT" : "--max-checks reached"},
             {"last_healthy", last_healthy}});
  return signalled || last_healthy ? kExitOk : kExitFailure;
}

}  // namespace weighlink::recovery
