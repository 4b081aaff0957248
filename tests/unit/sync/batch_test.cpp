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

TEST_CASE(
    "isolation: a batch the backend fails is halved down to the one mutation, which is "
    "withheld after failing alone twice") {
  using weighlink::sync::Isolation;
  Isolation iso;
  CHECK_FALSE(iso.limit());
  // 200 mutations from seq 1; seq 150 makes the backend fail every call that holds it.
  std::uint64_t next = 1;
  std::size_t size = 200;
  int calls = 0;
  std::uint64_t withheld = 0;
  while (next <= 200 && calls < 100) {
    ++calls;
    const std::size_t n = std::min<std::size_t>(iso.limit().value_or(size), 201 - next);
    const bool holds_poison = next <= 150 && 150 < next + n;
    if (!holds_poison) {
      iso.on_answer(next + n - 1);
      next += n;
      continue;
    }
    const auto step = iso.on_failure(next, n);
    if (step.withhold) {
      withheld = next;
      iso.on_answer(next);  // the marker for it was recorded
      ++next;
    }
  }
  CHECK(withheld == 150);
  CHECK(next == 201);
  CHECK(calls < 80);
  CHECK_FALSE(iso.limit());  // past the first failed batch: full batches again
}

TEST_CASE(
    "isolation: one failure of a lone mutation is not enough; an answer in between resets "
    "the count") {
  using weighlink::sync::Isolation;
  Isolation iso;
  CHECK_FALSE(iso.on_failure(7, 1).withhold);
  iso.on_answer(7);  // it went through after all (a passing INTERNAL)
  CHECK_FALSE(iso.on_failure(8, 1).withhold);
  CHECK(iso.on_failure(8, 1).withhold);
}

TEST_CASE("isolation: only statuses that retrying cannot cure count as content failures") {
  using weighlink::sync::content_failure;
  CHECK(content_failure(3));         // INVALID_ARGUMENT
  CHECK(content_failure(9));         // FAILED_PRECONDITION
  CHECK(content_failure(13));        // INTERNAL
  CHECK_FALSE(content_failure(14));  // UNAVAILABLE
  CHECK_FALSE(content_failure(8));   // RESOURCE_EXHAUSTED
  CHECK_FALSE(content_failure(4));   // DEADLINE_EXCEEDED
  CHECK_FALSE(content_failure(16));  // UNAUTHENTICATED
  CHECK_FALSE(content_failure(7));   // PERMISSION_DENIED
}

TEST_CASE("replay window: grows by one per fast clean answer up to its maximum") {
  using weighlink::sync::ReplayWindow;
  const ReplayWindow::TimePoint t0{};
  ReplayWindow w(4, 1000ms, 10s);
  CHECK(w.size() == 1);
  w.on_answer(true, 20ms, t0);
  CHECK(w.size() == 2);
  w.on_answer(true, 20ms, t0);
  w.on_answer(true, 20ms, t0);
  CHECK(w.size() == 4);
  w.on_answer(true, 20ms, t0);
  CHECK(w.size() == 4);
  w.on_answer(true, 1500ms, t0);  // slower than the target: one less
  CHECK(w.size() == 3);
  ReplayWindow serial(0);  // nonsense configuration: one at a time
  serial.on_answer(true, 1ms, t0);
  CHECK(serial.size() == 1);
}

TEST_CASE("replay window: back to one on trouble or an unclean answer, held there for a while") {
  using weighlink::sync::ReplayWindow;
  const ReplayWindow::TimePoint t0{};
  ReplayWindow w(4, 1000ms, 10s);
  for (int i = 0; i < 3; ++i) w.on_answer(true, 10ms, t0);
  REQUIRE(w.size() == 4);
  w.on_trouble(t0);  // RESOURCE_EXHAUSTED, a timeout, any failure
  CHECK(w.size() == 1);
  w.on_answer(true, 10ms, t0 + 9s);  // fast and clean, but within the hold
  CHECK(w.size() == 1);
  w.on_answer(true, 10ms, t0 + 10s);
  CHECK(w.size() == 2);
  w.on_answer(false, 10ms, t0 + 11s);  // a gap, expected_seq, a marker: not clean
  CHECK(w.size() == 1);
  w.on_answer(true, 10ms, t0 + 20s);
  CHECK(w.size() == 1);
  w.on_answer(true, 10ms, t0 + 21s);
  CHECK(w.size() == 2);
}
