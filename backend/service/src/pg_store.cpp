#include "weighlink/service/pg_store.hpp"

#include <boost/json.hpp>
#include <charconv>

#include "weighlink/base/hash.hpp"
#include "weighlink/pg/migrations.hpp"

namespace weighlink::service {
namespace {

Outcome outcome_from_db(std::string_view text) {
  return text == "applied" ? Outcome::applied : Outcome::rejected;
}

// The agent writes a raw frame into JSON one code point per byte (bytes 0x80..0xFF become
// U+0080..U+00FF, two bytes of UTF-8): back to the frame's bytes. Text with any other code point
// is kept as it is.
std::string frame_bytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < text.size() &&
               (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80) {
      out.push_back(
          static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3F)));
      ++i;
    } else {
      return std::string(text);
    }
  }
  return out;
}

// A raw frame as it came in the JSON, as the hex of its bytes for decode(..., 'hex').
std::string frame_hex(std::string_view text) {
  const std::string bytes = frame_bytes(text);
  return base::to_hex({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()});
}

// Reads the station's watermark; FOR UPDATE makes concurrent replicas take turns per station.
constexpr std::string_view kStationSql = R"sql(
SELECT s.high_water_seq, s.durable_seq,
       coalesce((SELECT value FROM backend_meta WHERE key = 'generation'), '')
FROM stations s WHERE s.id = $1)sql";

// The replay transaction's view of the station, locked: FOR UPDATE makes concurrent replicas
// take turns per station. Also its signing key and the record_hash the next mutation continues.
constexpr std::string_view kLockStationSql = R"sql(
SELECT s.high_water_seq, s.durable_seq,
       coalesce((SELECT value FROM backend_meta WHERE key = 'generation'), ''),
       coalesce(encode(s.signing_key, 'hex'), ''),
       (SELECT m.record_hash FROM mutation_log m
        WHERE m.station_id = s.id AND m.seq = s.high_water_seq),
       s.accept_unsigned_weighings
FROM stations s WHERE s.id = $1 FOR UPDATE OF s)sql";

// Multi-row inserts from one JSON parameter: one round trip per table for the whole batch.
constexpr std::string_view kInsertLogSql = R"sql(
INSERT INTO mutation_log (station_id, idempotency_key, seq, kind, payload, payload_sha256,
                          outcome, reason, created_at, applied_at, prev_hash, record_hash,
                          signature, signature_verified, payload_text)
SELECT $1, r.idempotency_key, r.seq, r.kind, r.payload::jsonb, r.payload_sha256, r.outcome,
       nullif(r.reason, ''),
       timestamptz 'epoch' + r.created_at_ms * interval '1 millisecond',
       timestamptz 'epoch' + r.applied_at_ms * interval '1 millisecond',
       nullif(r.prev_hash, ''), nullif(r.record_hash, ''), nullif(r.signature, ''),
       r.signature_verified, CASE WHEN r.payload_exact THEN r.payload END
FROM jsonb_to_recordset($2::jsonb) AS r(idempotency_key text, seq bigint, kind text, payload text,
     payload_sha256 text, outcome text, reason text, created_at_ms bigint, applied_at_ms bigint,
     prev_hash text, record_hash text, signature text, signature_verified boolean,
     payload_exact boolean)
)sql";

// Weights go in as the exact decimal strings and become numeric in PostgreSQL: no float ever.
constexpr std::string_view kInsertWeighingSql = R"sql(
INSERT INTO weighings (station_id, idempotency_key, scale, weight, unit, mode, tare, reading_seq,
                       reading_ts, raw, operator_id, decks, axles, signature, agent_version,
                       captured_at, weighing_type, gvw)
SELECT $1, w.idempotency_key, w.scale, w.weight::numeric, w.unit, w.mode,
       nullif(w.tare, '')::numeric, w.reading_seq, nullif(w.reading_ts, ''),
       decode(w.raw_hex, 'hex'), nullif(w.operator_id, ''), w.decks, w.axles,
       nullif(w.signature, ''), nullif(w.agent_version, ''),
       timestamptz 'epoch' + w.created_at_ms * interval '1 millisecond',
       nullif(w.weighing_type, ''), nullif(w.gvw, '')::numeric
FROM jsonb_to_recordset($2::jsonb) AS w(idempotency_key text, scale text, weight text, unit text,
     mode text, tare text, reading_seq bigint, reading_ts text, raw_hex text, operator_id text,
     decks jsonb, axles jsonb, signature text, agent_version text, created_at_ms bigint,
     weighing_type text, gvw text)
)sql";

