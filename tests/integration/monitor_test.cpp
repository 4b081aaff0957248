// weighlink-backend monitor against real PostgreSQL servers: healthy checks, an alert only without
// --recover, bad usage, and the opt-in recovery end to end: verified-latest restored into a fresh
// database on a second server, the backend's EnvironmentFile repointed, the restart command run,
// a backend on the new DSN ready, and a second failure inside the cooldown held.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "monitor_fixture.hpp"
#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/backup_data.hpp"
#include "weighlink/testing/http_client.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::testing::bin;
using weighlink::testing::events;
using weighlink::testing::eventually;
using weighlink::testing::monitor_argv;
using weighlink::testing::PgCluster;
using weighlink::testing::Process;
using weighlink::testing::read_file;
using weighlink::testing::read_lines;
using weighlink::testing::run;
using weighlink::testing::TempDir;
using weighlink::testing::text;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// A seeded primary with one dump, verified: DIR/verified-latest names it.
struct VerifiedPrimary {
  explicit VerifiedPrimary(int per_station) {
    weighlink::testing::seed_captures(pg, per_station);
    dump = weighlink::testing::backup(pg.dsn(), backups);
    REQUIRE(weighlink::testing::verify_backup(backups).exit_code == 0);
  }
  PgCluster pg;
  TempDir root{"wl-monitor"};
  fs::path backups = root / "backups";
  fs::path dump;
};

// The weighlink_recovered_* databases of a server, comma-separated.
std::string recovered_databases(const PgCluster& server) {
  return server.query_scalar(
      "SELECT coalesce(string_agg(datname, ','), '') FROM pg_database "
      "WHERE datname LIKE 'weighlink_recovered_%'",
      "postgres");
}

}  // namespace

TEST_CASE("monitor: a healthy database gives healthy checks and no action") {
  PgCluster pg;
  weighlink::testing::migrate(pg.dsn());
  TempDir dir("wl-monitor");
  const auto ops = dir / "ops.jsonl";
  const auto r = run(
      monitor_argv(pg.dsn(), {"--interval", "0.1", "--max-checks", "3", "--ops-log", ops.string()}),
      30s);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  const auto lines = read_lines(ops);
  const auto checks = events(lines, "check");
  REQUIRE(checks.size() == 3);
  const auto generation = pg.query_scalar("SELECT value FROM backend_meta WHERE key='generation'");
  for (const auto& c : checks) {
    CHECK(c.at("healthy").as_bool());
    CHECK(text(c, "state") == "healthy");
    CHECK(text(c, "action") == "none");
    CHECK(c.at("consecutive_failures").as_int64() == 0);
    CHECK(text(c, "target") == "127.0.0.1:" + std::to_string(pg.port()) + "/weighlink");
    CHECK(text(c, "generation") == generation);
    CHECK(text(c, "source") == "monitor");
  }
  CHECK(events(lines, "recovery").empty());
  REQUIRE(events(lines, "stop").size() == 1);
  CHECK(text(events(lines, "stop")[0], "why") == "--max-checks reached");
  // stdout carries the same lines.
  CHECK(r.output.find(R"("event":"check")") != std::string::npos);
}

