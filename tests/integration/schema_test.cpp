// The backend's schema as `weighlink-backend migrate` leaves a real PostgreSQL database: the keys
// exactly-once rests on, the tables and columns other components use, and no binary floating point
// anywhere (weights are exact). Read from the catalog, not from the SQL text.
#include <doctest/doctest.h>

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
  CHECK(column_type(pg, "weighings", "gvw") == "numeric");
  // Weights are exact: no column of any table is binary floating point.
  CHECK(pg.query_scalar("SELECT string_agg(table_name || '.' || column_name, ', ') FROM "
                        "information_schema.columns WHERE table_schema = 'public' AND data_type IN "
                        "('real', 'double precision')") == "");
}
