// The backend's schema as `weighlink-backend migrate` leaves a real PostgreSQL database: the keys
// exactly-once rests on, the tables and columns other components use, and no binary floating point
// anywhere (weights are exact). Read from the catalog, not from the SQL text.
#include <doctest/doctest.h>

#include "weighlink/pg/migrations.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::testing::PgCluster;

namespace {

// The column sets of `table`'s constraints of type `kind` ('p' primary key, 'u' unique), each as
// "a,b" in name order (what is unique, whatever the index's column order), joined by ';'.
std::string constraint_columns(const PgCluster& pg, const std::string& table, char kind) {
  return pg.query_scalar(
      "SELECT string_agg(cols, ';' ORDER BY cols) FROM ("
      "  SELECT string_agg(a.attname, ',' ORDER BY a.attname) AS cols"
      "  FROM pg_constraint c"
      "  CROSS JOIN LATERAL unnest(c.conkey) AS k(attnum)"
      "  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum"
      "  WHERE c.conrelid = '" +
      table + "'::regclass AND c.contype = '" + std::string(1, kind) +
      "'"
      "  GROUP BY c.oid) s");
}

std::string column_type(const PgCluster& pg, const std::string& table, const std::string& column) {
  return pg.query_scalar(
      "SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' AND "
      "table_name = '" +
      table + "' AND column_name = '" + column + "'");
}

}  // namespace

TEST_CASE("schema: a migrated database has the keys, tables and exact columns others rely on") {
  PgCluster pg;
  const auto migrated = weighlink::testing::run(
      {weighlink::testing::bin("weighlink-backend"), "migrate", "--dsn", pg.dsn()});
  INFO(migrated.output);
  REQUIRE(migrated.exit_code == 0);

  for (const char* table : {"stations", "mutation_log", "weighings", "backend_meta",
                            "weighing_decks", "weighing_axles", "schema_migrations"}) {
    CHECK_MESSAGE(pg.query_scalar(std::string("SELECT to_regclass('public.") + table +
                                  "') IS NOT NULL") == "t",
                  table);
  }
  // Exactly once: one row per station and key, one per station and seq.
  CHECK(constraint_columns(pg, "mutation_log", 'p') == "idempotency_key,station_id");
  CHECK(constraint_columns(pg, "mutation_log", 'u').find("seq,station_id") != std::string::npos);
  // The station key and the evidence chain.
  CHECK(column_type(pg, "stations", "signing_key") == "bytea");
  CHECK(column_type(pg, "mutation_log", "prev_hash") == "text");
  CHECK(column_type(pg, "mutation_log", "record_hash") == "text");
  CHECK(column_type(pg, "mutation_log", "signature_verified") == "boolean");
  // The payload text the record hash covers, byte for byte (payload is jsonb, normalised).
  CHECK(column_type(pg, "mutation_log", "payload_text") == "text");
  CHECK(pg.query_scalar("SELECT is_nullable FROM information_schema.columns WHERE table_name = "
                        "'mutation_log' AND column_name = 'payload_text'") == "YES");
  // Stored once (v7): payload (jsonb) may be NULL when payload_text holds it, never both NULL.
  CHECK(pg.query_scalar("SELECT is_nullable FROM information_schema.columns WHERE table_name = "
                        "'mutation_log' AND column_name = 'payload'") == "YES");
  CHECK(pg.query_scalar("SELECT count(*) FROM pg_constraint WHERE conname = "
                        "'mutation_log_payload_stored'") == "1");
  CHECK(column_type(pg, "weighings", "gvw") == "numeric");
  // Weights are exact: no column of any table is binary floating point.
  CHECK(pg.query_scalar("SELECT string_agg(table_name || '.' || column_name, ', ') FROM "
                        "information_schema.columns WHERE table_schema = 'public' AND data_type IN "
                        "('real', 'double precision')") == "");
}

TEST_CASE("schema: migration 7 keeps every stored payload's bytes, and refuses a row with none") {
  PgCluster pg;
  // The schema as a v6 binary left it, with records that hold the payload twice (jsonb and the
  // exact text, spacing and member order the agent's own) and a withheld marker (jsonb only).
  std::string v6 =
      "CREATE TABLE schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL "
      "DEFAULT now());";
  for (const auto& migration : weighlink::pg::migrations()) {
    if (migration.version > 6) break;
    v6 += std::string(migration.sql) + "INSERT INTO schema_migrations (version) VALUES (" +
          std::to_string(migration.version) + ");";
  }
  (void)pg.query_scalar(v6);
  const std::string exact = R"({ "weight":"32540.50",  "b":1,"a":"\u00fc \\ \"q\"" })";
  (void)pg.query_scalar(
      "INSERT INTO stations (id, token_sha256, high_water_seq) VALUES ('st1', 'x', 2);"
      "INSERT INTO mutation_log (station_id, idempotency_key, seq, kind, payload, payload_sha256, "
      "outcome, payload_text) VALUES ('st1', 'k1', 1, 'test.note', $q$" +
      exact + "$q$::jsonb, 'h', 'applied', $q$" + exact +
      "$q$), ('st1', 'k2', 2, 'test.note', '{\"withheld_by_agent\":true}', 'h', 'rejected', NULL)");
  const std::string before = pg.query_scalar(
      "SELECT string_agg(md5(coalesce(payload_text, '-')) || md5(payload::text), ',' ORDER BY seq) "
      "FROM mutation_log");

  const auto migrated = weighlink::testing::run(
      {weighlink::testing::bin("weighlink-backend"), "migrate", "--dsn", pg.dsn()});
  INFO(migrated.output);
  REQUIRE(migrated.exit_code == 0);
  CHECK(pg.query_scalar("SELECT max(version) FROM schema_migrations") ==
        std::to_string(weighlink::pg::latest_schema_version()));
  // Nothing rewritten: the exact text byte for byte, the jsonb as it was.
  CHECK(pg.query_scalar("SELECT payload_text FROM mutation_log WHERE seq = 1") == exact);
  CHECK(pg.query_scalar(
            "SELECT string_agg(md5(coalesce(payload_text, '-')) || md5(payload::text), ',' "
            "ORDER BY seq) FROM mutation_log") == before);
  // Readers take whichever is stored.
  CHECK(pg.query_scalar("SELECT string_agg(coalesce(payload, payload_text::jsonb)->>'weight', ',') "
                        "FROM mutation_log WHERE seq = 1") == "32540.50");
  // A row from now on holds the payload once; a row with neither is refused.
  (void)pg.query_scalar(
      "INSERT INTO mutation_log (station_id, idempotency_key, seq, kind, payload_sha256, outcome, "
      "payload_text) VALUES ('st1', 'k3', 3, 'test.note', 'h', 'applied', '{\"n\":3}')");
  CHECK(pg.query_scalar("SELECT payload IS NULL FROM mutation_log WHERE seq = 3") == "t");
  CHECK_THROWS(pg.query_scalar(
      "INSERT INTO mutation_log (station_id, idempotency_key, seq, kind, payload_sha256, outcome) "
      "VALUES ('st1', 'k4', 4, 'test.note', 'h', 'applied')"));
}
