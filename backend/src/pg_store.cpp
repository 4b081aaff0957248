#include "weighlink/backend/pg_store.hpp"

#include <boost/json.hpp>
#include <charconv>

#include "weighlink/backend/migrations.hpp"

namespace weighlink::backend {
namespace {

template <class Int>
Int to_int(std::string_view text) {
  Int value{};
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

Outcome outcome_from_db(std::string_view text) {
  return text == "applied" ? Outcome::applied : Outcome::rejected;
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0x0f]);
  }
  return out;
}

// Reads the station's watermark; FOR UPDATE makes concurrent replicas take turns per station.
constexpr std::string_view kStationSql = R"sql(
SELECT s.high_water_seq, s.durable_seq,
       coalesce((SELECT value FROM backend_meta WHERE key = 'generation'), '')
FROM stations s WHERE s.id = $1)sql";

// Multi-row inserts from one JSON parameter: one round trip per table for the whole batch.
constexpr std::string_view kInsertLogSql = R"sql(
INSERT INTO mutation_log (station_id, idempotency_key, seq, kind, payload, payload_sha256,
                          outcome, reason, created_at, applied_at)
SELECT $1, r.idempotency_key, r.seq, r.kind, r.payload::jsonb, r.payload_sha256, r.outcome,
       nullif(r.reason, ''),
       timestamptz 'epoch' + r.created_at_ms * interval '1 millisecond',
       timestamptz 'epoch' + r.applied_at_ms * interval '1 millisecond'
FROM jsonb_to_recordset($2::jsonb) AS r(idempotency_key text, seq bigint, kind text, payload text,
     payload_sha256 text, outcome text, reason text, created_at_ms bigint, applied_at_ms bigint)
)sql";

// Weights go in as the exact decimal strings and become numeric in PostgreSQL: no float ever.
constexpr std::string_view kInsertWeighingSql = R"sql(
INSERT INTO weighings (station_id, idempotency_key, scale, weight, unit, mode, tare, reading_seq,
                       reading_ts, raw, operator_id, decks, axles, signature, agent_version,
                       captured_at)
SELECT $1, w.idempotency_key, w.scale, w.weight::numeric, w.unit, w.mode,
       nullif(w.tare, '')::numeric, w.reading_seq, nullif(w.reading_ts, ''),
       decode(w.raw_hex, 'hex'), nullif(w.operator_id, ''), w.decks, w.axles,
       nullif(w.signature, ''), nullif(w.agent_version, ''),
       timestamptz 'epoch' + w.created_at_ms * interval '1 millisecond'
FROM jsonb_to_recordset($2::jsonb) AS w(idempotency_key text, scale text, weight text, unit text,
     mode text, tare text, reading_seq bigint, reading_ts text, raw_hex text, operator_id text,
     decks jsonb, axles jsonb, signature text, agent_version text, created_at_ms bigint)
)sql";

boost::json::object weighing_row(const NewRecord& record) {
  const Mutation& m = record.mutation;
  const WeighingCaptured& w = *m.weighing;
  boost::json::object row;
  row["idempotency_key"] = m.idempotency_key;
  row["scale"] = w.scale;
  row["weight"] = w.weight;
  row["unit"] = w.unit;
  row["mode"] = w.mode;
  row["tare"] = w.tare;
  if (w.reading_seq != 0) row["reading_seq"] = static_cast<std::int64_t>(w.reading_seq);
  row["reading_ts"] = w.reading_ts;
  if (!w.raw.empty()) row["raw_hex"] = hex(w.raw);
  row["operator_id"] = w.operator_id;
  if (!w.decks.empty()) {
    boost::json::array decks;
    for (const auto& deck : w.decks) {
      decks.push_back({{"index", deck.index}, {"weight", deck.weight}, {"stable", deck.stable}});
    }
    row["decks"] = std::move(decks);
  }
  if (!w.axles.empty()) {
    boost::json::array axles;
    for (const auto& axle : w.axles) {
      axles.push_back({{"index", axle.index}, {"weight", axle.weight}});
    }
    row["axles"] = std::move(axles);
  }
  row["signature"] = w.signature;
  row["agent_version"] = w.agent_version;
  if (m.created_at_unix_ms != 0) row["created_at_ms"] = m.created_at_unix_ms;
  return row;
}

// Runs `query` (which connects as needed); when it failed on a connection that was already open
// (a server restart breaks idle connections unnoticed), runs it once more on a new connection.
// Only for statements that are safe to repeat.
template <class Query>
auto with_reconnect(PgConnection& connection, Query query) -> decltype(query()) {
  const bool was_open = connection.is_open();
  auto result = query();
  if (!result && result.error() == Errc::connection_lost && was_open) {
    connection.reset();
    result = query();
  }
  return result;
}

}  // namespace

