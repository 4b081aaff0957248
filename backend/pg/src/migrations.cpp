#include "weighlink/pg/migrations.hpp"

#include <algorithm>
#include <array>

namespace weighlink::pg {
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

// v2: evidence and signatures. The station's signing key (a shared secret: the agent's
// station.key), the evidence chain of every mutation, and the weighing's domain rows: one per
// deck and per axle with exact numeric weights and the axle's evidence, the GVW, the type.
constexpr std::string_view kSchemaV2 = R"sql(
ALTER TABLE stations
  ADD COLUMN signing_key bytea CHECK (octet_length(signing_key) >= 32),
  ADD COLUMN signing_key_set_at timestamptz;
COMMENT ON COLUMN stations.signing_key IS
  'HMAC-SHA256 key of the station''s evidence (the agent''s station.key). A shared secret: whoever '
  'reads it can sign records as the station. NULL: signatures are not checked.';

ALTER TABLE mutation_log
  ADD COLUMN prev_hash text,
  ADD COLUMN record_hash text,
  ADD COLUMN signature text,
  ADD COLUMN signature_verified boolean NOT NULL DEFAULT false;

ALTER TABLE weighings
  ADD COLUMN weighing_type text,
  ADD COLUMN gvw numeric;

CREATE TABLE weighing_decks (
  station_id text NOT NULL,
  idempotency_key text NOT NULL,
  deck integer NOT NULL,
  weight numeric NOT NULL,
  stable boolean NOT NULL DEFAULT false,
  PRIMARY KEY (station_id, idempotency_key, deck),
  FOREIGN KEY (station_id, idempotency_key) REFERENCES weighings (station_id, idempotency_key)
);

CREATE TABLE weighing_axles (
  station_id text NOT NULL,
  idempotency_key text NOT NULL,
  axle integer NOT NULL,
  weight numeric NOT NULL,
  reading numeric,
  reading_seq bigint,
  raw bytea,
  captured_ts text,
  PRIMARY KEY (station_id, idempotency_key, axle),
  FOREIGN KEY (station_id, idempotency_key) REFERENCES weighings (station_id, idempotency_key)
);

-- Weighings recorded before v2 keep their decks and axles in the jsonb columns; give them rows.
-- A deck or axle without a number (0) takes its position, as replay does now.
INSERT INTO weighing_decks (station_id, idempotency_key, deck, weight, stable)
SELECT w.station_id, w.idempotency_key,
       CASE WHEN d.index > 0 THEN d.index ELSE d.position::integer END, d.weight::numeric,
       coalesce(d.stable, false)
FROM weighings w,
     ROWS FROM (jsonb_to_recordset(w.decks) AS (index integer, weight text, stable boolean))
       WITH ORDINALITY AS d(index, weight, stable, position)
WHERE jsonb_typeof(w.decks) = 'array'
ON CONFLICT DO NOTHING;
INSERT INTO weighing_axles (station_id, idempotency_key, axle, weight)
SELECT w.station_id, w.idempotency_key,
       CASE WHEN a.index > 0 THEN a.index ELSE a.position::integer END, a.weight::numeric
FROM weighings w,
     ROWS FROM (jsonb_to_recordset(w.axles) AS (index integer, weight text))
       WITH ORDINALITY AS a(index, weight, position)
WHERE jsonb_typeof(w.axles) = 'array'
ON CONFLICT DO NOTHING;
UPDATE weighings SET gvw = weight WHERE decks IS NOT NULL OR axles IS NOT NULL;
)sql";

// v3: every weighing's foreign key to mutation_log is checked with a query PostgreSQL plans once
// per connection and keeps. While mutation_log still looks empty to the planner (until its first
// analyze), the two unique indexes both starting with station_id cost the same, and it may pick
// (station_id, seq) with a filter on the key: each check then reads all of the station's rows,
// and a backlog's inserts grow quadratic. Only the primary key starts with station_id now, so the
// check is an exact primary key lookup; (seq, station_id) still serves the seq lookups, which
// always give both columns.
constexpr std::string_view kSchemaV3 = R"sql(
ALTER TABLE mutation_log
  DROP CONSTRAINT mutation_log_station_id_seq_key,
  ADD CONSTRAINT mutation_log_seq_station_id_key UNIQUE (seq, station_id);
)sql";

