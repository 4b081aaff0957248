// weighlink-backend monitor: the opt-in recovery (monitor_internal.hpp; docs/operations.md,
// "Health monitor"): verified-latest restored into a fresh database, or with --fresh-reset and
// no verified dump a new empty one; then the backend repointed and restarted.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "command_clock.hpp"
#include "monitor_internal.hpp"
#include "weighlink/base/file_write.hpp"
#include "weighlink/base/subprocess.hpp"
#include "weighlink/pg/migrations.hpp"
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
  json::object succeeded(std::string_view outcome = "recovered") {
    line_["outcome"] = outcome;
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

// A new database named after `base` (never one that holds anything: a restore with --force
// could drop live data of a database that was only unreachable for a moment); its name.
base::Expected<std::string> create_database(pg::PgConnection& admin, const std::string& stem) {
  std::string name = stem;
  for (int n = 2; n < 10; ++n) {
    auto taken = admin.exec("SELECT 1 FROM pg_database WHERE datname = $1", {name});
    if (!taken || taken->rows() == 0) break;
    name = stem + "_" + std::to_string(n);
  }
  if (!admin.exec("CREATE DATABASE \"" + name + "\" TEMPLATE template0")) {
    return base::Error{std::make_error_code(std::errc::permission_denied),
                       "cannot create database " + name + " on " + admin.target() + " (" +
                           admin.last_error() + "); the --recover-dsn role needs CREATEDB"};
  }
  return name;
}

// The `create` step: a new database named after `stem` on the recovery server, recorded in the
// line (database, target, the step's time); the failure's message otherwise.
struct NewDatabase {
  std::string name;
  std::string dsn;
};
base::Expected<NewDatabase> create_step(Recovery& r, pg::PgConnection& admin,
                                        const std::string& recover_dsn, const std::string& stem) {
  const auto t = Clock::now();
  if (!admin.ensure_connected()) {
    return base::Error{std::make_error_code(std::errc::host_unreachable),
                       "cannot reach the recovery server " + pg::dsn_target(recover_dsn) +
                           " (--recover-dsn): " + admin.last_error()};
  }
  auto name = create_database(admin, stem);
  if (!name) return name.error();
  NewDatabase made{*name, pg::dsn_with_database(recover_dsn, *name)};
  r.set("database", json::string(made.name));
  r.set("target", json::string(pg::dsn_target(made.dsn)));
  r.step("create", t);
  return made;
}

// A half-made database is dropped: left behind, it would look like a recovery.
void drop_database(Recovery& r, pg::PgConnection& admin, const std::string& name) {
  const bool dropped =
      static_cast<bool>(admin.ensure_connected() &&
                        admin.exec("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)"));
  r.set("dropped", dropped);
}

// The new database passes the loop's own check, before anything points at it.
std::optional<std::string> check_new_database(const std::string& new_dsn, const std::string& name,
                                              int timeout_s) {
  const auto check = check_database(new_dsn, timeout_s);
  if (check.health == Health::healthy) return std::nullopt;
  return "the new database " + name + " does not pass the check (" +
         std::string(health_name(check.health)) + ": " + check.detail + ")";
}

// Rewrites --dsn-file to `new_dsn` and runs --restart-command; the failure line, or nullopt
// when both went well (`dsn` is then the new database's).
std::optional<json::object> repoint_and_restart(Recovery& r, const MonitorOptions& o,
                                                std::string& dsn, const std::string& new_dsn,
                                                const std::string& name,
                                                const std::string& origin) {
  auto t = Clock::now();
  std::string text;
  std::error_code exists_ec;
  if (fs::exists(o.dsn_file, exists_ec)) {
    std::ifstream in(o.dsn_file, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) return r.failed("repoint", "cannot read --dsn-file " + o.dsn_file);
  }
  const std::string comment = now_text() + " from " + pg::dsn_target(dsn) + " to " +
                              pg::dsn_target(new_dsn) + ", " + origin;
  if (auto written = base::write_file_atomically(
          o.dsn_file, repoint_env_file(text, kDsnVariable, new_dsn, comment), 0600);
      !written) {
    // Not dropped: an operator can still point the backend at it by hand.
    return r.failed("repoint", written.error().message + "; the new database " + name +
                                   " is ready: set WEIGHLINK_DSN to it by hand");
  }
  r.set("dsn_file", json::string(o.dsn_file));
  dsn = new_dsn;
  r.step("repoint", t);

  if (o.restart_command.empty()) return std::nullopt;
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
  if (ran.ok()) return std::nullopt;
  return r.failed("restart",
                  ran.timed_out ? "--restart-command did not finish within " +
                                      std::to_string(o.restart_timeout_s) + " s and was killed"
                  : !ran.started
                      ? "--restart-command could not be started: " + ran.err
                      : "--restart-command exited with status " + std::to_string(ran.exit_status) +
                            ": " + tail(ran.err) + "; " + o.dsn_file +
                            " names the new database: restart the backend by hand");
}

// The station registry of the old database (ids, token hashes, signing keys, settings) as JSON,
// so that the stations' tokens keep working on a fresh database; their high waters start at 0.
base::Expected<std::string> read_station_registry(const std::string& dsn, int timeout_s) {
  const std::string timeout = std::to_string(timeout_s);
  pg::PgConnection old_db(pg::dsn_with_parameters(
      dsn, {{"connect_timeout", timeout}, {"application_name", "weighlink-monitor"}}));
  if (!old_db.ensure_connected() || !old_db.exec("SET statement_timeout = " + timeout + "000")) {
    return base::Error{std::make_error_code(std::errc::io_error), old_db.last_error()};
  }
  auto rows = old_db.exec("SELECT coalesce(json_agg(s), '[]')::text FROM stations s");
  if (!rows) return base::Error{std::make_error_code(std::errc::io_error), old_db.last_error()};
  return std::string(rows->get(0, 0));
}

// A new database on the recovery server, migrated (a new generation), with the old database's
// station registry when it can still be read, and `reset_at` / `reset_from` in backend_meta.
json::object fresh_reset(Recovery& r, const MonitorOptions& o, std::string& dsn,
                         pg::PgConnection& admin) {
  r.set("kind", json::string("fresh_reset"));
  const auto made = create_step(r, admin, o.recover_dsn, fresh_database_name(unix_now()));
  if (!made) return r.failed("create", made.error().message);
  const std::string& name = made->name;
  const std::string& new_dsn = made->dsn;
  auto drop = [&] { drop_database(r, admin, name); };

  auto t = Clock::now();
  pg::PgConnection db(new_dsn, pg::PgConnection::Session::maintenance);
  auto migrated = db.ensure_connected() ? pg::migrate(db)
                                        : pg::Result<std::vector<int>>(pg::Errc::connection_lost);
  auto meta = migrated ? db.exec(
                             "INSERT INTO backend_meta (key, value) VALUES ('reset_at', $1), "
                             "('reset_from', $2) ON CONFLICT (key) DO UPDATE SET value = "
                             "excluded.value RETURNING (SELECT value FROM backend_meta WHERE "
                             "key = 'generation')",
                             {now_text(), pg::dsn_target(dsn)})
                       : pg::Result<pg::PgResult>(migrated.error());
  if (!meta || meta->rows() == 0) {
    const std::string& why = db.last_error();  // drop() runs on `admin`: `db` keeps it
    drop();
    return r.failed("migrate", "cannot migrate the new database " + name + ": " + why);
  }
  r.set("generation", json::string(meta->get(0, 0)));
  r.set("schema_version", pg::latest_schema_version());
  r.step("migrate", t);

  // The stations' tokens must keep working, or no station can refill the database. A registry
  // that cannot be read (the old server is gone, or the damage reaches it) is no reason to stop:
  // nothing is lost, the stations hold everything, and each can be added again.
  t = Clock::now();
  auto registry = read_station_registry(dsn, o.check_timeout_s);
  if (registry) {
    auto carried = db.exec(
        "WITH s AS (INSERT INTO stations (id, token_sha256, disabled, signing_key, "
        "signing_key_set_at, accept_unsigned_weighings, created_at) SELECT id, token_sha256, "
        "coalesce(disabled, false), signing_key, signing_key_set_at, "
        "coalesce(accept_unsigned_weighings, true), coalesce(created_at, now()) FROM "
        "json_populate_recordset(NULL::stations, $1::json) RETURNING 1) SELECT count(*) FROM s",
        {*registry});
    if (!carried) {
      registry = base::Error{std::make_error_code(std::errc::io_error), db.last_error()};
    } else {
      r.set("stations", pg::to_int<std::int64_t>(carried->get(0, 0)));
      r.set("stations_from", json::string(pg::dsn_target(dsn)));
    }
  }
  if (!registry) {
    r.set("stations", 0);
    r.set("stations_error",
          json::string("the station registry of " + pg::dsn_target(dsn) + " cannot be read (" +
                       registry.error().message +
                       "): add each station again (weighlink-backend station add) and give its "
                       "agent the new token; the agents keep every mutation until then"));
  }
  r.step("stations", t);

  t = Clock::now();
  if (auto problem = check_new_database(new_dsn, name, o.check_timeout_s)) {
    drop();
    return r.failed("verify", *problem);
  }
  r.step("verify", t);
  if (auto failed = repoint_and_restart(r, o, dsn, new_dsn, name,
                                        "fresh reset: no verified dump to restore")) {
    return *failed;
  }
  return r.succeeded("reset");
}

}  // namespace

