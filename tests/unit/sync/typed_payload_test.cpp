// The payload JSON -> typed weighing mapping shared by the agent's replay client and the backend.
#include "weighlink/record/typed_payload.hpp"

#include <doctest/doctest.h>

#include "weighlink/sync/v1/sync.pb.h"

using weighlink::record::weighing_from_payload;
namespace pb = weighlink::sync::v1;

TEST_CASE("typed payload: an axle weighing keeps each axle's number and evidence, and the GVW") {
  // As Captures::complete_session writes it.
  const std::string payload = R"({"station_id":"st-1","type":"axle","scale":"main",
    "weight":"14200.5","gvw":"14200.5","unit":"kg","mode":"gross","axle_mode":"direct",
    "axles":[{"number":1,"weight":"6000","reading":"6000","reading_seq":41,
              "captured_at":"2026-01-02T03:04:05.006Z","raw":"\u0002 6000\r"},
             {"number":2,"weight":"8200.5","reading":"8200.5","reading_seq":57,
              "captured_at":"2026-01-02T03:04:09.000Z","raw":"\u0002 8200.5\r"}],
    "protocol":"mt-continuous","operator":"op-7","agent_version":"0.1.0"})";
  pb::WeighingCaptured w;
  REQUIRE(weighing_from_payload(payload, w));
  CHECK(w.type() == "axle");
  CHECK(w.weight() == "14200.5");
  CHECK(w.gvw() == "14200.5");
  CHECK(w.operator_id() == "op-7");
  REQUIRE(w.axles_size() == 2);
  CHECK(w.axles(0).index() == 1);
  CHECK(w.axles(1).index() == 2);
  CHECK(w.axles(1).weight() == "8200.5");
  CHECK(w.axles(1).reading() == "8200.5");
  CHECK(w.axles(1).reading_seq() == 57);
  CHECK(w.axles(1).captured_at() == "2026-01-02T03:04:09.000Z");
  CHECK(w.axles(1).raw() == "\x02 8200.5\r");
}

TEST_CASE("typed payload: a static multi-deck capture keeps its decks, reading and raw frame") {
  const std::string payload = R"({"type":"static","scale":"main","weight":"30100","unit":"kg",
    "mode":"gross","tare":"0","reading_seq":9,"reading_ts":"2026-01-02T03:04:05.000Z",
    "raw":"x","gvw":"30100","decks":[{"index":1,"weight":"12000","stable":true},
    {"index":2,"weight":"18100","stable":false}]})";
  pb::WeighingCaptured w;
  REQUIRE(weighing_from_payload(payload, w));
  CHECK(w.reading_seq() == 9);
  CHECK(w.tare() == "0");
  CHECK(w.raw() == "x");
  REQUIRE(w.decks_size() == 2);
  CHECK(w.decks(0).stable());
  CHECK(w.decks(1).index() == 2);
  CHECK(w.decks(1).weight() == "18100");
  CHECK(w.axles_size() == 0);
}

TEST_CASE("typed payload: odd values are left empty, and a non-object is refused") {
  pb::WeighingCaptured w;
  REQUIRE(weighing_from_payload(
      R"({"weight":12,"reading_seq":-1,"axles":[{"index":5,"weight":"1"},3,{"number":1e40}]})", w));
  CHECK(w.weight().empty());  // weights are strings, never numbers
  CHECK(w.reading_seq() == 0);
  REQUIRE(w.axles_size() == 2);
  CHECK(w.axles(0).index() == 5);  // "index" when there is no "number"
  CHECK(w.axles(1).index() == 0);
  w.set_scale("kept");
  CHECK_FALSE(weighing_from_payload("[1,2]", w));
  CHECK_FALSE(weighing_from_payload("not json", w));
  CHECK(w.scale() == "kept");
}

TEST_CASE(
    "typed payload: what the mapping would have to guess at is named, for the backend to "
    "refuse") {
  struct Case {
    const char* payload;
    const char* code;  // nullptr: nothing to guess
  };
  const Case cases[] = {
      {R"({"scale":"main","weight":"100","unit":"kg","reading_seq":7,"raw":"x",
          "decks":[{"index":1,"weight":"60"},{"index":2,"weight":"40"}]})",
       nullptr},
      {R"({"weight":"100","decks":[{"index":-1,"weight":"60"}]})", "part_out_of_range"},
      {R"({"weight":"100","decks":[{"index":4000000000,"weight":"60"}]})", "part_out_of_range"},
      {R"({"weight":"100","decks":[{"index":2.5,"weight":"60"}]})", "part_out_of_range"},
      {R"({"weight":"100","decks":[{"index":256,"weight":"60"}]})", "part_out_of_range"},
      {R"({"weight":"100","decks":[7]})", "invalid_payload"},
      {R"({"weight":"100","axles":[{"number":"1","weight":"60"}]})", "part_out_of_range"},
      {R"({"weight":"100","axles":[{"number":1,"weight":60}]})", "invalid_payload"},
      {R"({"weight":100})", "invalid_payload"},
      {R"({"weight":"100","reading_seq":-3})", "value_out_of_range"},
      {R"({"weight":"100","reading_seq":9223372036854775808})", "value_out_of_range"},
      {R"({"weight":"100","axles":[{"number":1,"weight":"60","reading_seq":1.5}]})",
       "value_out_of_range"},
      {R"({"weight":"100","operator":null})", nullptr},
  };
  for (const auto& c : cases) {
    CAPTURE(c.payload);
    pb::WeighingCaptured w;
    std::optional<weighlink::record::Refusal> problem;
    REQUIRE(weighing_from_payload(c.payload, w, &problem));
    if (c.code) {
      REQUIRE(problem);
      CHECK(problem->code == c.code);
    } else {
      CHECK_FALSE(problem);
    }
  }
}
