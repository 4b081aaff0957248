#pragma once
// The replay decision rules' tests (replay_test.cpp, replay_signature_test.cpp,
// replay_poison_test.cpp) share an in-memory fake of the store and the mutations they send.
#include <doctest/doctest.h>

#include <limits>
#include <map>
#include <set>

#include "weighlink/pg/error.hpp"
#include "weighlink/record/evidence.hpp"
#include "weighlink/service/auth.hpp"
#include "weighlink/service/replay.hpp"
#include "weighlink/service/token.hpp"

namespace replay_fixture {

using namespace weighlink::pg;       // NOLINT(google-build-using-namespace)
using namespace weighlink::service;  // NOLINT(google-build-using-namespace)

constexpr std::int64_t kNow = 1'800'000'000'000;

// Keeps what PostgreSQL would keep, with the same keys; can be told to fail a call.
class FakeStore final : public ReplayStore {
 public:
  struct Station {
    StationState state;
    std::map<std::string, StoredMutation> log;
    std::vector<NewRecord> records;
  };
  std::map<std::string, Station> stations;
  boost::system::error_code fail_insert_with;
  // Keys (as stored) whose records the "database" refuses as PostgreSQL refuses a value out of
  // range: insert() fails the call with data_refused, insert_guarded() refuses the one record.
  std::set<std::string> refuse_keys;
  int lock_calls = 0;
  int guarded_calls = 0;

  Result<StationState> lock_station(std::string_view station_id) override {
    ++lock_calls;
    auto it = stations.find(std::string(station_id));
    if (it == stations.end()) return Errc::station_not_found;
    // As PostgreSQL answers: the record_hash of the row at the high water, when it has one.
    StationState state = it->second.state;
    for (const auto& record : it->second.records) {
      if (record.mutation.seq == state.high_water_seq && !record.mutation.record_hash.empty()) {
        state.last_record_hash = record.mutation.record_hash;
      }
    }
    return state;
  }
  Result<std::vector<StoredMutation>> find_existing(std::string_view station_id,
                                                    const std::vector<std::string>& keys) override {
    std::vector<StoredMutation> found;
    auto& station = stations.at(std::string(station_id));
    for (const auto& key : keys) {
      if (auto it = station.log.find(key); it != station.log.end()) found.push_back(it->second);
    }
    return found;
  }
  Result<void> insert(std::string_view station_id, const std::vector<NewRecord>& records) override {
    if (fail_insert_with) return fail_insert_with;
    for (const auto& record : records) {
      // Only the effect is refused: a record without one (a rejection) goes in.
      if (refuse_keys.count(record.mutation.idempotency_key) != 0 &&
          record.outcome == Outcome::applied) {
        return Errc::data_refused;
      }
    }
    auto& station = stations.at(std::string(station_id));
    for (const auto& record : records) {
      if (!record.fills_withheld) continue;  // takes the place of its marker's record
      station.log.erase(record.mutation.idempotency_key);
      std::erase_if(station.records, [&](const NewRecord& r) {
        return r.mutation.idempotency_key == record.mutation.idempotency_key;
      });
    }
    for (const auto& record : records) {
      const auto& m = record.mutation;
      REQUIRE(station.log.count(m.idempotency_key) == 0);  // the primary key
      for (const auto& [key, stored] : station.log) REQUIRE(stored.seq != m.seq);  // unique seq
      station.log[m.idempotency_key] = {m.idempotency_key,     m.seq,
                                        record.payload_sha256, record.outcome,
                                        record.reason,         record.applied_at_unix_ms};
      station.records.push_back(record);
    }
    return {};
  }
  Result<std::optional<StorageRefusal>> insert_guarded(std::string_view station_id,
                                                       const NewRecord& record) override {
    ++guarded_calls;
    auto inserted = insert(station_id, {record});
    if (!inserted && inserted.error() == Errc::data_refused) {
      return std::optional<StorageRefusal>(
          StorageRefusal{"22003", "numeric field overflow \"9\x01\n..."});
    }
    if (!inserted) return inserted.error();
    return std::optional<StorageRefusal>{};
  }
  Result<void> set_high_water(std::string_view station_id, std::uint64_t seq) override {
    stations.at(std::string(station_id)).state.high_water_seq = seq;
    return {};
  }
};

inline Mutation generic(std::uint64_t seq, std::string key, std::string payload = R"({"n":1})") {
  Mutation m;
  m.station_id = "st1";
  m.idempotency_key = std::move(key);
  m.seq = seq;
  m.kind = "note.added";
  m.payload_json = std::move(payload);
  return m;
}

// A weighing from the capture path: its payload and the typed form the gRPC adapter builds from
// that payload (record::weighing_from_payload), with the reading behind it.
inline Mutation weighing(std::uint64_t seq, std::string key, std::string weight) {
  Mutation m = generic(seq, std::move(key),
                       R"({"scale":"main","weight":")" + weight +
                           R"(","unit":"kg","mode":"gross","reading_seq":7,"raw":"ST,GS"})");
  m.kind = kWeighingCapturedKind;
  WeighingCaptured w;
  w.scale = "main";
  w.weight = std::move(weight);
  w.unit = "kg";
  w.mode = "gross";
  w.reading_seq = 7;
  w.raw = "ST,GS";
  m.weighing = w;
  return m;
}

