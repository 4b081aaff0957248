// AxleSession: axle-by-axle weighing, direct and cumulative, with TruConnect's sequences
// (truconnect-protocol.md §1.3 "MCGS cumulative", §1.5) and a fake clock.
#include "weighlink/scale/axles.hpp"

#include <doctest/doctest.h>

#include <chrono>

using namespace weighlink::scale;
using namespace std::chrono_literals;

namespace {

const AxleSession::TimePoint kT0 = AxleSession::TimePoint{} + 1'000'000h;

Reading stable_reading(std::int64_t units, int decimals = 0, std::string unit = "kg") {
  Reading r;
  r.protocol = "mcgs";
  r.weight = Decimal{units, decimals};
  r.unit = std::move(unit);
  r.stable = true;
  r.stable_source = StableSource::software;
  r.ts = kT0;
  return r;
}

AxleSession cumulative(int expected = 0) {
  AxleSessionOptions o;
  o.mode = AxleMode::cumulative;
  o.expected_axles = expected;
  return AxleSession(o);
}

std::vector<std::string> axle_weights(const AxleWeighing& w) {
  std::vector<std::string> out;
  for (const auto& a : w.axles) out.push_back(a.weight.to_string());
  return out;
}

}  // namespace

TEST_CASE("axles: TruConnect's 2-axle cumulative sequence, 1200 then 2100 -> 1200, 900") {
  auto s = cumulative(2);
  s.start(kT0);
  const auto a1 = s.capture(stable_reading(1200), kT0 + 1s);
  REQUIRE(a1.has_value());
  CHECK(a1->number == 1);
  CHECK(a1->weight.to_string() == "1200");
  CHECK(s.pending_axle_weight(stable_reading(2100))->to_string() == "900");
  const auto a2 = s.capture(stable_reading(2100), kT0 + 5s);
  REQUIRE(a2.has_value());
  CHECK(a2->weight.to_string() == "900");
  const auto w = s.complete(kT0 + 6s);
  REQUIRE(w.has_value());
  CHECK(axle_weights(*w) == std::vector<std::string>{"1200", "900"});
  CHECK(w->gvw.to_string() == "2100");
  CHECK(w->completed_at == kT0 + 6s);
  CHECK(s.state() == AxleSession::State::complete);
}

TEST_CASE("axles: TruConnect's 3-axle cumulative sequence ends at GVW 22500") {
  auto s = cumulative(3);
  s.start(kT0);
  for (const std::int64_t raw : {6000, 14200, 22500})
    REQUIRE(s.capture(stable_reading(raw), kT0).has_value());
  const auto w = s.complete(kT0);
  REQUIRE(w.has_value());
  CHECK(axle_weights(*w) == std::vector<std::string>{"6000", "8200", "8300"});
  CHECK(w->gvw.to_string() == "22500");
}

TEST_CASE("axles: a 7-axle cumulative sequence ends at GVW 53400, the last reading") {
  auto s = cumulative(7);
  s.start(kT0);
  for (const std::int64_t raw : {6200, 14300, 22400, 30000, 37600, 45500, 53400})
    REQUIRE(s.capture(stable_reading(raw), kT0).has_value());
  const auto w = s.complete(kT0);
  REQUIRE(w.has_value());
  CHECK(w->gvw.to_string() == "53400");
  CHECK(axle_weights(*w) ==
        std::vector<std::string>{"6200", "8100", "8100", "7600", "7600", "7900", "7900"});
}

TEST_CASE("axles: TruConnect's MCGS vector, 940 then 1580 -> axle 2 = 640, GVW 1580") {
  auto s = cumulative();
  s.start(kT0);
  REQUIRE(s.capture(stable_reading(940), kT0).has_value());
  const auto a2 = s.capture(stable_reading(1580), kT0);
  REQUIRE(a2.has_value());
  CHECK(a2->weight.to_string() == "640");
  CHECK(a2->reading.to_string() == "1580");
  CHECK(s.complete(kT0)->gvw.to_string() == "1580");
}