// One row per deck and per axle, from the same JSON as the weighings: weights numeric.
constexpr std::string_view kInsertDecksSql = R"sql(
INSERT INTO weighing_decks (station_id, idempotency_key, deck, weight, stable)
SELECT $1, w.idempotency_key, d.index, d.weight::numeric, d.stable
FROM jsonb_to_recordset($2::jsonb) AS w(idempotency_key text, decks jsonb),
     jsonb_to_recordset(w.decks) AS d(index integer, weight text, stable boolean)
WHERE w.decks IS NOT NULL
)sql";

constexpr std::string_view kInsertAxlesSql = R"sql(
INSERT INTO weighing_axles (station_id, idempotency_key, axle, weight, reading, reading_seq, raw,
                            captured_ts)
SELECT $1, w.idempotency_key, a.index, a.weight::numeric, nullif(a.reading, '')::numeric,
       a.reading_seq, decode(a.raw_hex, 'hex'), nullif(a.captured_at, '')
FROM jsonb_to_recordset($2::jsonb) AS w(idempotency_key text, axle_rows jsonb),
     jsonb_to_recordset(w.axle_rows) AS a(index integer, weight text, reading text,
                                          reading_seq bigint, raw_hex text, captured_at text)
WHERE w.axle_rows IS NOT NULL
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
  if (!w.raw.empty()) row["raw_hex"] = frame_hex(w.raw);
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
    boost::json::array axle_rows;  // weighing_axles, with each axle's evidence
    for (const auto& axle : w.axles) {
      axles.push_back({{"index", axle.index}, {"weight", axle.weight}});
      boost::json::object a{{"index", axle.index},
                            {"weight", axle.weight},
                            {"reading", axle.reading},
                            {"captured_at", axle.captured_at}};
      if (axle.reading_seq != 0) a["reading_seq"] = static_cast<std::int64_t>(axle.reading_seq);
      if (!axle.raw.empty()) a["raw_hex"] = frame_hex(axle.raw);
      axle_rows.push_back(std::move(a));
    }
    row["axles"] = std::move(axles);
    row["axle_rows"] = std::move(axle_rows);
  }
  row["signature"] = w.signature;
  row["agent_version"] = w.agent_version;
  row["weighing_type"] = w.type;
  row["gvw"] = w.gvw;
  if (m.created_at_unix_ms != 0) row["created_at_ms"] = m.created_at_unix_ms;
  return row;
}

}  // namespace

pg::Result<StationState> PgReplayStore::lock_station(std::string_view station_id) {
  auto result = connection_.exec(kLockStationSql, {std::string(station_id)});
  if (!result) return result.error();
  if (result->rows() == 0) return pg::Errc::station_not_found;
  StationState state;
  state.high_water_seq = pg::to_int<std::uint64_t>(result->get(0, 0));
  state.durable_seq = pg::to_int<std::uint64_t>(result->get(0, 1));
  state.generation = std::string(result->get(0, 2));
  auto key = base::from_hex(result->get(0, 3));  // encode(signing_key, 'hex'): always hex
  if (!key) return pg::Errc::database_error;
  state.signing_key = std::move(*key);
  if (!result->is_null(0, 4) && !result->get(0, 4).empty()) {
    state.last_record_hash = std::string(result->get(0, 4));
  }
  state.accept_unsigned_weighings = result->get(0, 5) == "t";
  return state;
}

pg::Result<std::vector<StoredMutation>> PgReplayStore::find_existing(
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
    stored.push_back(
        {std::string(result->get(row, 0)), pg::to_int<std::uint64_t>(result->get(row, 1)),
         std::string(result->get(row, 2)), outcome_from_db(result->get(row, 3)),
         std::string(result->get(row, 4)), pg::to_int<std::int64_t>(result->get(row, 5))});
  }
  return stored;
}

