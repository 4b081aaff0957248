#include "weighlink/service/pg_store.hpp"

#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <utility>

#include "weighlink/base/hash.hpp"
#include "weighlink/pg/binary_array.hpp"
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

// Multi-row inserts, one round trip per table for the whole batch: each column arrives as one
// binary array parameter (weighlink/pg/binary_array.hpp) that unnest spreads into rows, so the
// server lexes and unescapes nothing. The payload is stored once (schema v7): the agent's own
// bytes in payload_text, and only what the backend made itself (a marker, a wrapper) as jsonb.
constexpr std::string_view kInsertLogSql = R"sql(
INSERT INTO mutation_log (station_id, idempotency_key, seq, kind, payload, payload_sha256,
                          outcome, reason, created_at, applied_at, prev_hash, record_hash,
                          signature, signature_verified, payload_text)
SELECT $1::text, r.idempotency_key, r.seq, r.kind,
       CASE WHEN NOT r.payload_exact THEN r.payload::jsonb END, r.payload_sha256, r.outcome,
       r.reason, r.created_at, r.applied_at, r.prev_hash, r.record_hash, r.signature,
       r.signature_verified, CASE WHEN r.payload_exact THEN r.payload END
FROM unnest($2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::timestamptz[], $10::timestamptz[], $11::text[], $12::text[], $13::text[],
            $14::bool[], $15::bool[])
     AS r(idempotency_key, seq, kind, payload, payload_sha256, outcome, reason, created_at,
          applied_at, prev_hash, record_hash, signature, signature_verified, payload_exact)
)sql";

// Weights go in as the exact decimal strings and become numeric in PostgreSQL: no float ever.
constexpr std::string_view kInsertWeighingSql = R"sql(
INSERT INTO weighings (station_id, idempotency_key, scale, weight, unit, mode, tare, reading_seq,
                       reading_ts, raw, operator_id, decks, axles, signature, agent_version,
                       captured_at, weighing_type, gvw)
SELECT $1::text, w.idempotency_key, w.scale, w.weight::numeric, w.unit, w.mode,
       w.tare::numeric, w.reading_seq, w.reading_ts, w.raw, w.operator_id, w.decks::jsonb,
       w.axles::jsonb, w.signature, w.agent_version, w.captured_at, w.weighing_type,
       w.gvw::numeric
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int8[],
            $9::text[], $10::bytea[], $11::text[], $12::text[], $13::text[], $14::text[],
            $15::text[], $16::timestamptz[], $17::text[], $18::text[])
     AS w(idempotency_key, scale, weight, unit, mode, tare, reading_seq, reading_ts, raw,
          operator_id, decks, axles, signature, agent_version, captured_at, weighing_type, gvw)
)sql";

// One row per deck and per axle: weights numeric.
constexpr std::string_view kInsertDecksSql = R"sql(
INSERT INTO weighing_decks (station_id, idempotency_key, deck, weight, stable)
SELECT $1::text, d.idempotency_key, d.deck, d.weight::numeric, d.stable
FROM unnest($2::text[], $3::int4[], $4::text[], $5::bool[])
     AS d(idempotency_key, deck, weight, stable)
)sql";

constexpr std::string_view kInsertAxlesSql = R"sql(
INSERT INTO weighing_axles (station_id, idempotency_key, axle, weight, reading, reading_seq, raw,
                            captured_ts)
SELECT $1::text, a.idempotency_key, a.axle, a.weight::numeric, a.reading::numeric, a.reading_seq,
       a.raw, a.captured_ts
FROM unnest($2::text[], $3::int4[], $4::text[], $5::text[], $6::int8[], $7::bytea[], $8::text[])
     AS a(idempotency_key, axle, weight, reading, reading_seq, raw, captured_ts)
)sql";

using pg::BinaryArray;
using pg::ElementType;

template <std::size_t N, std::size_t... I>
std::array<BinaryArray, N> arrays_of(const std::array<ElementType, N>& types,
                                     std::index_sequence<I...> /*unused*/) {
  return {BinaryArray(types[I])...};
}

// Columns of one table as binary arrays of the given types, one per parameter after the station
// ($1).
template <std::size_t N>
struct Columns {
  explicit Columns(const std::array<ElementType, N>& types)
      : arrays(arrays_of(types, std::make_index_sequence<N>{})) {}
  std::array<BinaryArray, N> arrays;
  [[nodiscard]] bool empty() const { return arrays[0].size() == 0; }
  pg::Result<pg::PgResult> insert(pg::PgConnection& connection, std::string_view sql,
                                  std::string_view station) {
    std::array<std::string, N> taken;
    std::vector<std::string_view> params;
    params.reserve(N + 1);
    params.push_back(station);
    for (std::size_t i = 0; i < N; ++i) {
      taken[i] = arrays[i].take();
      params.push_back(taken[i]);
    }
    return connection.exec_binary(sql, params);
  }
};

constexpr auto T = ElementType::text;
constexpr auto I8 = ElementType::int8;
constexpr auto I4 = ElementType::int4;
constexpr auto B = ElementType::boolean;
constexpr auto TS = ElementType::timestamptz;
constexpr auto BY = ElementType::bytea;

