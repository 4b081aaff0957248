// weighlink-backend restore against real PostgreSQL: a backup's dump comes back row for row with a
// new generation; a target that is not empty, or that a backend still serves, is refused unless
// --force (not the latter), which replaces what is in that database and nothing else; a dump cut
// short, altered after its manifest, not a custom-format dump or not of a weighlink database is
// refused before the target is touched; a failing phase is named with the object that failed; a
// dump of an older schema comes up migrated.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "schema_v1.hpp"
#include "weighlink/pg/migrations.hpp"
#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"

namespace fs = std::filesystem;
using namespace weighlink::testing;  // NOLINT(google-build-using-namespace)

namespace {

// The tables replay writes, compared row for row.
const std::vector<std::string> kTables = {"stations", "mutation_log", "weighings", "weighing_decks",
                                          "schema_migrations"};

// Three stations with `per_station` applied weighings each (two decks apiece), as replay leaves
// them: log row, typed row, deck rows, high water.
void fill(const PgCluster& pg, int per_station) {
  for (const char* id : {"st-a", "st-b", "st-c"}) {
    (void)weighlink::testing::add_station(pg.dsn(), id);
  }
  const auto n = std::to_string(per_station);
  (void)pg.query_scalar(
      "INSERT INTO mutation_log (station_id, idempotency_key, seq, kind, payload, payload_sha256, "
      "outcome, created_at, prev_hash, record_hash) "
      "SELECT s.id, s.id || '-' || g, g, 'weighing.captured', "
      "jsonb_build_object('scale', 'main', 'weight', (g % 60000)::text, 'unit', 'kg', "
      "'operator', 'op' || (g % 7)), md5(s.id || g), 'applied', "
      "timestamptz '2024-05-01' + g * interval '7 seconds', md5(s.id || (g - 1)), md5(s.id || g) "
      "FROM stations s, generate_series(1, " +
      n + ") g");
  (void)pg.query_scalar(
      "INSERT INTO weighings (station_id, idempotency_key, scale, weight, unit, mode, reading_seq, "
      "raw, captured_at, weighing_type, gvw) "
      "SELECT station_id, idempotency_key, 'main', (seq % 60000) + 0.5, 'kg', 'gross', seq * 3, "
      "decode(md5(idempotency_key), 'hex'), created_at, 'multideck', (seq % 60000) + 0.5 "
      "FROM mutation_log");
  (void)pg.query_scalar(
      "INSERT INTO weighing_decks (station_id, idempotency_key, deck, weight, stable) "
      "SELECT station_id, idempotency_key, d, (weight / 2)::numeric(12, 1), true "
      "FROM weighings, generate_series(1, 2) d");
  (void)pg.query_scalar("UPDATE stations SET high_water_seq = " + n);
}

// Row count and a digest of every row of `table` in `database`.
std::string digest(const PgCluster& pg, const std::string& database, const std::string& table) {
  const std::string sql =
      "SELECT count(*) || ' ' || "
      "coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '-') FROM ";
  return pg.query_scalar(sql + table + " t", database);
}

std::string generation(const PgCluster& pg, const std::string& database) {
  return pg.query_scalar("SELECT value FROM backend_meta WHERE key = 'generation'", database);
}

RunResult restore(const fs::path& dump, const std::string& dsn,
                  std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {
      bin("weighlink-backend"), "restore", "--file", dump.string(), "--dsn", dsn};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run(argv, std::chrono::seconds(120));
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string relations(const PgCluster& pg, const std::string& database) {
  return pg.query_scalar(
      "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = 'public'",
      database);
}

// A throwaway cluster with a migrated weighlink database and an empty database `target`.
struct RestoreFixture {
  RestoreFixture() {
    weighlink::testing::migrate(pg.dsn());
    (void)pg.query_scalar("CREATE DATABASE target");
  }
  // Fills the weighlink database (`per_station` weighings per station), runs `sql` on it, backs
  // it up; the dump.
  fs::path back_up(int per_station, const std::string& sql = {}) {
    fill(pg, per_station);
    if (!sql.empty()) (void)pg.query_scalar(sql);
    return weighlink::testing::backup(pg.dsn(), dir / "backups");
  }

  PgCluster pg;
  TempDir dir{"wl-restore"};
};

}  // namespace

TEST_CASE_FIXTURE(
    RestoreFixture,
    "restore: an empty database gets the dump back row for row, with a new generation") {
  const auto dump = back_up(20000);

  const auto r = restore(dump, pg.dsn("target"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  MESSAGE("restore of " << fs::file_size(dump) << " bytes:\n" << r.output);
  for (const char* phase : {"check: ", "pre-data: ", "data: ", "post-data: ", "analyze: ",
                            "migrate: ", "matches its manifest", " MB/s"}) {
    CHECK(has(r.output, phase));
  }
  for (const auto& table : kTables) {
    CAPTURE(table);
    CHECK(digest(pg, "target", table) == digest(pg, "weighlink", table));
  }
  CHECK(pg.query_scalar("SELECT count(*) FROM weighing_decks", "target") == "120000");
  // post-data ran: the same constraints and indexes; analyze ran: the planner knows the sizes.
  const std::string catalog =
      "SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint c JOIN pg_namespace n "
      "ON n.oid = c.connamespace WHERE n.nspname = 'public'";
  CHECK(pg.query_scalar(catalog, "target") == pg.query_scalar(catalog));
  CHECK(pg.query_scalar("SELECT reltuples::bigint > 50000 FROM pg_class WHERE relname = "
                        "'mutation_log'",
                        "target") == "t");

  // A new generation, printed last, and where the database came from.
  const auto restored = generation(pg, "target");
  CHECK(last_line(r.output) == restored);
  CHECK(restored.size() == 36);
  CHECK(restored != generation(pg, "weighlink"));
  CHECK(has(pg.query_scalar("SELECT value FROM backend_meta WHERE key = 'restored_from'", "target"),
            dump.filename().string()));
}

TEST_CASE_FIXTURE(
    RestoreFixture,
    "restore: a database that is not empty is refused, and replaced only with --force") {
  const auto dump = back_up(100);

  // The target holds another weighlink database; a bystander database holds a table too.
  (void)pg.query_scalar("CREATE DATABASE bystander");
  weighlink::testing::migrate(pg.dsn("target"));
  (void)weighlink::testing::add_station(pg.dsn("target"), "other");
  (void)pg.query_scalar("CREATE SCHEMA extra; CREATE TABLE extra.notes (t text)", "target");
  (void)pg.query_scalar("CREATE TABLE keep (t text); INSERT INTO keep VALUES ('x')", "bystander");
  const auto before = digest(pg, "target", "stations");

  const auto refused = restore(dump, pg.dsn("target"));
  CHECK(refused.exit_code == 1);
  CHECK(has(refused.output, "is not empty"));
  CHECK(has(refused.output, "schema public holds"));
  CHECK(has(refused.output, "schema extra holds 1 relations (notes)"));
  CHECK(has(refused.output, "--force"));
  CHECK(digest(pg, "target", "stations") == before);  // untouched
  CHECK(pg.query_scalar("SELECT count(*) FROM extra.notes", "target") == "0");

  // A weighlink-backend still serving the target: refused even with --force.
  {
    weighlink::testing::BackendServer serving(pg.dsn("target"), dir.path());
    REQUIRE(weighlink::testing::eventually(
        [&] {
          return pg.query_scalar(
                     "SELECT count(*) FROM pg_stat_activity WHERE datname = 'target' "
                     "AND application_name = 'weighlink-backend'") != "0";
        },
        std::chrono::seconds(10)));
    const auto busy = restore(dump, pg.dsn("target"), {"--force"});
    CHECK(busy.exit_code == 1);
    CHECK(has(busy.output, "another weighlink-backend is connected"));
    CHECK(digest(pg, "target", "stations") == before);
  }

  const auto forced = restore(dump, pg.dsn("target"), {"--force"});
  INFO(forced.output);
  REQUIRE(forced.exit_code == 0);
  CHECK(has(forced.output,
            "emptied the target (--force): dropped schema extra (1 relations), "
            "public ("));
  for (const auto& table : kTables) {
    CAPTURE(table);
    CHECK(digest(pg, "target", table) == digest(pg, "weighlink", table));
  }
  CHECK(pg.query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'extra'", "target") ==
        "0");
  CHECK(pg.query_scalar("SELECT count(*) FROM stations WHERE id = 'other'", "target") == "0");
  CHECK(pg.query_scalar("SELECT t FROM keep", "bystander") == "x");  // another database: untouched
  // public is back as PostgreSQL 15 makes it.
  CHECK(pg.query_scalar("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = "
                        "'public'",
                        "target") == "pg_database_owner");
}

TEST_CASE_FIXTURE(
    RestoreFixture,
    "restore: a dump cut short or altered after its manifest leaves the target untouched") {
  const auto dump = back_up(2000);
  weighlink::testing::migrate(pg.dsn("target"));
  const auto before = relations(pg, "target");

  std::string bytes = weighlink::testing::read_file(dump);
  REQUIRE(bytes.size() > 10000);

  // Cut short (no manifest beside it): the whole archive is read before anything is dropped.
  const auto cut = dir / "cut.dump";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() * 2 / 3);
  const auto truncated = restore(cut, pg.dsn("target"), {"--force"});
  CHECK(truncated.exit_code == 1);
  CHECK(has(truncated.output, "is cut short or damaged"));
  CHECK(has(truncated.output, "target was not touched"));
  CHECK(relations(pg, "target") == before);

  // Altered after the backup, size unchanged: its manifest's sha256 no longer matches.
  fs::create_directories(dir / "copy");
  const auto altered = dir / "copy" / dump.filename();
  fs::copy_file(fs::path(dump).replace_extension(".manifest.json"),
                fs::path(altered).replace_extension(".manifest.json"));
  bytes[bytes.size() / 2] ^= 0x55;
  std::ofstream(altered, std::ios::binary) << bytes;
  const auto mismatch = restore(altered, pg.dsn("target"), {"--force"});
  CHECK(mismatch.exit_code == 1);
  CHECK(has(mismatch.output, "but its manifest"));
  CHECK(has(mismatch.output, "records"));
  CHECK(relations(pg, "target") == before);

  // A custom-format dump of some other database: a usage error.
  (void)pg.query_scalar("CREATE DATABASE other");
  (void)pg.query_scalar("CREATE TABLE notes (t text)", "other");
  const auto foreign = dir / "other.dump";
  const auto dumped = run({"/usr/lib/postgresql/15/bin/pg_dump", "--format=custom",
                           "--file=" + foreign.string(), "--dbname=" + pg.dsn("other")});
  REQUIRE_MESSAGE(dumped.exit_code == 0, dumped.output);
  const auto not_ours = restore(foreign, pg.dsn("target"), {"--force"});
  CHECK(not_ours.exit_code == 2);
  CHECK(has(not_ours.output, "not of a weighlink database"));
  CHECK(relations(pg, "target") == before);

  // Not a custom-format dump at all: a usage error.
  const auto manifest =
      restore(fs::path(dump).replace_extension(".manifest.json"), pg.dsn("target"), {"--force"});
  CHECK(manifest.exit_code == 2);
  CHECK(has(manifest.output, "is not a pg_dump custom-format dump: it is a JSON document"));
  std::ofstream(dir / "page.dump") << "<!DOCTYPE html><html>502 Bad Gateway</html>";
  const auto html = restore(dir / "page.dump", pg.dsn("target"), {"--force"});
  CHECK(html.exit_code == 2);
  CHECK(has(html.output, "it is an HTML page"));
  CHECK(restore(dir / "missing.dump", pg.dsn("target")).exit_code == 2);
  CHECK(restore(dump, pg.dsn("target"), {"--jobs", "0"}).exit_code == 2);
  CHECK(relations(pg, "target") == before);
}

TEST_CASE_FIXTURE(RestoreFixture,
                  "restore: a phase that fails is named with the object that failed") {
  // A CHECK constraint marked valid over rows that break it (catalog drift): pg_dump writes it
  // into CREATE TABLE (pre-data), and the data phase's COPY refuses those rows.
  const auto dump =
      back_up(10,
              "ALTER TABLE weighings ADD CONSTRAINT weight_below_5 CHECK (weight < 5) NOT VALID; "
              "UPDATE pg_constraint SET convalidated = true WHERE conname = 'weight_below_5'");

  const auto r = restore(dump, pg.dsn("target"));
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(has(r.output, "pre-data: "));
  CHECK(has(r.output, "phase data failed"));
  CHECK(has(r.output, "COPY failed for table \"weighings\""));
  CHECK(has(r.output, "violates check constraint \"weight_below_5\""));
  CHECK(has(r.output, "run restore again with --force"));
}

TEST_CASE("restore: a dump of an older schema comes up migrated to the latest version") {
  PgCluster pg;
  weighlink::testing::create_schema_v1(pg);
  TempDir dir("wl-restore");
  const auto dump = weighlink::testing::backup(pg.dsn(), dir / "backups");
  (void)pg.query_scalar("CREATE DATABASE target");

  const auto r = restore(dump, pg.dsn("target"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto latest = std::to_string(weighlink::pg::latest_schema_version());
  CHECK(has(r.output, "(schema 1 -> " + latest + ")"));
  CHECK(pg.query_scalar("SELECT max(version) FROM schema_migrations", "target") == latest);
  CHECK(pg.query_scalar("SELECT string_agg(deck || ':' || weight::text, ' ' ORDER BY deck) FROM "
                        "weighing_decks",
                        "target") == "1:12000 2:18100");
  CHECK(pg.query_scalar("SELECT high_water_seq FROM stations", "target") == "1");
  CHECK(last_line(r.output) == generation(pg, "target"));
  CHECK(generation(pg, "target") != generation(pg, "weighlink"));
  // The restored database serves: a backend starts on it and is ready.
  weighlink::testing::BackendServer serving(pg.dsn("target"), dir.path());
  CHECK(serving.process().running());
}