// v4: whether a station without a signing key may record weighings. Stations that exist keep
// doing so (true), so an upgrade stops no station; new ones refuse them (false) until their key is
// registered (`station set-key`) or unsigned weighings are allowed
// (`station add --allow-unsigned-weighings`, `station set-unsigned-weighings`).
constexpr std::string_view kSchemaV4 = R"sql(
ALTER TABLE stations ADD COLUMN accept_unsigned_weighings boolean NOT NULL DEFAULT true;
ALTER TABLE stations ALTER COLUMN accept_unsigned_weighings SET DEFAULT false;
COMMENT ON COLUMN stations.accept_unsigned_weighings IS
  'Without a signing_key: weighing.captured is recorded (true) or REJECTED unsigned_weighing '
  '(false). Ignored once a key is registered: every mutation''s signature is checked then.';
)sql";

// v5: the payload text exactly as the agent sent and signed it. payload (jsonb) normalises
// whitespace, key order and number spelling, so the record hash cannot be recomputed from it;
// `records verify` recomputes it from payload_text and checks that both say the same. Rows
// recorded before v5, withheld ones and payloads that were not JSON keep NULL.
constexpr std::string_view kSchemaV5 = R"sql(
ALTER TABLE mutation_log ADD COLUMN payload_text text;
COMMENT ON COLUMN mutation_log.payload_text IS
  'The payload bytes the agent sent (and hashed into record_hash), or NULL (before schema v5, '
  'withheld, or not JSON: payload holds what was kept).';
)sql";

// v6: evidence files (camera images) that records list in their payload's `attachments`
// (docs/decisions/0008-evidence-images.md): one row per blob, by content, and its bytes in chunk
// rows of bytea, so pg_dump, logical replication and a row count see them like any other row.
// received_bytes is the contiguous prefix held (uploads resume there); complete once the whole
// hashed to the name. A blob the agent could not send is recorded in evidence_blob_losses.
constexpr std::string_view kSchemaV6 = R"sql(
CREATE TABLE evidence_blobs (
  sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  station_id text NOT NULL,
  bytes bigint NOT NULL CHECK (bytes >= 0),
  content_type text NOT NULL,
  received_bytes bigint NOT NULL DEFAULT 0 CHECK (received_bytes BETWEEN 0 AND bytes),
  complete boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz
);
CREATE TABLE evidence_blob_chunks (
  sha256 text NOT NULL REFERENCES evidence_blobs (sha256) ON DELETE CASCADE,
  "offset" bigint NOT NULL CHECK ("offset" >= 0),
  data bytea NOT NULL,
  PRIMARY KEY (sha256, "offset")
);
CREATE TABLE evidence_blob_losses (
  station_id text NOT NULL,
  idempotency_key text NOT NULL,
  sha256 text NOT NULL,
  seq bigint NOT NULL,
  reason text NOT NULL,
  reported_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (station_id, idempotency_key, sha256)
);
)sql";

// v7: the payload stored once (docs/decisions/0009-payload-stored-once.md). A record whose
// payload is the agent's own keeps it only as payload_text, the exact bytes it signed; payload
// (jsonb) is NULL for it and holds only what the backend made itself (a withheld marker, the
// wrapper of a payload that was not JSON, a storage refusal). Parsing the payload as jsonb and
// storing it twice made each row ~2.9 KB, compressed through TOAST: about three quarters of
// PostgreSQL's time per mutation. Rows recorded before keep both columns, untouched. Readers
// that want JSON take coalesce(payload, payload_text::jsonb).
constexpr std::string_view kSchemaV7 = R"sql(
ALTER TABLE mutation_log
  ALTER COLUMN payload DROP NOT NULL,
  ADD CONSTRAINT mutation_log_payload_stored
    CHECK (payload IS NOT NULL OR payload_text IS NOT NULL);
COMMENT ON COLUMN mutation_log.payload IS
  'What the backend stored for a payload that is not the agent''s own (withheld, not JSON, refused '
  'by the database), or NULL: then payload_text holds it (schema v7). Rows before v7 hold both. '
  'As JSON, whichever is stored: coalesce(payload, payload_text::jsonb).';
)sql";

constexpr std::array kMigrations = {
    Migration{1, "stations, mutation_log, weighings, backend_meta", kSchemaV1},
    Migration{2, "station signing keys, mutation evidence, weighing decks and axles", kSchemaV2},
    Migration{3, "mutation_log unique (seq, station_id): foreign key checks use the primary key",
              kSchemaV3},
    Migration{4, "stations.accept_unsigned_weighings (existing stations true, new ones false)",
              kSchemaV4},
    Migration{5, "mutation_log.payload_text: the exact payload the record hash covers", kSchemaV5},
    Migration{6, "evidence_blobs, evidence_blob_chunks, evidence_blob_losses: records' images",
              kSchemaV6},
    Migration{7, "mutation_log.payload NULL when payload_text holds the payload: stored once",
              kSchemaV7},
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

}  // namespace weighlink::pg
