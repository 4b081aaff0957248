// AdaptiveBatch: the replay client's batch size under fast, slow and refused calls.
#include <doctest/doctest.h>

#include "weighlink/sync/replay.hpp"

using weighlink::sync::AdaptiveBatch;
using namespace std::chrono_literals;

TEST_CASE("adaptive batch: doubles while answers are fast, up to the configured maximum") {
  AdaptiveBatch b(500, 50);
  CHECK(b.size() == 50);
  b.on_answer(50, 20ms);
  CHECK(b.size() == 100);
  b.on_answer(100, 30ms);
  b.on_answer(200, 40ms);
  CHECK(b.size() == 400);
  b.on_answer(400, 60ms);
  CHECK(b.size() == 500);
  b.on_answer(500, 60ms);
  CHECK(b.size() == 500);
  // A short batch (the queue ran dry) says nothing about a larger one.
  AdaptiveBatch c(500, 50);
  c.on_answer(3, 5ms);
  CHECK(c.size() == 50);
}

TEST_CASE("adaptive batch: halves on pressure, then grows by a quarter, never below one") {
  AdaptiveBatch b(1000, 400);
  b.on_pressure();
  CHECK(b.size() == 200);
  b.on_answer(200, 50ms);
  CHECK(b.size() == 250);    // no more doubling once trouble was seen
  b.on_answer(250, 1500ms);  // slower than the 1 s target: a quarter less
  CHECK(b.size() == 188);
  for (int i = 0; i < 20; ++i) b.on_pressure();
  CHECK(b.size() == 1);
  b.on_answer(1, 10ms);
  CHECK(b.size() == 2);
}

TEST_CASE("adaptive batch: a limit announced by the backend caps it for good") {
  AdaptiveBatch b(1000, 800);
  b.on_limit(300);
  CHECK(b.size() == 300);
  b.on_answer(300, 10ms);
  CHECK(b.size() == 300);
  b.on_limit(0);  // no limit given: nothing changes
  CHECK(b.size() == 300);
  AdaptiveBatch odd(0, 0);  // nonsense configuration still sends one at a time
  CHECK(odd.size() == 1);
}
