// The order gate's core (order_gate.hpp): which Replay batch of a station a worker serves, requeues
// or holds, with an injected clock; and the gate's tickets on real threads.
#include "weighlink/service/order_gate.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

using weighlink::service::OrderBook;
using weighlink::service::OrderGate;
using Step = OrderBook::Step;
using namespace std::chrono_literals;

namespace {
const OrderBook::TimePoint t0{};
OrderBook book(std::size_t max_stations = 100) {
  return OrderBook(OrderBook::Options{2000ms, 50ms, max_stations});
}
}  // namespace

TEST_CASE("order gate: a batch picked up before its queued predecessor goes back in the queue") {
  auto b = book();
  const auto second = b.arrive("s1", 201, t0);  // the reactions ran out of order
  const auto first = b.arrive("s1", 1, t0);
  const auto other = b.arrive("s2", 401, t0);  // another station is never held up
  CHECK(b.begin(other, t0).step == Step::go);
  CHECK(b.begin(second, t0).step == Step::requeue);
  CHECK(b.begin(first, t0).step == Step::go);
  CHECK(b.turn(first, t0).step == Step::go);
  // Picked up again while the first is on a worker: it waits before its transaction, bounded.
  CHECK(b.begin(second, t0 + 1ms).step == Step::go);
  const auto turn = b.turn(second, t0 + 1ms);
  CHECK(turn.step == Step::wait);
  CHECK(turn.until == t0 + 2000ms);
  CHECK(b.turn(second, t0 + 2000ms).step == Step::go);  // never held past max_wait
  b.leave(first, 200);
  CHECK(b.turn(second, t0 + 2ms).step == Step::go);
  b.leave(second, 400);
  b.leave(other, std::nullopt);
  CHECK(b.open() == 0);
}

TEST_CASE("order gate: requeued at most until max_wait, then it goes and the backend decides") {
  auto b = book();
  const auto first = b.arrive("s1", 1, t0);
  const auto second = b.arrive("s1", 201, t0);
  CHECK(b.begin(second, t0 + 1999ms).step == Step::requeue);
  CHECK(b.begin(second, t0 + 2000ms).step == Step::go);
  CHECK(b.turn(second, t0 + 2000ms).step == Step::go);
  b.leave(second, 0);
  b.leave(first, 200);
}

TEST_CASE("order gate: a batch past the known high water waits briefly for a straggler") {
  auto b = book();
  const auto first = b.arrive("s1", 1, t0);
  CHECK(b.begin(first, t0).step == Step::go);  // nothing known here: no reason to wait
  b.leave(first, 200);                         // answered: the station's high water is 200
  const auto next = b.arrive("s1", 201, t0);
  CHECK(b.begin(next, t0).step == Step::go);  // continues the high water
  b.leave(next, 400);
  // Its predecessor has not arrived here (yet, or at all: lost, another replica).
  const auto ahead = b.arrive("s1", 601, t0 + 10s);
  const auto turn = b.begin(ahead, t0 + 10s);
  CHECK(turn.step == Step::wait);
  CHECK(turn.until == t0 + 10s + 50ms);
  // The predecessor arrives while it waits: it goes back in the queue behind it.
  const auto late = b.arrive("s1", 401, t0 + 10s + 10ms);
  CHECK(b.begin(ahead, t0 + 10s + 10ms).step == Step::requeue);
  CHECK(b.begin(late, t0 + 10s + 11ms).step == Step::go);
  CHECK(b.begin(ahead, t0 + 10s + 12ms).step == Step::go);
  CHECK(b.turn(ahead, t0 + 10s + 12ms).step == Step::wait);
  b.leave(late, 600);
  CHECK(b.turn(ahead, t0 + 10s + 13ms).step == Step::go);
  b.leave(ahead, 800);
  // A predecessor that never comes: after straggler_wait it goes, and the backend answers the gap.
  const auto alone = b.arrive("s1", 1001, t0 + 20s);
  CHECK(b.begin(alone, t0 + 20s).step == Step::wait);
  CHECK(b.begin(alone, t0 + 20s + 50ms).step == Step::go);
  b.leave(alone, 800);
  CHECK(b.open() == 0);
}

TEST_CASE("order gate: a failed predecessor releases its successor; leaving twice is harmless") {
  auto b = book();
  const auto first = b.arrive("s1", 1, t0);
  const auto second = b.arrive("s1", 201, t0);
  CHECK(b.begin(first, t0).step == Step::go);
  CHECK(b.begin(second, t0).step == Step::go);
  CHECK(b.turn(second, t0).step == Step::wait);
  b.leave(first, std::nullopt);  // failed or refused: no high water learnt
  CHECK(b.turn(second, t0).step == Step::go);
  b.leave(second, std::nullopt);
  b.leave(second, 5);
  CHECK(b.open() == 0);
}

TEST_CASE("order gate: idle stations are forgotten beyond the limit, open ones kept") {
  auto b = book(2);
  const auto a = b.arrive("a", 1, t0);
  b.leave(a, 10);
  const auto open = b.arrive("b", 1, t0);
  const auto c = b.arrive("c", 1, t0);  // over the limit: "a" is forgotten, "b" is open
  b.leave(c, 10);
  const auto a2 = b.arrive("a", 50, t0);
  CHECK(b.begin(a2, t0).step == Step::go);  // a's high water was forgotten: no wait
  CHECK(b.begin(open, t0).step == Step::go);
  b.leave(open, 10);
  b.leave(a2, 60);
}

TEST_CASE("order gate: a waiting ticket is released when its predecessor is done") {
  OrderGate gate(OrderBook::Options{60'000ms, 60'000ms, 100});
  auto first = gate.arrive("s1", 1);
  auto second = gate.arrive("s1", 201);
  REQUIRE(first->begin());
  std::atomic<bool> second_started{false};
  std::thread worker([&] {
    CHECK(second->begin());
    second->wait();
    second_started = true;
    second->done(400);
  });
  // The second cannot start its transaction before the first is done.
  CHECK_FALSE(second_started.load());
  first->done(200);
  worker.join();
  CHECK(second_started.load());
}
