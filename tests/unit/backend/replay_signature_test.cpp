// The replay rules for a station with a signing key: signatures and the evidence chain, and the
// typed rows of decks and axles.
#include "replay_fixture.hpp"

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
