// The station policy of a lane (io_policy.hpp), state by state with a hand-driven clock, and the
// position sensors' capture rule.
#include "weighlink/agent/io_policy.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using weighlink::agent::IoPolicyConfig;
using weighlink::agent::IoSensorConfig;
namespace io = weighlink::agent::io;
using io::Barrier;
using io::Light;
using io::Phase;

namespace {

const io::DeckState kZero{true, true, false};
const io::DeckState kLoadedMoving{true, false, true};
const io::DeckState kLoadedStable{true, false, false};
const io::DeckState kZeroMoving{true, true, true};
const io::DeckState kStale{false, false, false};

io::SensorState sensors(bool ends_clear, bool fully_on) {
  return {true, true, ends_clear, fully_on};
}

struct Lane {
  io::LanePolicy policy;
  std::chrono::steady_clock::time_point now{};
  explicit Lane(IoPolicyConfig c = {}) : policy(c) {}
  void deck(io::DeckState d, std::chrono::milliseconds later = 0ms) {
    now += later;
    policy.on_deck(d, now);
  }
  [[nodiscard]] io::LaneOutputs out() const { return policy.outputs(); }
};

}  // namespace

TEST_CASE("io policy: red with barriers closed until the deck is known") {
  Lane lane;
  CHECK(lane.policy.phase() == Phase::unknown);
  CHECK(lane.out() == io::LaneOutputs{Light::red, Light::red, Barrier::closed, Barrier::closed});
}

TEST_CASE("io policy: a full weighing with sensors: idle, drive on, weighing, exit, idle") {
  Lane lane;
  lane.policy.on_sensors(sensors(true, false), lane.now);
  lane.deck(kZero);
  REQUIRE(lane.policy.phase() == Phase::idle);
  CHECK(lane.out() == io::LaneOutputs{Light::green, Light::red, Barrier::open, Barrier::closed});

  // Driving on: the front beam is broken, the weight rises.
  lane.policy.on_sensors(sensors(false, false), lane.now);
  lane.deck(kLoadedMoving, 100ms);
  CHECK(lane.policy.phase() == Phase::entering);
  // Red at once; the entry barrier stays open over the vehicle.
  CHECK(lane.out() == io::LaneOutputs{Light::red, Light::red, Barrier::open, Barrier::closed});

  // Fully on: the barrier closes behind it.
  lane.policy.on_sensors(sensors(true, true), lane.now);
  lane.deck(kLoadedStable, 100ms);
  CHECK(lane.policy.phase() == Phase::weighing);
  CHECK(lane.out() == io::LaneOutputs{Light::red, Light::red, Barrier::closed, Barrier::closed});

  // The weighing is on disk: exit.
  lane.policy.on_recorded(lane.now);
  CHECK(lane.policy.phase() == Phase::exit);
  CHECK(lane.out() == io::LaneOutputs{Light::red, Light::green, Barrier::closed, Barrier::open});

  // Driving off: motion does not turn the exit red under the vehicle.
  lane.policy.on_sensors(sensors(false, false), lane.now);
  lane.deck(kLoadedMoving, 100ms);
  CHECK(lane.policy.phase() == Phase::exit);
  CHECK(lane.out().exit_light == Light::green);

  // Gone: the deck at zero, the ends clear.
  lane.policy.on_sensors(sensors(true, false), lane.now);
  lane.deck(kZero, 100ms);
  CHECK(lane.policy.phase() == Phase::idle);
  CHECK(lane.out() == io::LaneOutputs{Light::green, Light::red, Barrier::open, Barrier::closed});
}

TEST_CASE("io policy: at zero with an end blocked the entry stays red") {
  Lane lane;
  lane.policy.on_sensors(sensors(false, false), lane.now);
  lane.deck(kZero);
  CHECK(lane.policy.phase() == Phase::entering);
  CHECK(lane.out().entry_light == Light::red);
}

TEST_CASE("io policy: without sensors a stable weight above zero is the vehicle on the deck") {
  Lane lane;
  lane.deck(kZero);
  CHECK(lane.policy.phase() == Phase::idle);
  lane.deck(kLoadedMoving, 100ms);
  CHECK(lane.policy.phase() == Phase::entering);
  CHECK(lane.out().entry_barrier == Barrier::open);
  lane.deck(kLoadedStable, 100ms);
  CHECK(lane.policy.phase() == Phase::weighing);
  CHECK(lane.out().entry_barrier == Barrier::closed);
}

TEST_CASE("io policy: a module offline leaves the weight alone to decide") {
  Lane lane;
  lane.policy.on_sensors({true, false, false, false}, lane.now);
  lane.deck(kZero);
  CHECK(lane.policy.phase() == Phase::idle);
}

TEST_CASE("io policy: stale or motion at zero turns the entry red, barriers hold") {
  Lane lane;
  lane.deck(kZero);
  REQUIRE(lane.out().entry_light == Light::green);
  lane.deck(kStale, 100ms);
  CHECK(lane.policy.phase() == Phase::unknown);
  CHECK(lane.out() == io::LaneOutputs{Light::red, Light::red, Barrier::open, Barrier::closed});
  lane.deck(kZeroMoving, 100ms);
  CHECK(lane.policy.phase() == Phase::settling);
  CHECK(lane.out().entry_light == Light::red);
  lane.deck(kZero, 100ms);
  CHECK(lane.out().entry_light == Light::green);
}

