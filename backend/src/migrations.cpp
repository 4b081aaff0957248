#include "weighlink/backend/migrations.hpp"

#include <algorithm>
#include <array>

namespace weighlink::backend {
namespace {

// v1: stations, the mutation log (idempotency record and generic log in one), typed weighings,
// backend metadata. Weights are numeric, parsed by PostgreSQL from the exact decimal strings.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE stations (
  id text PRIMARY KEY,
  token_sha256 text NOT NULL,
  disabled boolean NOT NULL DEFAULT false,
  high_water_seq bigint NOT NULL DEFAULT 0,
  -- Highest seq contained in the latest verified backup; the backup work fills it.
  durable_seq bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX stations_token_sha256_key ON stations (token_sha256);

CREATE TABLE mutation_log (
  station_id text NOT NULL REFERENCES stations (id),
  idempotency_key text NOT NULL,
  seq bigint NOT NULL,
  kind text NOT NULL,
  payload jsonb NOT NULL,
  payload_sha256 text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('applied', 'rejected')),
  reason text,
  created_at timestamptz,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (station_id, idempotency_key),
  UNIQUE (station_id, seq)
);

CREATE TABLE weighings (
  station_id text NOT NULL,
  idempotency_key text NOT NULL,
  scale text NOT NULL,
  weight numeric NOT NULL,
  unit text NOT NULL,
  mode text NOT NULL,
  tare numeric,
  reading_seq bigint,
  reading_ts text,
  raw bytea,
  operator_id text,
  decks jsonb,
  axles jsonb,
  signature text,
  agent_version text,
  captured_at timestamptz,
  PRIMARY KEY (station_id, idempotency_key),
  FOREIGN KEY (station_id, idempotency_key)
    REFERENCES mutation_log (station_id, idempotency_key)
);

CREATE TABLE backend_meta (
  key text PRIMARY KEY,
  value text NOT NULL
);
-- generation changes on every restore; durable_seq is the backup work's global seam.
INSERT INTO backend_meta (key, value) VALUES
  ('generation', gen_random_uuid()::text),
  ('durable_seq', '0');
)sql";

constexpr std::array kMigrations = {
    Migration{1, "stations, mutation_log, weighings, backend_meta", kSchemaV1},
};

}  // namespace

std::span<const Migration> migrations() noexcept { return kMigrations; }

int latest_schema_version() noexcept { return kMigrations.back().version; }

bool versions_strictly_increasing(std::span<const Migration> all) noexcept {
  int previous = 0;
  for (const auto& migration : all) {
    if (migration.version <= previous) return false;
    previous = migration.version;
  }
  return true;
}

std::vector<const Migration*> pending_migrations(std::span<const Migration> all,
                                                 const std::vector<int>& applied) {
  std::vector<const Migration*> pending;
  for (const auto& migration : all) {
    if (std::find(applied.begin(), applied.end(), migration.version) == applied.end()) {
      pending.push_back(&migration);
    }
  }
  std::sort(pending.begin(), pending.end(),
            [](const Migration* a, const Migration* b) { return a->version < b->version; });
  return pending;
}

}  // namespace weighlink::backend