struct LogColumns : Columns<14> {
  LogColumns() : Columns<14>({T, I8, T, T, T, T, T, TS, TS, T, T, T, B, B}) {}
  void add(const NewRecord& record) {
    const Mutation& m = record.mutation;
    auto& a = arrays;
    a[0].push_text(m.idempotency_key);
    a[1].push_int8(static_cast<std::int64_t>(m.seq));
    a[2].push_text(m.kind);
    a[3].push_text(record.stored_payload_json);
    a[4].push_text(record.payload_sha256);
    a[5].push_text(record.outcome == Outcome::applied ? "applied" : "rejected");
    a[6].push_text_or_null(record.reason);
    a[7].push_timestamptz_or_null(m.created_at_unix_ms);
    a[8].push_timestamptz_unix_ms(record.applied_at_unix_ms);
    a[9].push_text_or_null(m.prev_hash);
    a[10].push_text_or_null(m.record_hash);
    a[11].push_text_or_null(m.signature);
    a[12].push_bool(record.signature_verified);
    // payload_text takes the bytes when they are the agent's own (not a withheld marker or the
    // wrapper of a payload that was not JSON); payload (jsonb) takes the others.
    a[13].push_bool(record.stored_payload_json == m.payload_json);
  }
};

struct WeighingColumns : Columns<17> {
  WeighingColumns() : Columns<17>({T, T, T, T, T, T, I8, T, BY, T, T, T, T, T, TS, T, T}) {}
  void add(const NewRecord& record) {
    const Mutation& m = record.mutation;
    const WeighingCaptured& w = *m.weighing;
    auto& a = arrays;
    a[0].push_text(m.idempotency_key);
    a[1].push_text(w.scale);
    a[2].push_text(w.weight);
    a[3].push_text(w.unit);
    a[4].push_text(w.mode);
    a[5].push_text_or_null(w.tare);
    a[6].push_int8_or_null(static_cast<std::int64_t>(w.reading_seq));
    a[7].push_text_or_null(w.reading_ts);
    a[8].push_text_or_null(frame_bytes(w.raw));
    a[9].push_text_or_null(w.operator_id);
    if (w.decks.empty()) {
      a[10].push_null();
    } else {
      boost::json::array decks;
      for (const auto& deck : w.decks) {
        decks.push_back({{"index", deck.index}, {"weight", deck.weight}, {"stable", deck.stable}});
      }
      a[10].push_text(boost::json::serialize(decks));
    }
    if (w.axles.empty()) {
      a[11].push_null();
    } else {
      boost::json::array axles;
      for (const auto& axle : w.axles)
        axles.push_back({{"index", axle.index}, {"weight", axle.weight}});
      a[11].push_text(boost::json::serialize(axles));
    }
    a[12].push_text_or_null(w.signature);
    a[13].push_text_or_null(w.agent_version);
    a[14].push_timestamptz_or_null(m.created_at_unix_ms);
    a[15].push_text_or_null(w.type);
    a[16].push_text_or_null(w.gvw);
  }
};

struct DeckColumns : Columns<4> {
  DeckColumns() : Columns<4>({T, I4, T, B}) {}
  void add(const std::string& key, const WeighingCaptured& w) {
    for (const auto& deck : w.decks) {
      arrays[0].push_text(key);
      arrays[1].push_int4(static_cast<std::int32_t>(deck.index));
      arrays[2].push_text(deck.weight);
      arrays[3].push_bool(deck.stable);
    }
  }
};

struct AxleColumns : Columns<7> {
  AxleColumns() : Columns<7>({T, I4, T, T, I8, BY, T}) {}
  void add(const std::string& key, const WeighingCaptured& w) {
    for (const auto& axle : w.axles) {
      arrays[0].push_text(key);
      arrays[1].push_int4(static_cast<std::int32_t>(axle.index));
      arrays[2].push_text(axle.weight);
      arrays[3].push_text_or_null(axle.reading);
      arrays[4].push_int8_or_null(static_cast<std::int64_t>(axle.reading_seq));
      arrays[5].push_text_or_null(frame_bytes(axle.raw));
      arrays[6].push_text_or_null(axle.captured_at);
    }
  }
};

// The keys as a text[] parameter.
std::string key_array(const std::vector<std::string>& keys) {
  BinaryArray array(ElementType::text);
  for (const auto& key : keys) array.push_text(key);
  return array.take();
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
  const std::string key_param = key_array(keys);
  auto result = connection_.exec_binary(
      R"sql(
SELECT idempotency_key, seq, payload_sha256, outcome, coalesce(reason, ''),
       (extract(epoch FROM applied_at) * 1000)::bigint
FROM mutation_log
WHERE station_id = $1::text AND idempotency_key = ANY ($2::text[]))sql",
      {station_id, key_param});
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
  LogColumns log;
  WeighingColumns weighings;
  DeckColumns decks;
  AxleColumns axles;
  std::vector<std::string> filled;  // late fills take the place of their marker's record
  for (const auto& record : records) {
    const Mutation& m = record.mutation;
    log.add(record);
    if (record.fills_withheld) filled.push_back(m.idempotency_key);
    if (record.outcome == Outcome::applied && m.kind == kWeighingCapturedKind && m.weighing) {
      weighings.add(record);
      decks.add(m.idempotency_key, *m.weighing);
      axles.add(m.idempotency_key, *m.weighing);
    }
  }
  if (!filled.empty()) {
    const std::string key_param = key_array(filled);
    auto removed = connection_.exec_binary(
        R"sql(
DELETE FROM mutation_log
WHERE station_id = $1::text AND reason LIKE 'withheld\_by\_agent%'
  AND idempotency_key = ANY ($2::text[]))sql",
        {station_id, key_param});
    if (!removed) return removed.error();
  }
  if (auto r = log.insert(connection_, kInsertLogSql, station_id); !r) return r.error();
  if (weighings.empty()) return {};
  if (auto r = weighings.insert(connection_, kInsertWeighingSql, station_id); !r) {
    return r.error();
  }
  // A round trip for decks and for axles only when a weighing of the batch has some.
  if (!decks.empty()) {
    if (auto r = decks.insert(connection_, kInsertDecksSql, station_id); !r) return r.error();
  }
  if (!axles.empty()) {
    if (auto r = axles.insert(connection_, kInsertAxlesSql, station_id); !r) return r.error();
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