TEST_CASE("axles: direct weighing sums the axles exactly across decimal places") {
  AxleSession s;
  s.start(kT0);
  REQUIRE(s.capture(stable_reading(625, 2, "t"), kT0).has_value());   // 6.25 t
  REQUIRE(s.capture(stable_reading(81, 1, "t"), kT0).has_value());    // 8.1 t
  REQUIRE(s.capture(stable_reading(8305, 3, "t"), kT0).has_value());  // 8.305 t
  const auto w = s.complete(kT0);
  REQUIRE(w.has_value());
  CHECK(w->gvw.to_string() == "22.655");
  CHECK(w->unit == "t");
  CHECK(w->mode == AxleMode::direct);
}

TEST_CASE("axles: a non-increasing cumulative reading is refused with the numbers") {
  auto s = cumulative();
  s.start(kT0);
  REQUIRE(s.capture(stable_reading(1200), kT0).has_value());
  for (const std::int64_t raw : {1200, 1100}) {
    const auto r = s.capture(stable_reading(raw), kT0);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == AxleRefusalCode::not_increasing);
    CHECK(r.error().message.find("1200 kg") != std::string::npos);
  }
  CHECK(s.axles().size() == 1);  // a refusal changes nothing
}

TEST_CASE("axles: stale, unstable and out-of-range readings are refused") {
  AxleSession s;
  s.start(kT0);
  auto stale = stable_reading(5000);
  stale.stale = true;
  CHECK(s.capture(stale, kT0).error().code == AxleRefusalCode::stale);
  auto moving = stable_reading(5000);
  moving.stable = false;
  CHECK(s.capture(moving, kT0).error().code == AxleRefusalCode::unstable);
  auto over = stable_reading(5000);
  over.overload = true;
  CHECK(s.capture(over, kT0).error().code == AxleRefusalCode::out_of_range);
  CHECK(s.axles().empty());
}

TEST_CASE("axles: a reading older than max_reading_age at capture time is refused") {
  AxleSessionOptions o;
  o.max_reading_age = 1500ms;
  AxleSession s(o);
  s.start(kT0);
  const auto r = stable_reading(5000);  // ts = kT0
  CHECK(s.capture(r, kT0 + 1600ms).error().code == AxleRefusalCode::stale);
  CHECK(s.capture(r, kT0 + 1400ms).has_value());
}

TEST_CASE("axles: below the minimum, unit change and too many axles are refused") {
  AxleSessionOptions o;
  o.expected_axles = 2;
  o.min_axle_weight = Decimal{200, 0};
  AxleSession s(o);
  s.start(kT0);
  CHECK(s.capture(stable_reading(0), kT0).error().code == AxleRefusalCode::below_minimum);
  CHECK(s.capture(stable_reading(150), kT0).error().code == AxleRefusalCode::below_minimum);
  REQUIRE(s.capture(stable_reading(5000), kT0).has_value());
  CHECK(s.capture(stable_reading(5000, 0, "lb"), kT0).error().code ==
        AxleRefusalCode::unit_changed);
  auto net = stable_reading(5000);
  net.mode = WeighMode::net;
  CHECK(s.capture(net, kT0).error().code == AxleRefusalCode::unit_changed);
  CHECK(s.complete(kT0).error().code == AxleRefusalCode::missing_axles);
  REQUIRE(s.capture(stable_reading(6000), kT0).has_value());
  CHECK(s.capture(stable_reading(7000), kT0).error().code == AxleRefusalCode::too_many_axles);
  CHECK(s.complete(kT0)->gvw.to_string() == "11000");
}