pg::Result<void> PgReplayStore::insert(std::string_view station_id,
                                       const std::vector<NewRecord>& records) {
  boost::json::array log_rows;
  boost::json::array weighing_rows;
  bool any_decks = false;  // weighing_decks and weighing_axles have rows to take
  bool any_axles = false;
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
    row["prev_hash"] = m.prev_hash;
    row["record_hash"] = m.record_hash;
    row["signature"] = m.signature;
    row["signature_verified"] = record.signature_verified;
    // The payload goes once; payload_text takes the same bytes when they are the agent's own
    // (not a withheld marker or the wrapper of a payload that was not JSON).
    if (record.stored_payload_json == m.payload_json) row["payload_exact"] = true;
    log_rows.push_back(std::move(row));
    if (record.outcome == Outcome::applied && m.kind == kWeighingCapturedKind && m.weighing) {
      any_decks = any_decks || !m.weighing->decks.empty();
      any_axles = any_axles || !m.weighing->axles.empty();
      weighing_rows.push_back(weighing_row(record));
    }
  }
  const std::string station(station_id);
  // Late fills take the place of their marker's record (plan_batch, "fills_withheld").
  boost::json::array filled;
  for (const auto& record : records) {
    if (record.fills_withheld) filled.emplace_back(record.mutation.idempotency_key);
  }
  if (!filled.empty()) {
    auto removed = connection_.exec(
        R"sql(
DELETE FROM mutation_log
WHERE station_id = $1 AND reason LIKE 'withheld\_by\_agent%'
  AND idempotency_key IN (SELECT jsonb_array_elements_text($2::jsonb)))sql",
        {station, boost::json::serialize(filled)});
    if (!removed) return removed.error();
  }
  if (auto r = connection_.exec(kInsertLogSql, {station, boost::json::serialize(log_rows)}); !r) {
    return r.error();
  }
  if (weighing_rows.empty()) return {};
  const std::string rows = boost::json::serialize(weighing_rows);
  // A round trip for decks and for axles only when a weighing of the batch has some.
  for (const auto& [sql, needed] :
       {std::pair{kInsertWeighingSql, true}, std::pair{kInsertDecksSql, any_decks},
        std::pair{kInsertAxlesSql, any_axles}}) {
    if (!needed) continue;
    if (auto r = connection_.exec(sql, {station, rows}); !r) return r.error();
  }
  return {};
}

pg::Result<std::optional<StorageRefusal>> PgReplayStore::insert_guarded(std::string_view station_id,
                                                                        const NewRecord& record) {
  // Only after the fast path met a refused row: a savepoint per record finds it.
  if (auto r = connection_.exec("SAVEPOINT weighlink_record"); !r) return r.error();
  auto inserted = insert(station_id, {record});
  if (!inserted && inserted.error() != pg::Errc::data_refused) return inserted.error();
  std::optional<StorageRefusal> refusal;
  if (!inserted) {
    refusal = StorageRefusal{connection_.last_sqlstate(), connection_.last_primary_message()};
    if (auto r = connection_.exec("ROLLBACK TO SAVEPOINT weighlink_record"); !r) return r.error();
  }
  if (auto r = connection_.exec("RELEASE SAVEPOINT weighlink_record"); !r) return r.error();
  return refusal;
}

pg::Result<void> PgReplayStore::set_high_water(std::string_view station_id, std::uint64_t seq) {
  auto result = connection_.exec("UPDATE stations SET high_water_seq = $2 WHERE id = $1",
                                 {std::string(station_id), std::to_string(seq)});
  if (!result) return result.error();
  return {};
}

pg::Result<ReplayOutcome> replay_batch(pg::PgConnection& connection, std::string_view station_id,
                                       const std::vector<Mutation>& mutations,
                                       std::int64_t now_unix_ms, int* attempts) {
  // After a refused row (Errc::data_refused) the batch runs once more with a savepoint per
  // record, which finds the row and rejects it alone; that run is not one of should_retry's.
  InsertMode mode = InsertMode::batch;
  int transactions = 0;
  for (int attempt = 1;; ++attempt) {
    if (attempts) *attempts = ++transactions;
    if (auto connected = connection.ensure_connected(); !connected) return connected.error();
    boost::system::error_code error;
    {
      pg::PgTransaction transaction(connection);
      if (auto begun = transaction.begin(); !begun) {
        error = begun.error();
      } else {
        PgReplayStore store(connection);
        auto outcome = apply_batch(store, station_id, mutations, now_unix_ms, mode);
        if (!outcome) {
          error = outcome.error();
        } else if (auto committed = transaction.commit(); !committed) {
          error = committed.error();
        } else {
          return outcome;
        }
      }
    }
    if (error == pg::Errc::data_refused && mode == InsertMode::batch) {
      mode = InsertMode::row_by_row;
      --attempt;
      continue;
    }
    if (!should_retry(error, attempt)) return error;
    if (error == pg::Errc::connection_lost) connection.reset();
  }
}

