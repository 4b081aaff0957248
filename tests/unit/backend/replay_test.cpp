// The replay decision rules (SPEC §5) against an in-memory fake of the store.
#include "weighlink/service/replay.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <map>
#include <set>

#include "weighlink/record/evidence.hpp"
#include "weighlink/service/auth.hpp"
#include "weighlink/service/token.hpp"

using namespace weighlink::backend;

namespace {

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

Mutation generic(std::uint64_t seq, std::string key, std::string payload = R"({"n":1})") {
  Mutation m;
  m.station_id = "st1";
  m.idempotency_key = std::move(key);
  m.seq = seq;
  m.kind = "note.added";
  m.payload_json = std::move(payload);
  return m;
}

// A weighing from the capture path: its payload and the typed form the gRPC adapter builds from
// that payload (sync::weighing_from_payload), with the reading behind it.
Mutation weighing(std::uint64_t seq, std::string key, std::string weight) {
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
FakeStore store_with_station(std::uint64_t high_water = 0) {
  FakeStore store;
  auto& state = store.stations["st1"].state;
  state.high_water_seq = high_water;
  state.generation = "gen-1";
  state.accept_unsigned_weighings = true;
  return store;
}

}  // namespace

TEST_CASE("replay: new mutations in seq order are applied and advance the high water") {
  auto store = store_with_station();
  auto out = apply_batch(store, "st1", {generic(1, "a"), generic(2, "b"), generic(3, "c")}, kNow);
  REQUIRE(out.has_value());
  REQUIRE(out->results.size() == 3);
  for (const auto& r : out->results) CHECK(r.outcome == Outcome::applied);
  CHECK(out->watermark.high_water_seq == 3);
  CHECK(out->watermark.generation == "gen-1");
  CHECK(out->expected_seq == 0);
  CHECK(store.stations["st1"].state.high_water_seq == 3);
  CHECK(store.stations["st1"].log.size() == 3);
}

TEST_CASE("replay: a re-sent mutation is a DUPLICATE carrying the original outcome") {
  auto store = store_with_station();
  REQUIRE(apply_batch(store, "st1", {generic(1, "a")}, kNow).has_value());
  auto again = apply_batch(store, "st1", {generic(1, "a")}, kNow + 5000);
  REQUIRE(again.has_value());
  REQUIRE(again->results.size() == 1);
  CHECK(again->results[0].outcome == Outcome::duplicate);
  CHECK(again->results[0].original_outcome == Outcome::applied);
  CHECK(again->results[0].applied_at_unix_ms == kNow);  // the first application, not now
  CHECK(store.stations["st1"].records.size() == 1);
  CHECK(again->watermark.high_water_seq == 1);
}

TEST_CASE("replay: the same key with a different payload is REJECTED and never overwritten") {
  auto store = store_with_station();
  REQUIRE(apply_batch(store, "st1", {generic(1, "a", R"({"n":1})")}, kNow).has_value());
  const std::string original_sha = store.stations["st1"].log["a"].payload_sha256;
  auto out = apply_batch(store, "st1", {generic(2, "a", R"({"n":2})")}, kNow);
  REQUIRE(out.has_value());
  CHECK(out->results[0].outcome == Outcome::rejected);
  CHECK(out->results[0].reason == "idempotency_key_reused");
  CHECK(store.stations["st1"].log["a"].payload_sha256 == original_sha);
  CHECK(store.stations["st1"].records.size() == 1);
  CHECK(out->watermark.high_water_seq == 1);
}

TEST_CASE("replay: the same key twice in one batch is applied once") {
  auto store = store_with_station();
  auto out = apply_batch(store, "st1", {generic(1, "a"), generic(1, "a")}, kNow);
  REQUIRE(out.has_value());
  REQUIRE(out->results.size() == 2);
  CHECK(out->results[0].outcome == Outcome::applied);
  CHECK(out->results[1].outcome == Outcome::duplicate);
  CHECK(store.stations["st1"].records.size() == 1);
}

TEST_CASE("replay: a batch past a gap stops and names the expected seq") {
  auto store = store_with_station(2);
  auto out = apply_batch(store, "st1", {generic(5, "e"), generic(6, "f")}, kNow);
  REQUIRE(out.has_value());
  CHECK(out->results.empty());
  CHECK(out->expected_seq == 3);
  CHECK(out->watermark.high_water_seq == 2);
  CHECK(store.stations["st1"].log.empty());
}

TEST_CASE("replay: mutations before a gap are applied, those after it are not answered") {
  auto store = store_with_station();
  auto out = apply_batch(store, "st1", {generic(1, "a"), generic(2, "b"), generic(4, "d")}, kNow);
  REQUIRE(out.has_value());
  REQUIRE(out->results.size() == 2);
  CHECK(out->expected_seq == 3);
  CHECK(out->watermark.high_water_seq == 2);
  CHECK(store.stations["st1"].log.count("d") == 0);
}

TEST_CASE("replay: a new key claiming an already processed seq is REJECTED seq_already_used") {
  auto store = store_with_station();
  REQUIRE(apply_batch(store, "st1", {generic(1, "a"), generic(2, "b")}, kNow).has_value());
  auto out = apply_batch(store, "st1", {generic(2, "other")}, kNow);
  REQUIRE(out.has_value());
  CHECK(out->results[0].outcome == Outcome::rejected);
  CHECK(out->results[0].reason == "seq_already_used");
  CHECK(store.stations["st1"].log.count("other") == 0);
  CHECK(out->watermark.high_water_seq == 2);
}

TEST_CASE("replay: an invalid mutation is recorded as rejected and the high water passes it") {
  auto store = store_with_station();
  auto out = apply_batch(
      store, "st1", {generic(1, "a"), weighing(2, "b", "12,5"), weighing(3, "c", "32540.5")}, kNow);
  REQUIRE(out.has_value());
  REQUIRE(out->results.size() == 3);
  CHECK(out->results[1].outcome == Outcome::rejected);
  CHECK(out->results[1].reason.starts_with("invalid_weight: "));
  CHECK(out->results[2].outcome == Outcome::applied);
  CHECK(out->watermark.high_water_seq == 3);
  REQUIRE(store.stations["st1"].log.count("b") == 1);
  CHECK(store.stations["st1"].log["b"].outcome == Outcome::rejected);

  SUBCASE("and re-sending it is a DUPLICATE of a rejection") {
    auto again = apply_batch(store, "st1", {weighing(2, "b", "12,5")}, kNow);
    REQUIRE(again.has_value());
    CHECK(again->results[0].outcome == Outcome::duplicate);
    CHECK(again->results[0].original_outcome == Outcome::rejected);
    CHECK(again->results[0].reason.starts_with("invalid_weight: "));
  }
}

TEST_CASE("replay: a payload that is not a JSON object is rejected but still stored as JSON") {
  auto store = store_with_station();
  auto out = apply_batch(store, "st1", {generic(1, "a", "not json"), generic(2, "b", "[1]")}, kNow);
  REQUIRE(out.has_value());
  CHECK(out->results[0].outcome == Outcome::rejected);
  CHECK(out->results[1].outcome == Outcome::rejected);
  const auto& stored = store.stations["st1"].records[0].stored_payload_json;
  CHECK(stored == R"({"invalid_payload":"not json"})");
}

TEST_CASE("replay: weighing.captured without its typed message is rejected") {
  auto store = store_with_station();
  Mutation m = weighing(1, "a", "100");
  m.weighing.reset();
  auto out = apply_batch(store, "st1", {m}, kNow);
  REQUIRE(out.has_value());
  CHECK(out->results[0].outcome == Outcome::rejected);
}

TEST_CASE("replay: every weight of a weighing must be an exact decimal") {
  Mutation ok = weighing(1, "a", "32540");
  ok.weighing->tare = "120.5";
  ok.weighing->decks = {{1, "12440", true}, {2, "20100", true}};
  AxleWeight axle;
  axle.index = 1;
  axle.weight = "6000";
  axle.reading_seq = 9;
  axle.raw = "A1";
  ok.weighing->axles = {axle};
  CHECK_FALSE(rejection_reason(ok).has_value());

  Mutation bad_tare = ok;
  bad_tare.weighing->tare = "12O";
  CHECK(rejection_reason(bad_tare).value().find("tare") != std::string::npos);
  Mutation bad_deck = ok;
  bad_deck.weighing->decks[1].weight = "20 100";
  CHECK(rejection_reason(bad_deck).value().find("deck 2") != std::string::npos);
  Mutation bad_axle = ok;
  bad_axle.weighing->axles[0].weight = "6e3";
  CHECK(rejection_reason(bad_axle).value().find("axle 1") != std::string::npos);
  Mutation no_unit = ok;
  no_unit.weighing->unit.clear();
  CHECK(rejection_reason(no_unit).has_value());
  Mutation nul = ok;
  nul.weighing->operator_id = std::string("op\0x", 4);
  CHECK(rejection_reason(nul).has_value());
}

TEST_CASE("replay: a valid payload is stored exactly as sent, with its sha256") {
  auto store = store_with_station();
  const std::string payload = R"({"b":1, "a":"32540.50"})";
  REQUIRE(apply_batch(store, "st1", {generic(1, "a", payload)}, kNow).has_value());
  const auto& record = store.stations["st1"].records.at(0);
  CHECK(record.stored_payload_json == payload);
  CHECK(record.payload_sha256 == payload_sha256("note.added", payload));
  CHECK(record.applied_at_unix_ms == kNow);
}

TEST_CASE("replay: unknown kinds are accepted into the generic log") {
  auto store = store_with_station();
  Mutation m = generic(1, "a");
  m.kind = "gate.opened";
  auto out = apply_batch(store, "st1", {m}, kNow);
  REQUIRE(out.has_value());
  CHECK(out->results[0].outcome == Outcome::applied);
}

TEST_CASE("replay: a store failure fails the batch and does not move the high water") {
  auto store = store_with_station();
  store.fail_insert_with = Errc::unique_violation;
  auto out = apply_batch(store, "st1", {generic(1, "a")}, kNow);
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error() == Errc::unique_violation);
  CHECK(store.stations["st1"].state.high_water_seq == 0);
}