std::optional<Located> locate_verified_latest(const std::vector<Location>& locations,
                                              LocateFailure& failure) {
  auto found = find_verified_latest(locations);
  if (!found) {
    failure.error = found.error().message;
    return std::nullopt;
  }
  if (!found->pointer) {
    // Nothing verified only when there is no pointer at all: one that exists but cannot be read
    // (a read error, a damaged file) may name a verified dump, and a reset would not be needed.
    const auto& entries = found->reachable.entries;
    failure.nothing_verified =
        std::none_of(entries.begin(), entries.end(),
                     [](const StoreEntry& entry) { return entry.name == kVerifiedLatest; });
    failure.location = found->reachable.store->location().display();
    failure.error = "no usable verified-latest in " + failure.location + " (" + found->why +
                    "): nothing verified to restore; run verify-backup";
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
  LocateFailure failure;
  auto located = locate_verified_latest(locations, failure);
  if (!located && !(failure.nothing_verified && o.fresh_reset)) {
    return r.failed("locate", failure.error);
  }
  pg::PgConnection admin(o.recover_dsn);
  if (!located) {
    // Nothing verified anywhere the location answers for: with --fresh-reset, a new database
    // the stations refill (they prune only what a verified dump holds).
    r.set("location", json::string(failure.location));
    r.set("why", json::string(failure.error));
    r.step("locate", t);
    return fresh_reset(r, o, dsn, admin);
  }
  r.set("kind", json::string("restore"));
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

  const auto made = create_step(r, admin, o.recover_dsn, recovered_database_name(unix_now()));
  if (!made) return r.failed("create", made.error().message);
  const std::string& name = made->name;
  const std::string& new_dsn = made->dsn;
  // A half-restored database is dropped: left behind, it would look like a recovery.
  auto drop = [&] { drop_database(r, admin, name); };

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

  t = Clock::now();
  if (auto problem = check_new_database(new_dsn, name, o.check_timeout_s)) {
    drop();
    return r.failed("verify", *problem);
  }
  r.step("verify", t);
  if (auto failed =
          repoint_and_restart(r, o, dsn, new_dsn, name, "restored from " + pointer.dump)) {
    return *failed;
  }
  return r.succeeded();
}

}  // namespace weighlink::recovery::monitor_detail