Result<StationState> PgReplayStore::lock_station(std::string_view station_id) {
  auto result =
      connection_.exec(std::string(kStationSql) + " FOR UPDATE OF s", {std::string(station_id)});
  if (!result) return result.error();
  if (result->rows() == 0) return Errc::station_not_found;
  return StationState{to_int<std::uint64_t>(result->get(0, 0)),
                      to_int<std::uint64_t>(result->get(0, 1)), std::string(result->get(0, 2))};
}

Result<std::vector<StoredMutation>> PgReplayStore::find_existing(
    std::string_view station_id, const std::vector<std::string>& keys) {
  boost::json::array key_array;
  for (const auto& key : keys) key_array.emplace_back(key);
  auto result = connection_.exec(
      R"sql(
SELECT idempotency_key, seq, payload_sha256, outcome, coalesce(reason, ''),
       (extract(epoch FROM applied_at) * 1000)::bigint
FROM mutation_log
WHERE station_id = $1 AND idempotency_key IN (SELECT jsonb_array_elements_text($2::jsonb)))sql",
      {std::string(station_id), boost::json::serialize(key_array)});
  if (!result) return result.error();
  std::vector<StoredMutation> stored;
  stored.reserve(static_cast<std::size_t>(result->rows()));
  for (int row = 0; row < result->rows(); ++row) {
    stored.push_back({std::string(result->get(row, 0)), to_int<std::uint64_t>(result->get(row, 1)),
                      std::string(result->get(row, 2)), outcome_from_db(result->get(row, 3)),
                      std::string(result->get(row, 4)), to_int<std::int64_t>(result->get(row, 5))});
  }
  return stored;
}

Result<void> PgReplayStore::insert(std::string_view station_id,
                                   const std::vector<NewRecord>& records) {
  boost::json::array log_rows;
  boost::json::array weighing_rows;
  for (const auto& record : records) {
    const Mutation& m = record.mutation;
    boost::json::object row;
    row["idempotency_key"] = m.idempotency_key;
    row["seq"] = static_cast<std::int64_t>(m.seq);
    row["kind"] = m.kind;
    row["payload"] = record.stored_payload_json;
    row["payload_sha256"] = record.payload_sha256;
    row["outcome"] = record.outcome == Outcome::applied ? "applied" : "rejected";
    row["reason"] = record.reason;
    if (m.created_at_unix_ms != 0) row["created_at_ms"] = m.created_at_unix_ms;
    row["applied_at_ms"] = record.applied_at_unix_ms;
    log_rows.push_back(std::move(row));
    if (record.outcome == Outcome::applied && m.kind == kWeighingCapturedKind && m.weighing) {
      weighing_rows.push_back(weighing_row(record));
    }
  }
  const std::string station(station_id);
  if (auto r = connection_.exec(kInsertLogSql, {station, boost::json::serialize(log_rows)}); !r) {
    return r.error();
  }
  if (!weighing_rows.empty()) {
    auto r = connection_.exec(kInsertWeighingSql, {station, boost::json::serialize(weighing_rows)});
    if (!r) return r.error();
  }
  return {};
}

Result<void> PgReplayStore::set_high_water(std::string_view station_id, std::uint64_t seq) {
  auto result = connection_.exec("UPDATE stations SET high_water_seq = $2 WHERE id = $1",
                                 {std::string(station_id), std::to_string(seq)});
  if (!result) return result.error();
  return {};
}

Result<ReplayOutcome> replay_batch(PgConnection& connection, std::string_view station_id,
                                   const std::vector<Mutation>& mutations, std::int64_t now_unix_ms,
                                   int* attempts) {
  for (int attempt = 1;; ++attempt) {
    if (attempts) *attempts = attempt;
    if (auto connected = connection.ensure_connected(); !connected) return connected.error();
    boost::system::error_code error;
    {
      PgTransaction transaction(connection);
      if (auto begun = transaction.begin(); !begun) {
        error = begun.error();
      } else {
        PgReplayStore store(connection);
        auto outcome = apply_batch(store, station_id, mutations, now_unix_ms);
        if (!outcome) {
          error = outcome.error();
        } else if (auto committed = transaction.commit(); !committed) {
          error = committed.error();
        } else {
          return outcome;
        }
      }
    }
    if (!should_retry(error, attempt)) return error;
    if (error == Errc::connection_lost) connection.reset();
  }
}