TEST_CASE("replay: an unknown station is an error, not an empty answer") {
  FakeStore store;
  auto out = apply_batch(store, "nope", {generic(1, "a")}, kNow);
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error() == Errc::station_not_found);
}

TEST_CASE("replay: an empty batch answers the watermark") {
  auto store = store_with_station(7);
  auto out = apply_batch(store, "st1", {}, kNow);
  REQUIRE(out.has_value());
  CHECK(out->results.empty());
  CHECK(out->watermark.high_water_seq == 7);
}

TEST_CASE(
    "replay: retries a unique violation and a lost connection once, serialization failures a few "
    "times") {
  CHECK(should_retry(Errc::unique_violation, 1));
  CHECK_FALSE(should_retry(Errc::unique_violation, 2));
  CHECK(should_retry(Errc::serialization_failure, 1));
  CHECK(should_retry(Errc::serialization_failure, 3));
  CHECK_FALSE(should_retry(Errc::serialization_failure, 4));
  CHECK(should_retry(Errc::connection_lost, 1));
  CHECK_FALSE(should_retry(Errc::connection_lost, 2));
  CHECK_FALSE(should_retry(Errc::database_error, 1));
}

TEST_CASE("replay: payload sha256 covers the kind and the payload") {
  const auto a = payload_sha256("k", "{}");
  CHECK(a.size() == 64);
  CHECK(a == payload_sha256("k", "{}"));
  CHECK(a != payload_sha256("k2", "{}"));
  CHECK(a != payload_sha256("k", "{ }"));
  // sha256("k\n{}") computed independently (printf 'k\n{}' | sha256sum).
  CHECK(a == "869546d53d1d92f7f6bb2d5ad1a347c7c12d34fd97543785b7b3caa3e14a5d11");
}

