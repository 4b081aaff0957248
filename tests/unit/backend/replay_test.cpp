// The replay decision rules (SPEC §5) against an in-memory fake of the store.
#include "replay_fixture.hpp"

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
