// The replay decision rules (SPEC §5) against an in-memory fake of the store.
#include "weighlink/backend/replay.hpp"

#include <doctest/doctest.h>

#include <map>

#include "weighlink/backend/auth.hpp"
#include "weighlink/sync/evidence.hpp"

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
  int lock_calls = 0;

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
    auto& station = stations.at(std::string(station_id));
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

Mutation weighing(std::uint64_t seq, std::string key, std::string weight) {
  Mutation m = generic(seq, std::move(key), R"({"weight":")" + weight + R"("})");
  m.kind = kWeighingCapturedKind;
  WeighingCaptured w;
  w.scale = "main";
  w.weight = std::move(weight);
  w.unit = "kg";
  w.mode = "gross";
  m.weighing = w;
  return m;
}

FakeStore store_with_station(std::uint64_t high_water = 0) {
  FakeStore store;
  auto& state = store.stations["st1"].state;
  state.high_water_seq = high_water;
  state.generation = "gen-1";
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
  CHECK(out->results[1].reason.starts_with("invalid_payload: "));
  CHECK(out->results[2].outcome == Outcome::applied);
  CHECK(out->watermark.high_water_seq == 3);
  REQUIRE(store.stations["st1"].log.count("b") == 1);
  CHECK(store.stations["st1"].log["b"].outcome == Outcome::rejected);

  SUBCASE("and re-sending it is a DUPLICATE of a rejection") {
    auto again = apply_batch(store, "st1", {weighing(2, "b", "12,5")}, kNow);
    REQUIRE(again.has_value());
    CHECK(again->results[0].outcome == Outcome::duplicate);
    CHECK(again->results[0].original_outcome == Outcome::rejected);
    CHECK(again->results[0].reason.starts_with("invalid_payload: "));
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

TEST_CASE("replay: a batch with a missing key or seq 0 is malformed as a whole") {
  CHECK_FALSE(malformed_batch_reason({generic(1, "a")}).has_value());
  CHECK(malformed_batch_reason({generic(1, "")}).has_value());
  CHECK(malformed_batch_reason({generic(0, "a")}).has_value());
  CHECK(malformed_batch_reason({generic(1, "has space")}).has_value());
  Mutation no_kind = generic(1, "a");
  no_kind.kind.clear();
  CHECK(malformed_batch_reason({no_kind}).has_value());
  CHECK(malformed_batch_reason({generic(1, std::string(256, 'k'))}).has_value());
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
  m.payload_json = R"({"scale":"main","type":"axle","weight":")" + weight + R"(","gvw":")" +
                   weight + R"(","unit":"kg","mode":"gross"})";
  WeighingCaptured from_json;
  from_json.scale = "main";
  from_json.type = "axle";
  from_json.weight = weight;
  from_json.gvw = weight;
  from_json.unit = "kg";
  from_json.mode = "gross";
  m.weighing_from_payload = from_json;
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
  CHECK(records[0].mutation.weighing->type == "axle");

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
  c.weighing_from_payload = WeighingCaptured{};  // ignored without a key: the typed copy is kept
  auto out = apply_batch(store, "st1", {a, b, c}, kNow);
  REQUIRE(out.has_value());
  for (const auto& r : out->results) CHECK(r.outcome == Outcome::applied);
  CHECK(out->unsigned_recorded == 3);
  const auto& records = store.stations["st1"].records;
  CHECK(records[0].mutation.signature == "forged");
  CHECK_FALSE(records[0].signature_verified);
  CHECK(records[2].mutation.weighing->weight == "100");
}

TEST_CASE("signatures: evidence fields must be empty or short visible ASCII") {
  Mutation ok = generic(1, "a");
  sign(ok, kGenesis);
  CHECK_FALSE(malformed_batch_reason({ok}).has_value());
  Mutation long_hash = ok;
  long_hash.record_hash = std::string(129, 'a');
  CHECK(malformed_batch_reason({long_hash}).has_value());
  Mutation nul = ok;
  nul.signature = std::string("ab\0cd", 5);
  CHECK(malformed_batch_reason({nul}).has_value());
}

TEST_CASE("weighings: decks and axles without a number take their position; twice is rejected") {
  Mutation m = weighing(1, "a", "300");
  m.weighing->gvw = "300";
  AxleWeight first;
  first.weight = "100";
  first.reading = "100";
  first.reading_seq = 7;
  AxleWeight second;
  second.weight = "200";
  m.weighing->axles = {first, second};
  m.weighing->decks = {{0, "100", true}, {0, "200", false}};
  number_by_position(*m.weighing);
  CHECK(m.weighing->axles[0].index == 1);
  CHECK(m.weighing->axles[1].index == 2);
  CHECK(m.weighing->decks[1].index == 2);
  CHECK_FALSE(rejection_reason(m).has_value());

  Mutation twice = m;
  twice.weighing->axles[1].index = 1;
  CHECK(rejection_reason(twice).value().find("axle 1 appears twice") != std::string::npos);
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