TEST_CASE("replay: exact decimals are digits with an optional sign and fraction") {
  for (const char* ok : {"0", "32540", "-5", "+12", "12.5", "0.001", "007"}) {
    CHECK_MESSAGE(is_exact_decimal(ok), ok);
  }
  for (const char* bad :
       {"", "-", "1.", ".5", "1e3", "12,5", " 12", "12 ", "1.2.3", "NaN", "inf"}) {
    CHECK_FALSE_MESSAGE(is_exact_decimal(bad), bad);
  }
}

TEST_CASE("replay: only a seq of 0 or beyond bigint makes a batch malformed as a whole") {
  CHECK_FALSE(malformed_batch_reason({generic(1, "a")}).has_value());
  CHECK(malformed_batch_reason({generic(0, "a")}).has_value());
  CHECK(malformed_batch_reason({generic(1, "a"), generic(1ULL << 63, "b")}).has_value());
  // Everything else is one mutation's problem, rejected alone.
  CHECK_FALSE(malformed_batch_reason({generic(1, "")}).has_value());
  CHECK_FALSE(malformed_batch_reason({generic(1, "has space")}).has_value());
  Mutation no_kind = generic(1, "a");
  no_kind.kind.clear();
  CHECK_FALSE(malformed_batch_reason({no_kind}).has_value());
  CHECK_FALSE(malformed_batch_reason({generic(1, std::string(256, 'k'))}).has_value());
}

TEST_CASE("auth: a token writes only its own station") {
  const StationAuth st1{"st1", false};
  CHECK(check_access(st1, "st1", {generic(1, "a")}).has_value());
  CHECK(check_access(std::nullopt, "st1", {}).error() == Errc::unauthenticated);
  CHECK(check_access(StationAuth{"st1", true}, "st1", {}).error() == Errc::unauthenticated);
  CHECK(check_access(st1, "st2", {}).error() == Errc::permission_denied);
  Mutation foreign = generic(1, "a");
  foreign.station_id = "st2";
  CHECK(check_access(st1, "st1", {generic(1, "a"), foreign}).error() == Errc::permission_denied);
}

// --- Signatures and the evidence chain (a station with a signing key) ---