TEST_CASE("io policy: a stale reading during the exit goes red, then back to the exit") {
  Lane lane;
  lane.deck(kLoadedStable);
  lane.policy.on_recorded(lane.now);
  REQUIRE(lane.policy.phase() == Phase::exit);
  lane.deck(kStale, 100ms);
  CHECK(lane.out().exit_light == Light::red);
  CHECK(lane.out().exit_barrier == Barrier::open);  // never closed onto the vehicle
  lane.deck(kLoadedMoving, 100ms);
  CHECK(lane.policy.phase() == Phase::exit);
}

TEST_CASE("io policy: the idle and exit delays hold until tick() reaches them") {
  IoPolicyConfig c;
  c.idle_delay = 2000ms;
  c.exit_delay = 500ms;
  Lane lane(c);
  lane.deck(kZero);
  CHECK(lane.policy.phase() == Phase::settling);
  CHECK(lane.out().entry_light == Light::red);
  REQUIRE(lane.policy.next_deadline());
  CHECK(*lane.policy.next_deadline() == lane.now + 2000ms);
  lane.policy.tick(lane.now + 1999ms);
  CHECK(lane.policy.phase() == Phase::settling);
  lane.now += 2000ms;
  lane.policy.tick(lane.now);
  CHECK(lane.policy.phase() == Phase::idle);
  CHECK_FALSE(lane.policy.next_deadline());

  lane.deck(kLoadedStable, 100ms);
  lane.policy.on_recorded(lane.now);
  CHECK(lane.policy.phase() == Phase::weighing);
  CHECK(lane.out().exit_barrier == Barrier::closed);
  lane.policy.tick(lane.now + 500ms);
  CHECK(lane.policy.phase() == Phase::exit);
  CHECK(lane.out().exit_barrier == Barrier::open);
}

TEST_CASE("io policy: barrier steps can be switched off") {
  IoPolicyConfig c;
  c.open_entry_when_idle = false;
  c.open_exit_after_capture = false;
  Lane lane(c);
  lane.deck(kZero);
  CHECK(lane.out() == io::LaneOutputs{Light::green, Light::red, Barrier::closed, Barrier::closed});
  lane.deck(kLoadedStable, 100ms);
  lane.policy.on_recorded(lane.now);
  CHECK(lane.out() == io::LaneOutputs{Light::red, Light::green, Barrier::closed, Barrier::closed});
}

TEST_CASE("io policy: TruConnect's traffic events hold the lights until the phase changes") {
  Lane lane;
  lane.deck(kLoadedMoving);
  REQUIRE(lane.policy.phase() == Phase::entering);
  CHECK(lane.policy.on_traffic("move-forward", lane.now));
  CHECK(lane.out().entry_light == Light::red);
  CHECK(lane.out().exit_light == Light::green);
  CHECK(lane.policy.source("exit_light") == io::Source::traffic);
  CHECK(lane.policy.on_traffic("stop", lane.now));
  CHECK(lane.out().exit_light == Light::red);
  CHECK(lane.policy.on_traffic("enter", lane.now));
  CHECK(lane.out().entry_light == Light::green);
  CHECK_FALSE(lane.policy.on_traffic("reverse", lane.now));
  lane.deck(kLoadedStable, 100ms);  // weighing: the policy's red again
  CHECK(lane.out().entry_light == Light::red);
  CHECK(lane.policy.source("entry_light") == io::Source::policy);
}

TEST_CASE("io policy: an override holds its target through phase changes until cleared") {
  Lane lane;
  lane.deck(kZero);
  CHECK_FALSE(lane.policy.set_override("entry_light", "open"));
  CHECK_FALSE(lane.policy.set_override("side_light", "red"));
  CHECK_FALSE(lane.policy.set_override("exit_barrier", "green"));
  REQUIRE(lane.policy.set_override("entry_light", "red"));
  REQUIRE(lane.policy.set_override("exit_barrier", "open"));
  CHECK(lane.out() == io::LaneOutputs{Light::red, Light::red, Barrier::open, Barrier::open});
  CHECK(lane.policy.source("entry_light") == io::Source::override_);
  lane.deck(kLoadedStable, 100ms);
  lane.policy.on_recorded(lane.now);
  lane.deck(kZero, 100ms);
  CHECK(lane.out().entry_light == Light::red);
  CHECK(lane.policy.clear_override("entry_light"));
  CHECK_FALSE(lane.policy.clear_override("entry_light"));
  CHECK(lane.out().entry_light == Light::green);
  CHECK(lane.policy.clear_override());
  CHECK(lane.out().exit_barrier == Barrier::closed);
  CHECK_FALSE(lane.policy.clear_override());
}

TEST_CASE("io policy: the sensors' capture rule names the sensor") {
  std::vector<IoSensorConfig> s(2);
  s[0].id = "front_clear";
  s[1].id = "rear_clear";
  CHECK_FALSE(io::sensor_refusal("main", s, {true, true}, true));
  auto r = io::sensor_refusal("main", s, {true, false}, true);
  REQUIRE(r);
  CHECK(r->status == 409);
  CHECK(r->code == "vehicle_not_on_deck");
  CHECK(r->message.find("rear_clear") != std::string::npos);
  r = io::sensor_refusal("main", s, {std::nullopt, true}, true);
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(r->code == "position_sensor_unavailable");
  CHECK(r->message.find("front_clear") != std::string::npos);
  // Fail open: an unreadable sensor is skipped, a readable one still refuses.
  CHECK_FALSE(io::sensor_refusal("main", s, {std::nullopt, true}, false));
  CHECK(io::sensor_refusal("main", s, {std::nullopt, false}, false));
}
