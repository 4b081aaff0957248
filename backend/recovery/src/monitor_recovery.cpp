// weighlink-backend monitor: the opt-in recovery (monitor_internal.hpp; docs/operations.md,
// "Health monitor"): verified-latest restored into a fresh database, the backend repointed and
// restarted.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "command_clock.hpp"
#include "monitor_internal.hpp"
#include "weighlink/base/file_write.hpp"
#include "weighlink/base/subprocess.hpp"
#include "weighlink/pg/pg.hpp"
#include "weighlink/recovery/restore.hpp"

namespace weighlink::recovery::monitor_detail {
namespace {

namespace fs = std::filesystem;

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

}  // namespace

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

}  // namespace weighlink::recovery::monitor_detail
