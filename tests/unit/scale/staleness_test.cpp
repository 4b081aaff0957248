#include "weighlink/scale/staleness.hpp"

#include <doctest/doctest.h>

using namespace weighlink::scale;
using namespace std::chrono_literals;

TEST_CASE("staleness: the last reading is repeated once as stale and unstable") {
  StaleTracker tracker(1000ms);
  const StaleTracker::Clock::time_point t0{};
  CHECK_FALSE(tracker.poll(t0 + 5000ms).has_value());  // nothing read yet: nothing to repeat

  Reading r;
  r.weight = Decimal{32540, 0};
  r.stable = true;
  r.decks = {{1, Decimal{12440, 0}, true}};
  tracker.on_reading(r, t0);
  CHECK_FALSE(tracker.poll(t0 + 999ms).has_value());
  const auto stale = tracker.poll(t0 + 1000ms);
  REQUIRE(stale.has_value());
  CHECK(stale->stale);
  CHECK_FALSE(stale->stable);
  CHECK_FALSE(stale->decks[0].stable);
  CHECK(stale->weight == r.weight);
  CHECK(tracker.stale());
  CHECK_FALSE(tracker.poll(t0 + 1500ms).has_value());  // once per stale period
  CHECK_FALSE(tracker.poll(t0 + 9000ms).has_value());

  tracker.on_reading(r, t0 + 10000ms);  // a valid reading clears it
  CHECK_FALSE(tracker.stale());
  CHECK_FALSE(tracker.poll(t0 + 10500ms).has_value());
  CHECK(tracker.poll(t0 + 11000ms).has_value());
}

TEST_CASE("staleness: the deadline is the last reading's time plus stale_after, until reported") {
  StaleTracker tracker(1000ms);
  const StaleTracker::Clock::time_point t0{};
  CHECK_FALSE(tracker.deadline().has_value());  // nothing read: nothing can go stale
  Reading r;
  r.weight = Decimal{100, 0};
  tracker.on_reading(r, t0);
  REQUIRE(tracker.deadline().has_value());
  CHECK(*tracker.deadline() == t0 + 1000ms);
  tracker.on_reading(r, t0 + 400ms);  // each reading moves it
  CHECK(*tracker.deadline() == t0 + 1400ms);
  CHECK(tracker.poll(*tracker.deadline()).has_value());
  CHECK_FALSE(tracker.deadline().has_value());  // reported: nothing more until a reading
}
