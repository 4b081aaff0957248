// weighlink-backend backup against a real PostgreSQL with writes going on: the dump restores, and
// the manifest's row counts and high waters are exactly what the dump holds (taken in the dump's
// own snapshot), its size and sha256 are the file's; bad input fails with a clear message.
#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "weighlink/base/hash.hpp"
#include "weighlink/pg/pg.hpp"
#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"

using namespace weighlink::testing;  // NOLINT(google-build-using-namespace)

TEST_CASE("backup: the manifest holds exactly what the dump holds, while stations keep writing") {
  PgCluster pg;
  weighlink::testing::migrate(pg.dsn());
  for (int i = 0; i < 3; ++i)
    (void)weighlink::testing::add_station(pg.dsn(), "st" + std::to_string(i));
  (void)pg.query_scalar("UPDATE stations SET high_water_seq = 40 WHERE id = 'st1'");
  TempDir dir("wl-backup");

  // Writes all through the backup: stations added one after another.
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    PGconn* c = PQconnectdb(pg.dsn().c_str());
    for (int i = 0; !stop && i < 100000; ++i) {
      const std::string sql = "INSERT INTO stations (id, token_sha256, high_water_seq) VALUES ('w" +
                              std::to_string(i) + "', 'h" + std::to_string(i) + "', " +
                              std::to_string(i) + ")";
      PGresult* r = PQexec(c, sql.c_str());
      if (PQresultStatus(r) == PGRES_COMMAND_OK) ++written;
      PQclear(r);
    }
    PQfinish(c);
  });
  REQUIRE(weighlink::testing::eventually([&] { return written >= 50; }, std::chrono::seconds(30)));
  const auto backup = run(
      {bin("weighlink-backend"), "backup", "--dsn", pg.dsn(), "--dir", (dir / "backups").string()});
  // Writes after the backup too: the live database moves on past what the dump holds.
  const int after_backup = written;
  CHECK(weighlink::testing::eventually([&] { return written > after_backup; },
                                       std::chrono::seconds(30)));
  stop = true;
  writer.join();
  INFO(backup.output);
  REQUIRE(backup.exit_code == 0);

  const std::filesystem::path manifest_file = last_line(backup.output);
  REQUIRE(std::filesystem::exists(manifest_file));
  const auto manifest =
      boost::json::parse(weighlink::testing::read_file(manifest_file)).as_object();
  const auto dump = manifest_file.parent_path() / std::string(manifest.at("dump").as_string());
  CHECK(dump.filename().string().rfind("weighlink_", 0) == 0);
  CHECK(dump.extension() == ".dump");
  CHECK(manifest_file.filename().string() == dump.stem().string() + ".manifest.json");
  const auto bytes = weighlink::testing::read_file(dump);
  CHECK(bytes.rfind("PGDMP", 0) == 0);  // custom format
  CHECK(manifest.at("size_bytes").as_int64() == static_cast<std::int64_t>(bytes.size()));
  CHECK(manifest.at("sha256").as_string() == weighlink::base::sha256_hex(bytes));
  CHECK(manifest.at("server_version").as_string().starts_with("15."));
  CHECK(std::string(manifest.at("created_at").as_string()).size() == 20);  // ...T..Z
  CHECK_FALSE(std::filesystem::exists(dump.string() + ".partial"));

  // Restore it elsewhere: every count and high water is the manifest's, though the live database
  // has moved on.
  (void)pg.query_scalar("CREATE DATABASE restored");
  const auto restored = pg.dsn("restored");
  const auto r = run({"/usr/lib/postgresql/15/bin/pg_restore", "--no-owner", "--dbname=" + restored,
                      dump.string()});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto& counts = manifest.at("row_counts").as_object();
  for (const char* table : {"stations", "mutation_log", "weighings", "schema_migrations"}) {
    if (!counts.contains(table)) continue;
    CAPTURE(table);
    CHECK(pg.query_scalar(std::string("SELECT count(*) FROM ") + table, "restored") ==
          std::to_string(counts.at(table).as_int64()));
  }
  const auto stations_in_dump = counts.at("stations").as_int64();
  CHECK(stations_in_dump >= 3 + 50);
  CHECK(std::stoll(pg.query_scalar("SELECT count(*) FROM stations")) > stations_in_dump);
  const auto& high_water = manifest.at("station_high_water").as_object();
  CHECK(static_cast<std::int64_t>(high_water.size()) == stations_in_dump);
  CHECK(high_water.at("st1").as_int64() == 40);
  CHECK(pg.query_scalar(
            "SELECT string_agg(id || '=' || high_water_seq, ',' ORDER BY id) FROM stations "
            "WHERE id LIKE 'st%'",
            "restored") == "st0=0,st1=40,st2=0");
}

TEST_CASE("backup: an unreachable server, an unmigrated database and a bad directory are clear") {
  TempDir dir("wl-backup");
  const auto unreachable = run({bin("weighlink-backend"), "backup", "--dsn",
                                "postgresql://weighlink@127.0.0.1:1/none?connect_timeout=2",
                                "--dir", (dir / "b").string()});
  CHECK(unreachable.exit_code == 1);
  CHECK(unreachable.output.find("cannot reach PostgreSQL") != std::string::npos);

  PgCluster pg;  // not migrated
  const auto empty =
      run({bin("weighlink-backend"), "backup", "--dsn", pg.dsn(), "--dir", (dir / "b").string()});
  CHECK(empty.exit_code == 1);
  CHECK(empty.output.find("is the database migrated?") != std::string::npos);
  CHECK(std::filesystem::is_empty(dir / "b"));  // nothing half-written left behind

  std::ofstream(dir / "file") << "x";
  const auto bad_dir = run(
      {bin("weighlink-backend"), "backup", "--dsn", pg.dsn(), "--dir", (dir / "file").string()});
  CHECK(bad_dir.exit_code == 1);
  CHECK(bad_dir.output.find("cannot create") != std::string::npos);
}

TEST_CASE("pg: maintenance sessions have no statement timeout, serving sessions do") {
  PgCluster pg;
  using weighlink::pg::PgConnection;
  PgConnection serving(pg.dsn());
  PgConnection maintenance(pg.dsn(), PgConnection::Session::maintenance);
  REQUIRE(serving.ensure_connected().has_value());
  REQUIRE(maintenance.ensure_connected().has_value());
  CHECK(serving.exec("SHOW statement_timeout")->get(0, 0) == "30s");
  CHECK(maintenance.exec("SHOW statement_timeout")->get(0, 0) == "0");
  // Both keep the lock bound.
  CHECK(maintenance.exec("SHOW lock_timeout")->get(0, 0) == "20s");
}