namespace {

const std::vector<unsigned char> kKey(32, 0x5a);

// Signs `m` as the agent's outbox does, chained to `prev`; returns its record_hash.
std::string sign(Mutation& m, const std::string& prev,
                 const std::vector<unsigned char>& key = kKey) {
  m.prev_hash = prev;
  m.record_hash = weighlink::sync::chain_hash(
      prev, {m.station_id, m.seq, m.idempotency_key, m.kind, m.created_at_unix_ms, m.payload_json});
  m.signature = weighlink::sync::sign_record(key, m.record_hash);
  return m.record_hash;
}

// A weighing whose typed copy says `typed_weight` and whose signed JSON says `weight`, with the
// form built from the JSON as the gRPC adapter builds it.
Mutation signed_weighing(std::uint64_t seq, std::string key, const std::string& weight,
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

FakeStore keyed_store(std::uint64_t high_water = 0) {
  auto store = store_with_station(high_water);
  store.stations["st1"].state.signing_key = kKey;
  return store;
}

const std::string kGenesis(weighlink::sync::kGenesisHash);

}  // namespace

TEST_CASE("signatures: a correctly signed chain is applied, verified, and stores what was signed") {
  auto store = keyed_store();
  Mutation a = signed_weighing(1, "a", "32540", "99999");  // the typed copy was altered
  Mutation b = generic(2, "b");
  Mutation c = generic(3, "c");
  sign(c, sign(b, sign(a, kGenesis)));
  auto out = apply_batch(store, "st1", {a, b, c}, kNow);
  REQUIRE(out.has_value());
  REQUIRE(out->results.size() == 3);
  for (const auto& r : out->results) CHECK_MESSAGE(r.outcome == Outcome::applied, r.reason);
  CHECK(out->unsigned_recorded == 0);
  const auto& records = store.stations["st1"].records;
  REQUIRE(records.size() == 3);
  for (const auto& r : records) CHECK(r.signature_verified);
  CHECK(records[0].mutation.record_hash == a.record_hash);
  CHECK(records[0].mutation.signature == a.signature);
  // The weighing stored is the one the signature covers, not the unsigned typed copy.
  REQUIRE(records[0].mutation.weighing.has_value());
  CHECK(records[0].mutation.weighing->weight == "32540");
  CHECK(records[0].mutation.weighing->gvw == "32540");
  CHECK(records[0].mutation.weighing->type == "static");

  SUBCASE("the next batch continues from the stored record_hash") {
    Mutation d = generic(4, "d");
    sign(d, c.record_hash);
    auto next = apply_batch(store, "st1", {d}, kNow);
    REQUIRE(next.has_value());
    CHECK(next->results[0].outcome == Outcome::applied);
  }
  SUBCASE("a re-sent signed mutation is a DUPLICATE, not checked again") {
    auto again = apply_batch(store, "st1", {a}, kNow);
    REQUIRE(again.has_value());
    CHECK(again->results[0].outcome == Outcome::duplicate);
  }
}

TEST_CASE("signatures: a changed payload is REJECTED bad_signature and does not block later seqs") {
  auto store = keyed_store();
  Mutation a = signed_weighing(1, "a", "32540", "32540");
  Mutation b = generic(2, "b");
  sign(b, sign(a, kGenesis));
  a.payload_json = R"({"scale":"main","weight":"12540","unit":"kg","mode":"gross"})";
  auto out = apply_batch(store, "st1", {a, b}, kNow);
  REQUIRE(out.has_value());
  REQUIRE(out->results.size() == 2);
  CHECK(out->results[0].outcome == Outcome::rejected);
  CHECK(out->results[0].reason.starts_with("bad_signature: record_hash "));
  CHECK(out->results[1].outcome == Outcome::applied);
  CHECK(out->watermark.high_water_seq == 2);
  const auto& records = store.stations["st1"].records;
  CHECK_FALSE(records[0].signature_verified);
  CHECK(records[0].mutation.record_hash == a.record_hash);  // stored as given
  CHECK(store.stations["st1"].log["a"].outcome == Outcome::rejected);
}

TEST_CASE("signatures: another key, another record's signature or none is bad_signature") {
  auto store = keyed_store();
  Mutation other_key = generic(1, "a");
  sign(other_key, kGenesis, std::vector<unsigned char>(32, 0x11));
  Mutation no_evidence = generic(2, "b");
  Mutation swapped = generic(3, "c");
  sign(swapped, kGenesis);
  swapped.signature = other_key.signature;
  auto out = apply_batch(store, "st1", {other_key, no_evidence, swapped}, kNow);
  REQUIRE(out.has_value());
  REQUIRE(out->results.size() == 3);
  CHECK(out->results[0].reason.starts_with("bad_signature: the signature is not made"));
  CHECK(out->results[1].reason.starts_with("bad_signature: the mutation carries no"));
  CHECK(out->results[2].reason.starts_with("bad_signature: the signature is not made"));
  for (const auto& r : out->results) CHECK(r.outcome == Outcome::rejected);
  CHECK(out->watermark.high_water_seq == 3);
}

TEST_CASE("signatures: a prev_hash that does not continue seq - 1 is REJECTED chain_broken") {
  auto store = keyed_store();
  Mutation a = generic(1, "a");
  Mutation b = generic(2, "b");
  sign(a, kGenesis);
  sign(b, std::string(64, 'f'));  // signed, but chained to a record that is not seq 1
  Mutation c = generic(3, "c");
  sign(c, b.record_hash);
  auto out = apply_batch(store, "st1", {a, b, c}, kNow);
  REQUIRE(out.has_value());
  REQUIRE(out->results.size() == 3);
  CHECK(out->results[0].outcome == Outcome::applied);
  CHECK(out->results[1].outcome == Outcome::rejected);
  CHECK(out->results[1].reason.starts_with("chain_broken: prev_hash ffffffffffffffff"));
  CHECK(store.stations["st1"].records[1].signature_verified);  // the signature itself was good
  CHECK(out->results[2].outcome == Outcome::applied);          // continues b as stored

  SUBCASE("also across batches, against the stored record_hash") {
    Mutation d = generic(4, "d");
    sign(d, a.record_hash);
    auto next = apply_batch(store, "st1", {d}, kNow);
    REQUIRE(next.has_value());
    CHECK(next->results[0].reason.starts_with("chain_broken: "));
  }
}

TEST_CASE("signatures: a chain is accepted where seq - 1 is not known or a new outbox starts") {
  SUBCASE("first mutation seen above a high water without a stored row (seq continued)") {
    auto store = keyed_store(41);
    Mutation m = generic(42, "a");
    sign(m, std::string(64, 'e'));  // the agent's anchor after pruning, unknown here
    auto out = apply_batch(store, "st1", {m}, kNow);
    REQUIRE(out.has_value());
    CHECK(out->results[0].outcome == Outcome::applied);
  }
  SUBCASE("seq - 1 stored without evidence (before the key or an older agent)") {
    auto store = store_with_station();
    REQUIRE(apply_batch(store, "st1", {generic(1, "a")}, kNow).has_value());
    store.stations["st1"].state.signing_key = kKey;
    Mutation m = generic(2, "b");
    sign(m, std::string(64, 'e'));
    auto out = apply_batch(store, "st1", {m}, kNow);
    REQUIRE(out.has_value());
    CHECK(out->results[0].outcome == Outcome::applied);
  }
  SUBCASE("a reinstalled agent starts a new chain at the genesis hash above the high water") {
    auto store = keyed_store();
    Mutation a = generic(1, "a");
    sign(a, kGenesis);
    REQUIRE(apply_batch(store, "st1", {a}, kNow).has_value());
    Mutation fresh = generic(2, "b");
    sign(fresh, kGenesis);
    auto out = apply_batch(store, "st1", {fresh}, kNow);
    REQUIRE(out.has_value());
    CHECK(out->results[0].outcome == Outcome::applied);
  }
}

TEST_CASE("signatures: a station without a key accepts and stores the evidence as given") {
  auto store = store_with_station();
  Mutation a = generic(1, "a");
  a.prev_hash = "not-a-hash";
  a.record_hash = "also-not";
  a.signature = "forged";
  Mutation b = generic(2, "b");  // no evidence at all
  Mutation c = weighing(3, "c", "100");
  auto out = apply_batch(store, "st1", {a, b, c}, kNow);
  REQUIRE(out.has_value());
  for (const auto& r : out->results) CHECK(r.outcome == Outcome::applied);
  CHECK(out->unsigned_recorded == 3);
  const auto& records = store.stations["st1"].records;
  CHECK(records[0].mutation.signature == "forged");
  CHECK_FALSE(records[0].signature_verified);
  CHECK(records[2].mutation.weighing->weight == "100");
}

TEST_CASE("signatures: evidence that is not empty or short visible ASCII rejects that mutation") {
  Mutation ok = generic(1, "a");
  sign(ok, kGenesis);
  CHECK_FALSE(rejection_reason(ok).has_value());
  Mutation long_hash = generic(2, "b");
  sign(long_hash, ok.record_hash);
  long_hash.record_hash = std::string(129, 'a');
  Mutation nul = generic(3, "c");
  sign(nul, ok.record_hash);
  nul.signature = std::string("ab\0cd", 5);
  CHECK(rejection_reason(long_hash).value().starts_with("invalid_evidence: "));
  auto store = store_with_station();
  auto out = apply_batch(store, "st1", {ok, long_hash, nul, generic(4, "d")}, kNow);
  REQUIRE(out.has_value());
  REQUIRE(out->results.size() == 4);
  CHECK(out->results[0].outcome == Outcome::applied);
  CHECK(out->results[1].reason.starts_with("invalid_evidence: "));
  CHECK(out->results[2].reason.starts_with("invalid_evidence: "));
  CHECK(out->results[3].outcome == Outcome::applied);
  CHECK(out->watermark.high_water_seq == 4);
  // Recorded without the evidence no column could hold.
  const auto& records = store.stations["st1"].records;
  CHECK(records[1].mutation.record_hash.empty());
  CHECK(records[2].mutation.signature.empty());
}

TEST_CASE("weighings: decks and axles without a number take their position; twice is rejected") {
  Mutation m = weighing(1, "a", "300");
  m.weighing->gvw = "300";
  AxleWeight first;
  first.weight = "100";
  first.reading = "100";
  first.reading_seq = 7;
  first.raw = "A1";
  AxleWeight second;
  second.weight = "200";
  second.reading_seq = 8;
  second.raw = "A2";
  m.weighing->axles = {first, second};
  m.weighing->decks = {{0, "100", true}, {0, "200", false}};
  number_by_position(*m.weighing);
  CHECK(m.weighing->axles[0].index == 1);
  CHECK(m.weighing->axles[1].index == 2);
  CHECK(m.weighing->decks[1].index == 2);
  CHECK_FALSE(rejection_reason(m).has_value());

  Mutation twice = m;
  twice.weighing->axles[1].index = 1;
  CHECK(rejection_reason(twice).value() == "duplicate_part: axle 1 appears twice");
  Mutation bad_gvw = m;
  bad_gvw.weighing->gvw = "3OO";
  CHECK(rejection_reason(bad_gvw).value().find("gvw") != std::string::npos);
  Mutation bad_reading = m;
  bad_reading.weighing->axles[0].reading = "1,5";
  CHECK(rejection_reason(bad_reading).value().find("axle 1 reading") != std::string::npos);

  // Through replay, an agent that sent no axle numbers gets them numbered.
  auto store = store_with_station();
  Mutation unnumbered = weighing(1, "u", "300");
  unnumbered.weighing->axles = {first, second};
  auto out = apply_batch(store, "st1", {unnumbered}, kNow);
  REQUIRE(out.has_value());
  CHECK(out->results[0].outcome == Outcome::applied);
  CHECK(store.stations["st1"].records[0].mutation.weighing->axles[1].index == 2);
}

// --- One bad mutation is rejected alone (issue 15) ---

TEST_CASE(
    "poison: a key no column could hold is recorded under a substitute and answered as sent") {
  auto store = store_with_station();
  const std::string spaced = "weights-captured gross weight";
  const std::string long_key(300, 'k');
  auto out = apply_batch(
      store, "st1", {generic(1, "a"), generic(2, spaced), generic(3, long_key), generic(4, "d")},
      kNow);
  REQUIRE(out.has_value());
  REQUIRE(out->results.size() == 4);
  CHECK(out->results[0].outcome == Outcome::applied);
  CHECK(out->results[1].outcome == Outcome::rejected);
  CHECK(out->results[1].reason.starts_with("invalid_key: "));
  CHECK(out->results[1].idempotency_key == spaced);  // the original, so the agent finds its row
  CHECK(out->results[2].reason.starts_with("invalid_key: "));
  CHECK(out->results[2].idempotency_key == long_key);
  CHECK(out->results[3].outcome == Outcome::applied);
  CHECK(out->watermark.high_water_seq == 4);
  const auto substitute = "invalid-key:" + sha256_hex(spaced);
  CHECK(storable_key(spaced) == substitute);
  CHECK(storable_key("fine-key") == "fine-key");
  REQUIRE(store.stations["st1"].log.count(substitute) == 1);
  CHECK(store.stations["st1"].log.count("invalid-key:" + sha256_hex(long_key)) == 1);

  SUBCASE("re-sent, it is a DUPLICATE of its rejection") {
    auto again = apply_batch(store, "st1", {generic(2, spaced)}, kNow);
    REQUIRE(again.has_value());
    CHECK(again->results[0].outcome == Outcome::duplicate);
    CHECK(again->results[0].original_outcome == Outcome::rejected);
    CHECK(again->results[0].idempotency_key == spaced);
  }
}

TEST_CASE("poison: a kind with a newline or upper case is rejected, stored escaped") {
  auto store = store_with_station();
  Mutation newline = generic(2, "b");
  newline.kind = "note\nadded";
  Mutation upper = generic(3, "c");
  upper.kind = "Note.Added";
  auto out = apply_batch(store, "st1", {generic(1, "a"), newline, upper, generic(4, "d")}, kNow);
  REQUIRE(out.has_value());
  CHECK(out->results[1].reason.starts_with("invalid_kind: "));
  CHECK(out->results[2].reason.starts_with("invalid_kind: "));
  CHECK(out->results[3].outcome == Outcome::applied);
  CHECK(store.stations["st1"].records[1].mutation.kind == "note\\nadded");
  // The payload hash still covers the kind as sent: a re-send is recognised.
  CHECK(store.stations["st1"].records[1].payload_sha256 ==
        payload_sha256(newline.kind, newline.payload_json));
}

TEST_CASE("poison: payloads that are not exact JSON objects are rejected with their code") {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"weight":1e5})", "inexact_number"},
      {"[1,2]", "invalid_payload"},
      {"not json", "invalid_json"},
      {R"({"a":"x\u0000y"})", "nul_character"},
      {R"({"a":1,"a":2})", "duplicate_member"},
      {std::string(40, '[') + std::string(40, ']'), "too_deep"},
      {R"({"n":)" + std::string(41, '9') + "}", "number_too_long"},
      {R"({"a":")" + std::string(weighlink::sync::kMaxPayloadBytes, 'x') + R"("})",
       "payload_too_large"},
  };
  auto store = store_with_station();
  std::vector<Mutation> batch;
  std::uint64_t seq = 0;
  for (const auto& [payload, code] : cases) batch.push_back(generic(++seq, "k" + code, payload));
  batch.push_back(generic(++seq, "last"));
  auto out = apply_batch(store, "st1", batch, kNow);
  REQUIRE(out.has_value());
  REQUIRE(out->results.size() == batch.size());
  for (std::size_t i = 0; i + 1 < batch.size(); ++i) {
    CHECK_MESSAGE(out->results[i].reason.starts_with(cases[i].second + ": "),
                  out->results[i].reason);
    // Stored as JSON all the same, bounded.
    const auto& stored = store.stations["st1"].records[i].stored_payload_json;
    CHECK(stored.starts_with(R"({"invalid_payload":)"));
    CHECK(stored.size() < 70 * 1024);
  }
  CHECK(out->results.back().outcome == Outcome::applied);
  CHECK(out->watermark.high_water_seq == seq);
}