Result<std::optional<StationAuth>> find_station_by_token_hash(PgConnection& connection,
                                                              std::string_view token_sha256) {
  return with_reconnect(connection, [&]() -> Result<std::optional<StationAuth>> {
    if (auto connected = connection.ensure_connected(); !connected) return connected.error();
    auto result = connection.exec("SELECT id, disabled FROM stations WHERE token_sha256 = $1",
                                  {std::string(token_sha256)});
    if (!result) return result.error();
    if (result->rows() == 0) return std::optional<StationAuth>{};
    return std::optional<StationAuth>{
        StationAuth{std::string(result->get(0, 0)), result->get(0, 1) == "t"}};
  });
}

Result<Watermark> read_watermark(PgConnection& connection, std::string_view station_id) {
  return with_reconnect(connection, [&]() -> Result<Watermark> {
    if (auto connected = connection.ensure_connected(); !connected) return connected.error();
    auto result = connection.exec(kStationSql, {std::string(station_id)});
    if (!result) return result.error();
    if (result->rows() == 0) return Errc::station_not_found;
    return Watermark{to_int<std::uint64_t>(result->get(0, 0)),
                     to_int<std::uint64_t>(result->get(0, 1)), std::string(result->get(0, 2))};
  });
}

Result<SchemaStatus> schema_status(PgConnection& connection) {
  return with_reconnect(connection, [&]() -> Result<SchemaStatus> {
    if (auto connected = connection.ensure_connected(); !connected) return connected.error();
    SchemaStatus status;
    status.latest_version = latest_schema_version();
    auto result = connection.exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (!result) {
      if (result.error() == Errc::not_migrated) return status;  // no schema_migrations yet
      return result.error();
    }
    status.current_version = to_int<int>(result->get(0, 0));
    return status;
  });
}

Result<std::vector<int>> migrate(PgConnection& connection) {
  if (auto connected = connection.ensure_connected(); !connected) return connected.error();
  // A migration may rewrite a big table, and a second replica waits for the first one's
  // advisory lock: no statement or lock timeout here.
  if (auto r = connection.exec("SET statement_timeout = 0; SET lock_timeout = 0"); !r) {
    return r.error();
  }
  std::vector<int> applied_now;
  for (const auto& migration : migrations()) {
    PgTransaction transaction(connection);
    if (auto begun = transaction.begin(); !begun) return begun.error();
    // Held until COMMIT: a second replica migrating at the same time waits here, then sees the
    // version recorded and skips it.
    if (auto r = connection.exec("SELECT pg_advisory_xact_lock($1)",
                                 {std::to_string(kMigrationLockKey)});
        !r) {
      return r.error();
    }
    if (auto r = connection.exec(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, "
            "applied_at timestamptz NOT NULL DEFAULT now())");
        !r) {
      return r.error();
    }
    auto done = connection.exec("SELECT version FROM schema_migrations");
    if (!done) return done.error();
    std::vector<int> applied;
    for (int row = 0; row < done->rows(); ++row) applied.push_back(to_int<int>(done->get(row, 0)));
    const auto pending = pending_migrations(std::span(&migration, 1), applied);
    if (pending.empty()) continue;  // the transaction rolls back: nothing to do
    if (auto r = connection.exec(migration.sql); !r) return r.error();
    if (auto r = connection.exec("INSERT INTO schema_migrations (version) VALUES ($1)",
                                 {std::to_string(migration.version)});
        !r) {
      return r.error();
    }
    if (auto committed = transaction.commit(); !committed) return committed.error();
    applied_now.push_back(migration.version);
  }
  return applied_now;
}

Result<void> insert_station(PgConnection& connection, std::string_view station_id,
                            std::string_view token_sha256) {
  if (auto connected = connection.ensure_connected(); !connected) return connected.error();
  auto result = connection.exec(
      "INSERT INTO stations (id, token_sha256) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING "
      "RETURNING id",
      {std::string(station_id), std::string(token_sha256)});
  if (!result) return result.error();
  if (result->rows() == 0) return Errc::station_exists;
  return {};
}

Result<void> disable_station(PgConnection& connection, std::string_view station_id) {
  if (auto connected = connection.ensure_connected(); !connected) return connected.error();
  auto result = connection.exec("UPDATE stations SET disabled = true WHERE id = $1 RETURNING id",
                                {std::string(station_id)});
  if (!result) return result.error();
  if (result->rows() == 0) return Errc::station_not_found;
  return {};
}

Result<void> replace_station_token(PgConnection& connection, std::string_view station_id,
                                   std::string_view token_sha256) {
  if (auto connected = connection.ensure_connected(); !connected) return connected.error();
  auto result = connection.exec(
      "UPDATE stations SET token_sha256 = $2, disabled = false WHERE id = $1 "
      "RETURNING id",
      {std::string(station_id), std::string(token_sha256)});
  if (!result) return result.error();
  if (result->rows() == 0) return Errc::station_not_found;
  return {};
}

}  // namespace weighlink::backend