// A station without a key that accepts unsigned weighings (as every station did before).
inline FakeStore store_with_station(std::uint64_t high_water = 0) {
  FakeStore store;
  auto& state = store.stations["st1"].state;
  state.high_water_seq = high_water;
  state.generation = "gen-1";
  state.accept_unsigned_weighings = true;
  return store;
}

// --- Signatures and the evidence chain (a station with a signing key) ---

inline const std::vector<unsigned char> kKey(32, 0x5a);

// Signs `m` as the agent's outbox does, chained to `prev`; returns its record_hash.
inline std::string sign(Mutation& m, const std::string& prev,
                        const std::vector<unsigned char>& key = kKey) {
  m.prev_hash = prev;
  m.record_hash = weighlink::record::chain_hash(
      prev, {m.station_id, m.seq, m.idempotency_key, m.kind, m.created_at_unix_ms, m.payload_json});
  m.signature = weighlink::record::sign_record(key, m.record_hash);
  return m.record_hash;
}

// A weighing whose typed copy says `typed_weight` and whose signed JSON says `weight`, with the
// form built from the JSON as the gRPC adapter builds it.
inline Mutation signed_weighing(std::uint64_t seq, std::string key, const std::string& weight,
                                const std::string& typed_weight) {
  Mutation m = weighing(seq, std::move(key), typed_weight);
  m.created_at_unix_ms = kNow + static_cast<std::int64_t>(seq);
  m.payload_json = R"({"scale":"main","type":"static","weight":")" + weight + R"(","gvw":")" +
                   weight + R"(","unit":"kg","mode":"gross","reading_seq":7,"raw":"ST,GS"})";
  WeighingCaptured from_json;
  from_json.scale = "main";
  from_json.type = "static";
  from_json.weight = weight;
  from_json.gvw = weight;
  from_json.unit = "kg";
  from_json.mode = "gross";
  from_json.reading_seq = 7;
  from_json.raw = "ST,GS";
  m.weighing = from_json;  // what the adapter builds from the payload; the typed copy is gone
  return m;
}

inline FakeStore keyed_store(std::uint64_t high_water = 0) {
  auto store = store_with_station(high_water);
  store.stations["st1"].state.signing_key = kKey;
  return store;
}

inline const std::string kGenesis(weighlink::record::kGenesisHash);

}  // namespace replay_fixture

using namespace weighlink::pg;       // NOLINT(google-build-using-namespace)
using namespace weighlink::service;  // NOLINT(google-build-using-namespace)
using namespace replay_fixture;      // NOLINT(google-build-using-namespace)