TEST_CASE("poison: weighing values out of bounds are rejected with their code, reasons bounded") {
  auto with = [](auto change) {
    Mutation m = weighing(1, "w", "100");
    change(*m.weighing);
    auto reason = rejection_reason(m);
    return reason ? *reason : std::string("(accepted)");
  };
  const std::string huge(200'000, '9');
  const auto overflow = with([&](WeighingCaptured& w) { w.weight = huge; });
  CHECK(overflow.starts_with("weight_out_of_range: "));
  CHECK(overflow.size() < 400);
  CHECK(with([](WeighingCaptured& w) { w.weight = "1e5"; }).starts_with("invalid_weight: "));
  CHECK(with([](WeighingCaptured& w) { w.tare = "0.1234567"; }).starts_with("weight_out_of_range"));
  CHECK(with([](WeighingCaptured& w) {
          w.decks = {{4'000'000'000U, "100", true}};
        }).starts_with("part_out_of_range: deck number 4000000000"));
  CHECK(with([](WeighingCaptured& w) {
          w.decks.assign(65, DeckWeight{0, "1", true});
        }).starts_with("too_many_parts: "));
  CHECK(with([](WeighingCaptured& w) {
          w.scale = std::string(201, 's');
        }).starts_with("text_too_long: "));
  CHECK(with([](WeighingCaptured& w) {
          w.operator_id = "op\nFORGED";
        }).starts_with("control_character: "));
  CHECK(with([](WeighingCaptured& w) {
          w.raw = std::string(5000, 'r');
        }).starts_with("frame_too_large: "));
  CHECK(with([](WeighingCaptured& w) {
          w.reading_seq = 1ULL << 63;
        }).starts_with("value_out_of_range: "));
  CHECK(with([](WeighingCaptured& w) { w.unit.clear(); }).starts_with("invalid_payload: "));
  // A reason quoting client text stays one ASCII line.
  const auto quoted = with([](WeighingCaptured& w) { w.weight = "1\n2\xc3\xa9"; });
  CHECK(quoted.find('\n') == std::string::npos);
  CHECK(quoted.find("\\n") != std::string::npos);
  for (unsigned char c : quoted) CHECK(c < 0x80);
}

TEST_CASE("poison: a weighing needs the reading behind it, each axle's for an axle weighing") {
  auto reason = [](auto change) {
    Mutation m = weighing(1, "w", "100");
    change(*m.weighing);
    return rejection_reason(m).value_or("(accepted)");
  };
  CHECK(reason([](WeighingCaptured&) {}) == "(accepted)");
  CHECK(reason([](WeighingCaptured& w) { w.reading_seq = 0; }).starts_with("missing_evidence: "));
  CHECK(reason([](WeighingCaptured& w) { w.raw.clear(); }).starts_with("missing_evidence: "));
  AxleWeight axle;
  axle.index = 1;
  axle.weight = "100";
  axle.reading_seq = 3;
  axle.raw = "A1";
  CHECK(reason([&](WeighingCaptured& w) {
          w.reading_seq = 0;  // an axle weighing has no reading of its own
          w.raw.clear();
          w.axles = {axle};
        }) == "(accepted)");
  CHECK(reason([&](WeighingCaptured& w) {
          AxleWeight bare = axle;
          bare.index = 2;
          bare.raw.clear();
          w.axles = {axle, bare};
        }).starts_with("missing_evidence: axle 2"));
  Mutation unparsed = weighing(1, "w", "100");
  unparsed.weighing.reset();  // the adapter could not build it: the payload is no object
  CHECK(rejection_reason(unparsed).value().starts_with("invalid_payload: "));
}

TEST_CASE("unsigned weighings: refused for a keyless station that does not accept them") {
  auto store = store_with_station();
  store.stations["st1"].state.accept_unsigned_weighings = false;
  auto out =
      apply_batch(store, "st1", {generic(1, "a"), weighing(2, "w", "100"), generic(3, "c")}, kNow);
  REQUIRE(out.has_value());
  CHECK(out->results[0].outcome == Outcome::applied);
  CHECK(out->results[1].outcome == Outcome::rejected);
  CHECK(out->results[1].reason.starts_with("unsigned_weighing: "));
  CHECK(out->results[1].reason.find("station set-key") != std::string::npos);
  CHECK(out->results[2].outcome == Outcome::applied);
  CHECK(out->watermark.high_water_seq == 3);
  CHECK_FALSE(store.stations["st1"].records[1].mutation.weighing.has_value());

  SUBCASE("a keyed station's signed weighing does not need the setting") {
    auto keyed = keyed_store();
    keyed.stations["st1"].state.accept_unsigned_weighings = false;
    Mutation w = signed_weighing(1, "w", "100", "100");
    sign(w, kGenesis);
    auto signed_out = apply_batch(keyed, "st1", {w}, kNow);
    REQUIRE(signed_out.has_value());
    CHECK(signed_out->results[0].outcome == Outcome::applied);
  }
}

TEST_CASE("unsigned weighings: what is stored is the payload's weighing, never a typed copy") {
  // The adapter builds `weighing` from payload_json for every station; the core stores it.
  auto store = store_with_station();
  Mutation m = weighing(1, "w", "100");
  auto out = apply_batch(store, "st1", {m}, kNow);
  REQUIRE(out.has_value());
  REQUIRE(store.stations["st1"].records[0].mutation.weighing.has_value());
  CHECK(store.stations["st1"].records[0].mutation.weighing->weight == "100");
  CHECK(out->unsigned_recorded == 1);
}

TEST_CASE("withheld: recorded REJECTED under its key with the agent's hash, no checks, no effect") {
  const std::string real_payload = R"({"n":42})";
  Mutation withheld = generic(2, "held");
  withheld.payload_json.clear();
  withheld.withheld_reason = "INTERNAL from the backend 5 times\nFORGED line";
  withheld.withheld_payload_sha256 = payload_sha256("note.added", real_payload);

  SUBCASE("keyless station") {
    auto store = store_with_station();
    auto out = apply_batch(store, "st1", {generic(1, "a"), withheld, generic(3, "c")}, kNow);
    REQUIRE(out.has_value());
    CHECK(out->results[1].outcome == Outcome::rejected);
    CHECK(out->results[1].reason ==
          "withheld_by_agent: INTERNAL from the backend 5 times\\nFORGED line");
    CHECK(out->results[2].outcome == Outcome::applied);
    CHECK(out->watermark.high_water_seq == 3);
    const auto& record = store.stations["st1"].records[1];
    CHECK(record.payload_sha256 == withheld.withheld_payload_sha256);
    CHECK(record.stored_payload_json == R"({"withheld_by_agent":true})");
    // The marker again: a DUPLICATE of the rejection.
    auto again = apply_batch(store, "st1", {withheld}, kNow);
    REQUIRE(again.has_value());
    CHECK(again->results[0].outcome == Outcome::duplicate);
    // The real payload sent later (the dead letter retried once the backend is fixed) is the
    // mutation the marker stood for: applied now, at its seq, in the marker's place.
    auto later = apply_batch(store, "st1", {generic(2, "held", real_payload)}, kNow + 5);
    REQUIRE(later.has_value());
    CHECK_MESSAGE(later->results[0].outcome == Outcome::applied, later->results[0].reason);
    CHECK(later->watermark.high_water_seq == 3);
    CHECK(store.stations["st1"].log.at("held").outcome == Outcome::applied);
    CHECK(store.stations["st1"].log.at("held").seq == 2);
    // And once applied, it is a plain DUPLICATE; another payload under its key is refused.
    auto dup = apply_batch(store, "st1", {generic(2, "held", real_payload)}, kNow + 6);
    REQUIRE(dup.has_value());
    CHECK(dup->results[0].outcome == Outcome::duplicate);
    CHECK(dup->results[0].original_outcome == Outcome::applied);
    auto other = apply_batch(store, "st1", {generic(2, "held", R"({"n":43})")}, kNow + 7);
    REQUIRE(other.has_value());
    CHECK(other->results[0].reason == "idempotency_key_reused");
  }
  SUBCASE("a payload other than the one the marker named does not fill it") {
    auto store = store_with_station();
    REQUIRE(apply_batch(store, "st1", {generic(1, "a"), withheld}, kNow).has_value());
    auto other = apply_batch(store, "st1", {generic(2, "held", R"({"n":41})")}, kNow);
    REQUIRE(other.has_value());
    CHECK(other->results[0].reason == "idempotency_key_reused");
    CHECK(store.stations["st1"].log.at("held").outcome == Outcome::rejected);
  }
  SUBCASE("keyed station: no signature check, and the next mutation chains to its record_hash") {
    auto store = keyed_store();
    Mutation a = generic(1, "a");
    Mutation held = withheld;
    Mutation c = generic(3, "c");
    sign(a, kGenesis);
    held.record_hash = std::string(64, 'b');  // what the outbox row carried
    held.prev_hash = a.record_hash;
    held.signature = "not-checked";
    sign(c, held.record_hash);
    auto out = apply_batch(store, "st1", {a, held, c}, kNow);
    REQUIRE(out.has_value());
    CHECK(out->results[0].outcome == Outcome::applied);
    CHECK(out->results[1].reason.starts_with("withheld_by_agent: "));
    CHECK_MESSAGE(out->results[2].outcome == Outcome::applied, out->results[2].reason);
  }
  SUBCASE("a hash that is not 64 lower-case hex digits is invalid_withheld") {
    auto store = store_with_station();
    Mutation bad = withheld;
    bad.seq = 1;
    bad.withheld_payload_sha256 = "ABC";
    auto out = apply_batch(store, "st1", {bad}, kNow);
    REQUIRE(out.has_value());
    CHECK(out->results[0].reason.starts_with("invalid_withheld: "));
    CHECK(out->watermark.high_water_seq == 1);
  }
  SUBCASE("a long reason is cut") {
    auto store = store_with_station();
    Mutation chatty = withheld;
    chatty.seq = 1;
    chatty.withheld_reason = std::string(10'000, 'r');
    auto out = apply_batch(store, "st1", {chatty}, kNow);
    REQUIRE(out.has_value());
    CHECK(out->results[0].reason.size() < 260);
  }
}

TEST_CASE("poison: created_at beyond what timestamptz holds is rejected and stored as unknown") {
  auto store = store_with_station();
  Mutation far = generic(1, "a");
  far.created_at_unix_ms = std::numeric_limits<std::int64_t>::max();
  Mutation before = generic(2, "b");
  before.created_at_unix_ms = -1;
  auto out = apply_batch(store, "st1", {far, before, generic(3, "c")}, kNow);
  REQUIRE(out.has_value());
  CHECK(out->results[0].reason.starts_with("invalid_created_at: "));
  CHECK(out->results[1].reason.starts_with("invalid_created_at: "));
  CHECK(out->results[2].outcome == Outcome::applied);
  CHECK(store.stations["st1"].records[0].mutation.created_at_unix_ms == 0);
}

TEST_CASE("storage: a row the database refuses is found row by row and rejected alone") {
  auto store = store_with_station();
  store.refuse_keys = {"b"};
  const std::vector<Mutation> batch{generic(1, "a"), generic(2, "b"), generic(3, "c"),
                                    generic(2, "b")};
  // The fast path: one insert for the batch, which the database refuses as a whole.
  auto fast = apply_batch(store, "st1", batch, kNow);
  REQUIRE_FALSE(fast.has_value());
  CHECK(fast.error() == Errc::data_refused);
  CHECK(store.guarded_calls == 0);
  CHECK(store.stations["st1"].log.empty());

  auto out = apply_batch(store, "st1", batch, kNow, InsertMode::row_by_row);
  REQUIRE(out.has_value());
  REQUIRE(out->results.size() == 4);
  CHECK(out->results[0].outcome == Outcome::applied);
  CHECK(out->results[1].outcome == Outcome::rejected);
  CHECK(out->results[1].reason.starts_with("storage_refused: 22003 numeric field overflow"));
  CHECK(out->results[1].reason.find('\n') == std::string::npos);
  CHECK(out->results[2].outcome == Outcome::applied);
  // The same key again in the batch is a duplicate of what is now a rejection.
  CHECK(out->results[3].outcome == Outcome::duplicate);
  CHECK(out->results[3].original_outcome == Outcome::rejected);
  CHECK(out->watermark.high_water_seq == 3);
  auto& station = store.stations["st1"];
  REQUIRE(station.log.count("b") == 1);
  CHECK(station.log["b"].outcome == Outcome::rejected);
  CHECK(station.log["b"].reason.starts_with("storage_refused: "));
  CHECK(store.guarded_calls == 3);
}

TEST_CASE("reason_text: one ASCII line, bounded") {
  CHECK(reason_text("plain") == "plain");
  CHECK(reason_text("a\nb\r\x01") == "a\\nb\\r\\x01");
  CHECK(reason_text("caf\xc3\xa9") == "caf\\xc3\\xa9");
  CHECK(reason_text(std::string(1000, 'x'), 10) == "xxxxxxxxxx...");
}