TEST_CASE("monitor: without --recover the threshold raises an alert and changes nothing") {
  PgCluster pg;
  weighlink::testing::migrate(pg.dsn());
  const auto generation = pg.query_scalar("SELECT value FROM backend_meta WHERE key='generation'");
  pg.stop();
  TempDir dir("wl-monitor");
  const auto ops = dir / "ops.jsonl";
  const auto r = run(monitor_argv(pg.dsn(), {"--interval", "0.1", "--threshold", "3",
                                             "--max-checks", "4", "--ops-log", ops.string()}),
                     30s);
  INFO(r.output);
  CHECK(r.exit_code == 1);  // the last check failed
  const auto checks = events(read_lines(ops), "check");
  REQUIRE(checks.size() == 4);
  const std::vector<std::string> actions = {"none", "none", "alert", "alert"};
  for (std::size_t i = 0; i < checks.size(); ++i) {
    CAPTURE(i);
    CHECK_FALSE(checks[i].at("healthy").as_bool());
    CHECK(text(checks[i], "state") == "unreachable");
    CHECK(checks[i].at("consecutive_failures").as_int64() == static_cast<std::int64_t>(i + 1));
    CHECK(text(checks[i], "action") == actions[i]);
    // The password never; the target always.
    CHECK(text(checks[i], "target") == "127.0.0.1:" + std::to_string(pg.port()) + "/weighlink");
  }
  CHECK(text(checks[2], "reason").find("--recover not given") != std::string::npos);
  CHECK(text(checks[2], "detail").find("refused") != std::string::npos);
  CHECK(events(read_lines(ops), "recovery").empty());

  pg.start();  // the same database, untouched
  CHECK(pg.query_scalar("SELECT value FROM backend_meta WHERE key='generation'") == generation);
  CHECK(recovered_databases(pg).empty());
}

TEST_CASE("monitor: bad usage exits 2 with what to do") {
  TempDir dir("wl-monitor");
  const std::string dsn = "host=127.0.0.1 port=1 dbname=weighlink";
  const std::string env = (dir / "backend.env").string();
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--recover", "--recover-dsn", dsn, "--dsn-file", env}, "--recover needs --dir"},
      {{"--recover", "--dir", dir.path().string(), "--dsn-file", env}, "--recover-dsn"},
      {{"--recover", "--dir", dir.path().string(), "--recover-dsn", dsn}, "--dsn-file"},
      {{"--dir", dir.path().string()}, "only with --recover"},
      {{"--restart-command", "true"}, "only with --recover"},
      {{"--fresh-reset"}, "only with --recover"},
      {{"--recover", "--dir", dir.path().string(), "--recover-dsn", dsn, "--dsn-file",
        "/nonexistent/backend.env"},
       "must exist"},
      {{"--recover", "--dir", dir.path().string(), "--recover-dsn", "nonsense", "--dsn-file", env},
       "invalid --recover-dsn"},
      {{"--interval", "0"}, "--interval"},
      {{"--interval", "soon"}, "--interval"},
      {{"--threshold", "0"}, "--threshold"},
      {{"--cooldown", "-5"}, "--cooldown"},
      {{"--check-timeout", "0"}, "--check-timeout"},
      {{"--max-checks", "0"}, "--max-checks"},
  };
  for (const auto& c : cases) {
    const auto r = run(monitor_argv(dsn, c.args), 10s);
    CAPTURE(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(c.says) != std::string::npos);
  }
}

