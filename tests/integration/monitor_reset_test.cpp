// weighlink-backend monitor against a real PostgreSQL 15 with data checksums: a page overwritten
// on disk is seen in the server log and in pg_stat_database.checksum_failures, each an alert with
// the line it matched, and fails the check; a backend killed with SIGKILL only alerts. Then the
// fresh reset end to end: a real backend and a real agent with acknowledged mutations, no
// verified dump at all, the database damaged; the monitor creates a new database (migrations, a
// new generation, the station registry carried over), repoints the backend, and every mutation
// the station acknowledged arrives again, exactly once.
#include <doctest/doctest.h>
#include <sys/types.h>

#include <boost/json.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "monitor_fixture.hpp"
#include "station_fixture.hpp"
#include "weighlink/testing/backup_data.hpp"

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace weighlink::testing;  // NOLINT(google-build-using-namespace)

namespace {

// Overwrites bytes inside the first page of `table`'s file while the server is stopped (a fast
// stop: every page is on disk first), as a failing disk or a stray write would; with data
// checksums on, the next read of that page fails its checksum.
void damage_first_page(PgCluster& pg, const std::string& table) {
  const auto file =
      pg.dir() / "data" / pg.query_scalar("SELECT pg_relation_filepath('" + table + "')");
  pg.stop();
  {
    std::fstream out(file, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(out.is_open());
    out.seekp(200);
    out.write("damaged on disk", 15);
    REQUIRE(out.good());
  }
  pg.start();
}

// The monitor's alert lines about `indicator`.
std::vector<json::object> alerts(const fs::path& ops, std::string_view indicator) {
  std::vector<json::object> out;
  for (const auto& a : events(read_lines(ops), "alert")) {
    if (text(a, "indicator") == indicator) out.push_back(a);
  }
  return out;
}

bool lists(const json::object& check, std::string_view indicator) {
  if (!check.contains("indicators")) return false;
  for (const auto& name : check.at("indicators").as_array()) {
    if (name.as_string() == indicator) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("monitor: a damaged page is an alert with its log line and fails the check") {
  PgCluster pg(PgClusterOptions{.data_checksums = true});
  seed_captures(pg, 50);
  TempDir dir("wl-monitor-corrupt");
  const auto ops = dir / "ops.jsonl";
  const auto server_log = pg.dir() / "server.log";
  Process monitor(monitor_argv(pg.dsn(), {"--interval", "0.2", "--threshold", "3", "--pg-log",
                                          server_log.string(), "--ops-log", ops.string()}),
                  dir / "monitor.log");
  INFO(read_file(dir / "monitor.log"));
  REQUIRE(eventually([&] { return !events(read_lines(ops), "check").empty(); }, 20s));
  const auto first = events(read_lines(ops), "check").at(0);
  CHECK(first.at("healthy").as_bool());
  CHECK(first.at("checksum_failures").as_int64() == 0);  // data checksums on, nothing failed
  CHECK(text(events(read_lines(ops), "start").at(0), "pg_log") == server_log.string());

  damage_first_page(pg, "weighings");
  CHECK_THROWS((void)pg.query_scalar("SELECT count(*) FROM weighings"));

  // The two lines PostgreSQL logs for it, each an alert with the line, and the statistics.
  REQUIRE(eventually(
      [&] {
        return !alerts(ops, "checksum_failure").empty() && !alerts(ops, "invalid_page").empty() &&
               !alerts(ops, "checksum_failures").empty();
      },
      20s));
  const auto invalid = alerts(ops, "invalid_page").at(0);
  CAPTURE(json::serialize(invalid));
  CHECK(text(invalid, "line").find("ERROR:  invalid page in block 0 of relation base/") !=
        std::string::npos);
  CHECK(text(invalid, "kind") == "damage");
  CHECK(invalid.at("counts_as_failure").as_bool());
  CHECK(text(invalid, "found_in") == server_log.string());
  CHECK(text(invalid, "source") == "monitor");  // the ops log's own field, as on every line
  CHECK(text(alerts(ops, "checksum_failure").at(0), "line")
            .find("WARNING:  page verification failed, calculated checksum") != std::string::npos);
  const auto statistics = alerts(ops, "checksum_failures").at(0);
  CHECK(text(statistics, "found_in") == "pg_stat_database");
  CHECK(text(statistics, "line").find("rose from 0 to 1") != std::string::npos);

  // The check that came with them failed as `corrupt` and names them.
  std::vector<json::object> corrupt;
  for (const auto& c : events(read_lines(ops), "check")) {
    if (text(c, "state") == "corrupt") corrupt.push_back(c);
  }
  REQUIRE_FALSE(corrupt.empty());
  CHECK_FALSE(corrupt[0].at("healthy").as_bool());
  CHECK(corrupt[0].at("consecutive_failures").as_int64() >= 1);
  CHECK(text(corrupt[0], "detail").find("damage indicator") != std::string::npos);
  bool named = false;
  for (const auto& c : corrupt) named = named || lists(c, "invalid_page");
  CHECK(named);

  // A backend killed by SIGKILL: the server reinitialises and recovers by itself; alerts that do
  // not count as failures.
  Process sleeper({"/usr/lib/postgresql/15/bin/psql", pg.dsn(), "-c", "SELECT pg_sleep(600)"},
                  dir / "psql.log");
  std::string pid;
  REQUIRE(eventually(
      [&] {
        pid = pg.query_scalar(
            "SELECT coalesce(max(pid)::text, '') FROM pg_stat_activity "
            "WHERE query = 'SELECT pg_sleep(600)'");
        return !pid.empty();
      },
      10s));
  REQUIRE(::kill(static_cast<pid_t>(std::stoi(pid)), SIGKILL) == 0);
  REQUIRE(eventually(
      [&] {
        return !alerts(ops, "backend_crash").empty() &&
               !alerts(ops, "recovery_interrupted").empty();
      },
      30s));
  const auto crash = alerts(ops, "backend_crash").at(0);
  CHECK(text(crash, "line").find("server process (PID " + pid + ") was terminated by signal 9") !=
        std::string::npos);
  CHECK(text(crash, "kind") == "crash");
  CHECK_FALSE(crash.at("counts_as_failure").as_bool());
  CHECK_FALSE(alerts(ops, "recovery_interrupted").at(0).at("counts_as_failure").as_bool());
  // Once the server is back, the checks are healthy again though the crash was logged.
  const auto seen = events(read_lines(ops), "check").size();
  REQUIRE(eventually(
      [&] {
        const auto checks = events(read_lines(ops), "check");
        return checks.size() > seen && checks.back().at("healthy").as_bool();
      },
      30s));
  CHECK(monitor.terminate() == 0);
}

TEST_CASE(
    "monitor: --fresh-reset without a verified dump, and the station refills it exactly once") {
  PgCluster pg(PgClusterOptions{.data_checksums = true});
  migrate(pg.dsn());
  TempDir dir("wl-monitor-reset");
  const auto grpc = free_loopback_address();  // the restarted backend is found at the same place
  auto backend =
      std::make_unique<BackendServer>(pg.dsn(), dir.path(), std::vector<std::string>{}, grpc);
  Station station("st-reset", pg, grpc);
  station.post("before", 60);
  REQUIRE(eventually([&] { return station.drained(); }, 20s));
  const auto old_generation =
      pg.query_scalar("SELECT value FROM backend_meta WHERE key = 'generation'");
  CHECK(in_pg(pg, "count(*)", station.id) == "60");
  const auto token_sha256 =
      pg.query_scalar("SELECT token_sha256 FROM stations WHERE id = 'st-reset'");

  // No backup was ever verified: the folder exists and holds no verified-latest.
  const auto backups = dir / "backups";
  fs::create_directories(backups);
  const auto env_file = dir / "backend.env";
  std::ofstream(env_file) << "WEIGHLINK_DSN=\"" << pg.dsn() << "\"\n";
  const auto marker = dir / "restarted";
  const auto ops = dir / "ops.jsonl";

  // The database is damaged while the backend is down; the station goes on capturing.
  CHECK(backend->terminate() == 0);
  damage_first_page(pg, "mutation_log");
  station.post("down", 15);
  Process monitor(
      monitor_argv(pg.dsn(),
                   {"--interval", "0.2", "--threshold", "1", "--recover", "--fresh-reset", "--dir",
                    backups.string(), "--recover-dsn", pg.dsn("postgres"), "--dsn-file",
                    env_file.string(), "--restart-command", "touch " + marker.string(), "--pg-log",
                    (pg.dir() / "server.log").string(), "--ops-log", ops.string()}),
      dir / "monitor.log");
  INFO(read_file(dir / "monitor.log"));
  REQUIRE(eventually([&] { return !events(read_lines(ops), "check").empty(); }, 20s));
  const auto start = events(read_lines(ops), "start").at(0);
  CHECK(text(start.at("preflight").as_object(), "recovery_would_be").find("fresh reset") !=
        std::string::npos);
  CHECK(events(read_lines(ops), "check").at(0).at("healthy").as_bool());  // not seen yet

  // A reader meets the damage; the monitor sees it in the log and resets.
  CHECK_THROWS((void)pg.query_scalar("SELECT count(*) FROM mutation_log"));
  REQUIRE(eventually([&] { return !events(read_lines(ops), "recovery").empty(); }, 45s));
  const auto recovery = events(read_lines(ops), "recovery").at(0);
  CAPTURE(json::serialize(recovery));
  REQUIRE(text(recovery, "outcome") == "reset");
  CHECK(text(recovery, "kind") == "fresh_reset");
  CHECK(text(recovery, "why").find("no usable verified-latest") != std::string::npos);
  CHECK(recovery.at("stations").as_int64() == 1);
  const auto database = text(recovery, "database");
  CHECK(database.starts_with("weighlink_reset_"));
  bool decided_on_damage = false;
  for (const auto& c : events(read_lines(ops), "check")) {
    decided_on_damage =
        decided_on_damage || (text(c, "action") == "recover" && text(c, "state") == "corrupt");
  }
  CHECK(decided_on_damage);

  // A new database: migrated, a new generation, the station's token carried, nothing else.
  const auto generation =
      pg.query_scalar("SELECT value FROM backend_meta WHERE key = 'generation'", database);
  CHECK(generation == text(recovery, "generation"));
  CHECK(generation != old_generation);
  CHECK(pg.query_scalar("SELECT token_sha256 || '/' || high_water_seq FROM stations", database) ==
        token_sha256 + "/0");
  CHECK(pg.query_scalar("SELECT count(*) FROM mutation_log", database) == "0");
  CHECK(pg.query_scalar("SELECT value FROM backend_meta WHERE key = 'reset_from'", database) ==
        "127.0.0.1:" + std::to_string(pg.port()) + "/weighlink");
  REQUIRE(eventually([&] { return fs::exists(marker); }, 5s));
  const auto new_dsn =
      run({"/bin/sh", "-c", ". " + env_file.string() + " && printf '%s' \"$WEIGHLINK_DSN\""})
          .output;
  CHECK(new_dsn.find("dbname='" + database + "'") != std::string::npos);

  // The backend restarted on it: the station sees the new generation and the high water at 0,
  // and sends everything again, including what it took while the backend was down.
  backend = std::make_unique<BackendServer>(new_dsn, dir.path(), std::vector<std::string>{}, grpc);
  station.post("after", 10);
  const bool refilled = eventually(
      [&] { return station.drained() && station.generation() == generation; }, 30s, 100ms);
  REQUIRE_MESSAGE(refilled, "the station did not refill the new database: "
                                << json::serialize(agent_status(station.agent->http))
                                << "\nagent log:\n"
                                << station.log());
  CHECK(station.keys.size() == 85);
  check_exactly_once(pg, station, database);
  CHECK(station.log().find("backend generation changed from " + old_generation + " to " +
                           generation) != std::string::npos);
  CHECK(monitor.terminate() == 0);
  CHECK(station.agent->process->terminate() == 0);
}

TEST_CASE(
    "monitor: --fresh-reset only when nothing verified exists; without the old registry it "
    "says what to do") {
  PgCluster primary;
  migrate(primary.dsn());
  primary.stop();  // the database is lost, and its station registry with it
  PgCluster standby;
  TempDir dir("wl-monitor-reset");
  const auto env_file = dir / "backend.env";
  const std::string env = "WEIGHLINK_DSN=\"" + primary.dsn() + "\"\n";
  const auto reset_databases = [&] {
    return standby.query_scalar(
        "SELECT coalesce(string_agg(datname, ','), '') FROM pg_database "
        "WHERE datname LIKE 'weighlink_reset_%'",
        "postgres");
  };
  const auto recovery_of = [&](const fs::path& backups, const std::string& name) {
    std::ofstream(env_file) << env;
    const auto ops = dir / (name + ".jsonl");
    const auto r = run(
        monitor_argv(primary.dsn(), {"--interval", "0.1", "--threshold", "1", "--max-checks", "1",
                                     "--recover", "--fresh-reset", "--dir", backups.string(),
                                     "--recover-dsn", standby.dsn("postgres"), "--dsn-file",
                                     env_file.string(), "--ops-log", ops.string()}),
        60s);
    INFO(r.output);
    const auto recoveries = events(read_lines(ops), "recovery");
    REQUIRE(recoveries.size() == 1);
    return recoveries[0];
  };

  // A verified-latest that cannot be read may name a verified dump: no reset.
  const auto damaged = dir / "damaged";
  fs::create_directories(damaged);
  std::ofstream(damaged / "verified-latest") << "not a pointer";
  auto recovery = recovery_of(damaged, "damaged");
  CHECK(text(recovery, "outcome") == "failed");
  CHECK(text(recovery, "failed_step") == "locate");
  CHECK(reset_databases().empty());
  CHECK(read_file(env_file) == env);

  // No location answers: no reset either.
  recovery = recovery_of(dir / "missing", "missing");
  CHECK(text(recovery, "outcome") == "failed");
  CHECK(text(recovery, "failed_step") == "locate");
  CHECK(reset_databases().empty());

  // Nothing verified anywhere: the reset, without stations (the old server is gone), says so.
  const auto empty = dir / "empty";
  fs::create_directories(empty);
  recovery = recovery_of(empty, "empty");
  CAPTURE(json::serialize(recovery));
  CHECK(text(recovery, "outcome") == "reset");
  CHECK(recovery.at("stations").as_int64() == 0);
  CHECK(text(recovery, "stations_error").find("station add") != std::string::npos);
  const auto database = text(recovery, "database");
  CHECK(reset_databases() == database);
  CHECK(standby.query_scalar("SELECT count(*) FROM stations", database) == "0");
  CHECK(read_file(env_file).find("dbname='" + database + "'") != std::string::npos);
}