pg::Result<std::optional<StationAuth>> find_station_by_token_hash(pg::PgConnection& connection,
                                                                  std::string_view token_sha256) {
  return pg::with_reconnect(connection, [&]() -> pg::Result<std::optional<StationAuth>> {
    if (auto connected = connection.ensure_connected(); !connected) return connected.error();
    auto result = connection.exec("SELECT id, disabled FROM stations WHERE token_sha256 = $1",
                                  {std::string(token_sha256)});
    if (!result) return result.error();
    if (result->rows() == 0) return std::optional<StationAuth>{};
    return std::optional<StationAuth>{
        StationAuth{std::string(result->get(0, 0)), result->get(0, 1) == "t"}};
  });
}

pg::Result<Watermark> read_watermark(pg::PgConnection& connection, std::string_view station_id) {
  return pg::with_reconnect(connection, [&]() -> pg::Result<Watermark> {
    if (auto connected = connection.ensure_connected(); !connected) return connected.error();
    auto result = connection.exec(kStationSql, {std::string(station_id)});
    if (!result) return result.error();
    if (result->rows() == 0) return pg::Errc::station_not_found;
    return Watermark{pg::to_int<std::uint64_t>(result->get(0, 0)),
                     pg::to_int<std::uint64_t>(result->get(0, 1)), std::string(result->get(0, 2))};
  });
}

pg::Result<void> insert_station(pg::PgConnection& connection, std::string_view station_id,
                                std::string_view token_sha256,
                                std::span<const unsigned char> signing_key,
                                bool accept_unsigned_weighings) {
  if (auto connected = connection.ensure_connected(); !connected) return connected.error();
  auto result = connection.exec(
      "INSERT INTO stations (id, token_sha256, signing_key, signing_key_set_at, "
      "accept_unsigned_weighings) "
      "SELECT $1, $2, decode(nullif($3, ''), 'hex'), CASE WHEN $3 = '' THEN NULL ELSE now() END, "
      "$4::boolean ON CONFLICT (id) DO NOTHING RETURNING id",
      {std::string(station_id), std::string(token_sha256), base::to_hex(signing_key),
       accept_unsigned_weighings ? "true" : "false"});
  if (!result) return result.error();
  if (result->rows() == 0) return pg::Errc::station_exists;
  return {};
}

pg::Result<void> set_station_key(pg::PgConnection& connection, std::string_view station_id,
                                 std::span<const unsigned char> signing_key) {
  if (auto connected = connection.ensure_connected(); !connected) return connected.error();
  auto result = connection.exec(
      "UPDATE stations SET signing_key = decode($2, 'hex'), signing_key_set_at = now() "
      "WHERE id = $1 RETURNING id",
      {std::string(station_id), base::to_hex(signing_key)});
  if (!result) return result.error();
  if (result->rows() == 0) return pg::Errc::station_not_found;
  return {};
}

pg::Result<void> set_unsigned_weighings(pg::PgConnection& connection, std::string_view station_id,
                                        bool accept) {
  if (auto connected = connection.ensure_connected(); !connected) return connected.error();
  auto result = connection.exec(
      "UPDATE stations SET accept_unsigned_weighings = $2::boolean WHERE id = $1 RETURNING id",
      {std::string(station_id), accept ? "true" : "false"});
  if (!result) return result.error();
  if (result->rows() == 0) return pg::Errc::station_not_found;
  return {};
}

pg::Result<void> disable_station(pg::PgConnection& connection, std::string_view station_id) {
  if (auto connected = connection.ensure_connected(); !connected) return connected.error();
  auto result = connection.exec("UPDATE stations SET disabled = true WHERE id = $1 RETURNING id",
                                {std::string(station_id)});
  if (!result) return result.error();
  if (result->rows() == 0) return pg::Errc::station_not_found;
  return {};
}

pg::Result<void> replace_station_token(pg::PgConnection& connection, std::string_view station_id,
                                       std::string_view token_sha256) {
  if (auto connected = connection.ensure_connected(); !connected) return connected.error();
  auto result = connection.exec(
      "UPDATE stations SET token_sha256 = $2, disabled = false WHERE id = $1 "
      "RETURNING id",
      {std::string(station_id), std::string(token_sha256)});
  if (!result) return result.error();
  if (result->rows() == 0) return pg::Errc::station_not_found;
  return {};
}

}  // namespace weighlink::service