TEST_CASE("monitor: --recover restores verified-latest into a fresh database and repoints") {
  VerifiedPrimary verified(200);
  auto& primary = verified.pg;
  const auto& root = verified.root;
  const auto& backups = verified.backups;
  const auto& dump = verified.dump;
  const auto manifest =
      json::parse(read_file(fs::path(dump).replace_extension(".manifest.json"))).as_object();
  const auto old_generation =
      primary.query_scalar("SELECT value FROM backend_meta WHERE key='generation'");
  // Written after the dump: not in the recovered database (the agents re-send it).
  (void)primary.query_scalar("UPDATE stations SET high_water_seq = high_water_seq + 1");

  PgCluster standby;  // the recovery server
  const auto env_file = root / "backend.env";
  std::ofstream(env_file) << "# the backend's environment\nWEIGHLINK_LOG=info\nWEIGHLINK_DSN=\""
                          << primary.dsn() << "\"\nOTHER=1\n";
  fs::permissions(env_file, fs::perms::owner_read | fs::perms::owner_write);
  const auto marker = root / "restarted";
  const auto ops = root / "ops.jsonl";
  Process monitor(
      monitor_argv(primary.dsn(),
                   {"--interval", "0.2", "--threshold", "3", "--cooldown", "3600", "--recover",
                    "--dir", backups.string(), "--recover-dsn", standby.dsn("postgres"),
                    "--dsn-file", env_file.string(), "--restart-command",
                    "printf '%s' \"$WEIGHLINK_DSN\" > " + marker.string() + ".tmp && mv " +
                        marker.string() + ".tmp " + marker.string(),
                    "--ops-log", ops.string()}),
      root / "monitor.log");
  INFO(read_file(root / "monitor.log"));
  REQUIRE(eventually([&] { return events(read_lines(ops), "check").size() >= 2; }, 20s));
  for (const auto& c : events(read_lines(ops), "check")) CHECK(c.at("healthy").as_bool());

  // What a recovery would need was looked at when the monitor started.
  const auto preflight = events(read_lines(ops), "start").at(0).at("preflight").as_object();
  CHECK(text(preflight, "dump") == dump.filename().string());
  CHECK(text(preflight, "recover_server") == "reachable");

  primary.stop();  // the database is lost
  REQUIRE(eventually([&] { return !events(read_lines(ops), "recovery").empty(); }, 45s));
  auto lines = read_lines(ops);
  const auto recovery = events(lines, "recovery").at(0);
  CAPTURE(json::serialize(recovery));
  REQUIRE(text(recovery, "outcome") == "recovered");
  // Decided at the third consecutive failure, not before.
  std::vector<std::string> failed_actions;
  for (const auto& c : events(lines, "check")) {
    if (!c.at("healthy").as_bool()) failed_actions.push_back(text(c, "action"));
  }
  CHECK(failed_actions == std::vector<std::string>{"none", "none", "recover"});

  // A fresh database on the recovery server with exactly the verified dump's rows.
  const auto database = text(recovery, "database");
  CHECK(database.starts_with("weighlink_recovered_"));
  CHECK(text(recovery, "dump") == dump.filename().string());
  CHECK(recovered_databases(standby) == database);
  for (const auto& [table, count] : manifest.at("row_counts").as_object()) {
    const std::string table_name = table;  // doctest's CAPTURE cannot take a structured binding
    CAPTURE(table_name);
    // backend_meta: the restore adds restored_from and restored_at.
    const auto expected = count.as_int64() + (table == "backend_meta" ? 2 : 0);
    CHECK(standby.query_scalar("SELECT count(*) FROM " + std::string(table), database) ==
          std::to_string(expected));
  }
  CHECK(standby.query_scalar("SELECT string_agg(high_water_seq::text, ',') FROM stations",
                             database) == "200,200,200");
  // A new generation, recorded with where it came from.
  const auto generation =
      standby.query_scalar("SELECT value FROM backend_meta WHERE key='generation'", database);
  CHECK(generation == text(recovery, "generation"));
  CHECK(generation != old_generation);
  CHECK(text(recovery, "dump_generation") == old_generation);
  CHECK(standby.query_scalar("SELECT value FROM backend_meta WHERE key='restored_from'", database)
            .starts_with(dump.filename().string()));

  // The EnvironmentFile names it (as sh reads it; systemd unquotes the same way), keeps its
  // other lines and its mode; the restart command ran with it.
  const auto sourced =
      run({"/bin/sh", "-c", ". " + env_file.string() + " && printf '%s' \"$WEIGHLINK_DSN\""});
  const auto new_dsn = sourced.output;
  CHECK(new_dsn.find("port='" + std::to_string(standby.port()) + "'") != std::string::npos);
  CHECK(new_dsn.find("dbname='" + database + "'") != std::string::npos);
  const auto env = read_file(env_file);
  CHECK(env.starts_with("# the backend's environment\nWEIGHLINK_LOG=info\n"));
  CHECK(env.find("# repointed by weighlink-backend monitor") != std::string::npos);
  CHECK(env.ends_with("\nOTHER=1\n"));
  CHECK(env.find("dbname=weighlink\"") == std::string::npos);  // the old line is gone
  CHECK((fs::status(env_file).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  REQUIRE(eventually([&] { return fs::exists(marker); }, 5s));
  CHECK(read_file(marker) == new_dsn);
  CHECK(recovery.at("restart").as_object().at("exit_status").as_int64() == 0);

  // The monitor checks the new database from then on: healthy.
  const auto new_target = "127.0.0.1:" + std::to_string(standby.port()) + "/" + database;
  REQUIRE(eventually(
      [&] {
        for (const auto& c : events(read_lines(ops), "check")) {
          if (text(c, "target") == new_target && c.at("healthy").as_bool()) return true;
        }
        return false;
      },
      10s));

  // A backend started on the repointed DSN is ready.
  {
    weighlink::testing::BackendServer backend(new_dsn, root.path());
    CHECK(eventually(
        [&] {
          return weighlink::testing::http_request(backend.http(), "GET", "/readyz").status == 200;
        },
        10s));
  }

  // The new database fails too, inside the cooldown: hold, never a second recovery.
  (void)standby.query_scalar("ALTER TABLE backend_meta RENAME TO backend_meta_lost", database);
  REQUIRE(eventually(
      [&] {
        for (const auto& c : events(read_lines(ops), "check")) {
          if (text(c, "action") == "hold") return true;
        }
        return false;
      },
      10s));
  lines = read_lines(ops);
  CHECK(events(lines, "recovery").size() == 1);
  for (const auto& c : events(lines, "check")) {
    if (text(c, "action") != "hold") continue;
    CHECK(text(c, "state") == "missing");
    CHECK(text(c, "reason").find("cooldown") != std::string::npos);
    CHECK(c.at("consecutive_failures").as_int64() >= 3);
  }
  CHECK(recovered_databases(standby) == database);

  // SIGTERM ends it between checks, exit 0.
  const int status = monitor.terminate(5s);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(text(events(read_lines(ops), "stop").at(0), "why") == "SIGTERM or SIGINT");
}

TEST_CASE(
    "monitor: a recovery that fails is logged with why, changes nothing and still cools down") {
  VerifiedPrimary verified(50);
  auto& primary = verified.pg;
  const auto& root = verified.root;
  const auto& backups = verified.backups;
  const auto& dump = verified.dump;
  std::ofstream(dump, std::ios::app) << "altered after it was verified";
  primary.stop();

  PgCluster standby;
  const auto env_file = root / "backend.env";
  const std::string env = "WEIGHLINK_DSN=\"" + primary.dsn() + "\"\n";
  std::ofstream(env_file) << env;
  const auto marker = root / "restarted";
  const auto ops = root / "ops.jsonl";
  const auto r =
      run(monitor_argv(primary.dsn(),
                       {"--interval", "0.1", "--threshold", "2", "--max-checks", "4", "--recover",
                        "--dir", backups.string(), "--recover-dsn", standby.dsn("postgres"),
                        "--dsn-file", env_file.string(), "--restart-command",
                        "touch " + marker.string(), "--ops-log", ops.string()}),
          60s);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  const auto lines = read_lines(ops);
  std::vector<std::string> actions;
  for (const auto& c : events(lines, "check")) actions.push_back(text(c, "action"));
  // The failed recovery started the cooldown: failures count again from 0, then hold.
  CHECK(actions == std::vector<std::string>{"none", "recover", "none", "hold"});
  const auto recoveries = events(lines, "recovery");
  REQUIRE(recoveries.size() == 1);
  const auto& recovery = recoveries[0];
  CHECK(text(recovery, "outcome") == "failed");
  CHECK(text(recovery, "failed_step") == "restore");
  CHECK(text(recovery, "error").find("records") != std::string::npos);  // the sha256 mismatch
  CHECK(recovery.at("dropped").as_bool());
  // Nothing changed: no database left behind, the file as it was, no restart.
  CHECK(recovered_databases(standby).empty());
  CHECK(read_file(env_file) == env);
  CHECK_FALSE(fs::exists(marker));
}