TEST_CASE("axles: not started, complete twice, reset and restart") {
  AxleSession s;
  CHECK(s.capture(stable_reading(5000), kT0).error().code == AxleRefusalCode::not_started);
  CHECK(s.complete(kT0).error().code == AxleRefusalCode::not_started);
  CHECK_FALSE(s.pending_axle_weight(stable_reading(5000)).has_value());
  s.start(kT0);
  CHECK(s.complete(kT0).error().code == AxleRefusalCode::no_axles);
  REQUIRE(s.capture(stable_reading(5000), kT0).has_value());
  REQUIRE(s.complete(kT0).has_value());
  CHECK(s.capture(stable_reading(5000), kT0).error().code == AxleRefusalCode::already_complete);
  CHECK(s.complete(kT0).error().code == AxleRefusalCode::already_complete);
  s.reset();
  CHECK(s.state() == AxleSession::State::idle);
  CHECK(s.axles().empty());
  s.start(kT0 + 1min);
  REQUIRE(s.capture(stable_reading(4000), kT0 + 1min).has_value());
  CHECK(s.running_gvw().to_string() == "4000");
}

TEST_CASE("axles: a cumulative session restarted after a zeroed indicator starts from zero") {
  auto s = cumulative();
  s.start(kT0);
  REQUIRE(s.capture(stable_reading(8000), kT0).has_value());
  s.start(kT0 + 1min);  // the operator starts over after the indicator was zeroed
  const auto a1 = s.capture(stable_reading(3000), kT0 + 1min);
  REQUIRE(a1.has_value());
  CHECK(a1->number == 1);
  CHECK(a1->weight.to_string() == "3000");
}

TEST_CASE("axles: a capture records the reading's seq and raw frame as evidence") {
  AxleSession s;
  s.start(kT0);
  auto r = stable_reading(5000);
  r.seq = 42;
  r.raw = "=SG+0005000kR";
  const auto c = s.capture(r, kT0 + 2s);
  REQUIRE(c.has_value());
  CHECK(c->seq == 42);
  CHECK(c->raw == "=SG+0005000kR");
  CHECK(c->at == kT0 + 2s);
  CHECK(to_string(AxleRefusalCode::not_increasing) == "not_increasing");
}

TEST_CASE("axles: a numbered capture keeps the vehicle's numbering across an axle not captured") {
  AxleSessionOptions o;
  o.expected_axles = 3;
  AxleSession s(o);
  s.start(kT0);
  // Axle 1 could not be captured (the scale was in motion); the operator went on with axle 2.
  auto a2 = s.capture(stable_reading(8000), kT0 + 1s, 2);
  REQUIRE(a2.has_value());
  CHECK(a2->number == 2);
  CHECK(s.axle(2) != nullptr);
  CHECK(s.axle(1) == nullptr);
  CHECK(s.last_number() == 2);
  CHECK(s.missing_numbers() == std::vector<int>{1, 3});

  SUBCASE("a number at or below one captured is refused, nothing changed") {
    auto again = s.capture(stable_reading(7000), kT0 + 2s, 1);
    REQUIRE(again.has_error());
    CHECK(again.error().code == AxleRefusalCode::out_of_sequence);
    CHECK(again.error().message.find("axle 1 comes after axle 2") != std::string::npos);
    CHECK(s.axles().size() == 1);
  }
  SUBCASE("a number above the vehicle's axles is refused") {
    auto beyond = s.capture(stable_reading(7000), kT0 + 2s, 4);
    REQUIRE(beyond.has_error());
    CHECK(beyond.error().code == AxleRefusalCode::too_many_axles);
  }
  SUBCASE("completing refuses the gap unless missing axles are allowed, then lists them") {
    REQUIRE(s.capture(stable_reading(9000), kT0 + 3s).has_value());  // the next: axle 3
    CHECK(s.axle(3)->weight.to_string() == "9000");
    auto refused = s.complete(kT0 + 4s);
    REQUIRE(refused.has_error());
    CHECK(refused.error().code == AxleRefusalCode::missing_axles);
    CHECK(refused.error().message.find("2 of 3 axles") != std::string::npos);
    CHECK(s.state() == AxleSession::State::weighing);
    auto w = s.complete(kT0 + 4s, true);
    REQUIRE(w.has_value());
    CHECK(w->missing == std::vector<int>{1});
    CHECK(axle_weights(*w) == std::vector<std::string>{"8000", "9000"});
    CHECK(w->gvw.to_string() == "17000");  // what the agent weighed; the gap is listed, not guessed
  }
}
