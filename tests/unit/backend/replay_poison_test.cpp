// One bad mutation is rejected alone (issue 15): poison payloads, unsigned weighings, withheld
// mutations, rows the database refuses, bounded reasons.
#include "replay_fixture.hpp"

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
      {R"({"a":")" + std::string(weighlink::record::kMaxPayloadBytes, 'x') + R"("})",
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
