#pragma once
// A weighlink database as a binary of schema version 1 left it, for the tests of what comes up
// migrated from an old dump (restore_test.cpp, drill_test.cpp).

#include <string>

#include "weighlink/pg/migrations.hpp"
#include "weighlink/testing/pg_cluster.hpp"

namespace weighlink::testing {

// Migration 1 only (and schema_migrations at version 1, which later binaries make themselves),
// with station st1 and one applied two-deck weighing that has its decks as JSON: only migration
// 2 gives them rows of weighing_decks.
inline void create_schema_v1(const PgCluster& pg) {
  (void)pg.query_scalar(
      std::string(weighlink::pg::migrations()[0].sql) +
      "CREATE TABLE schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL "
      "DEFAULT now()); INSERT INTO schema_migrations (version) VALUES (1);");
  (void)pg.query_scalar(
      "INSERT INTO stations (id, token_sha256, high_water_seq) VALUES ('st1', 'x', 1);"
      "INSERT INTO mutation_log (station_id, idempotency_key, seq, kind, payload, payload_sha256, "
      "outcome) VALUES ('st1', 'd', 1, 'weighing.captured', '{}', 'h', 'applied');"
      "INSERT INTO weighings (station_id, idempotency_key, scale, weight, unit, mode, decks) "
      "VALUES ('st1', 'd', 'main', 30100, 'kg', 'gross', '[{\"index\":1,\"weight\":\"12000\"},"
      "{\"index\":2,\"weight\":\"18100\"}]')");
}

}  // namespace weighlink::testing
