// The order gate's core (order_gate.hpp): which Replay batch of a station may start its
// transaction, with an injected clock; and the gate's tickets on real threads.
#include "weighlink/service/order_gate.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

using weighlink::service::OrderBook;
using weighlink::service::OrderGate;
using namespace std::chrono_literals;

namespace {
const OrderBook::TimePoint t0{};
OrderBook book() { return OrderBook(OrderBook::Options{2000ms, 50ms, 100}); }
}  // namespace

TEST_CASE("order gate: a batch waits for its predecessor that arrived first, bounded") {
  auto b = book();
  const auto first = b.arrive("s1", 1, t0);
  const auto second = b.arrive("s1", 201, t0);
  const auto other = b.arrive("s2", 401, t0);  // another station is never held up
  CHECK(b.turn(first, t0).go);
  CHECK(b.turn(other, t0).go);
  const auto turn = b.turn(second, t0 + 1ms);
  CHECK_FALSE(turn.go);
  CHECK(turn.until == t0 + 2000ms);
  CHECK(b.turn(second, t0 + 2000ms).go);  // never held past max_wait
  b.leave(first, 200);
  CHECK(b.turn(second, t0 + 1ms).go);
  b.leave(second, 400);
  b.leave(other, std::nullopt);
  CHECK(b.open() == 0);
}

TEST_CASE("order gate: a batch past the known high water waits briefly for a straggler") {
  auto b = book();
  const auto first = b.arrive("s1", 1, t0);
  b.leave(first, 200);  // answered here: the station's high water is 200
  const auto next = b.arrive("s1", 201, t0);
  CHECK(b.turn(next, t0).go);                  // continues the high water: no wait
  const auto ahead = b.arrive("s1", 401, t0);  // 201..400 is still being served
  CHECK_FALSE(b.turn(ahead, t0).go);
  b.leave(next, 400);
  CHECK(b.turn(ahead, t0).go);
  b.leave(ahead, 600);
  // Its predecessor never arrived here (lost, or on another replica): it goes after
  // straggler_wait, and the transaction answers expected_seq.
  const auto overtaking = b.arrive("s1", 801, t0 + 10s);
  const auto turn = b.turn(overtaking, t0 + 10s);
  CHECK_FALSE(turn.go);
  CHECK(turn.until == t0 + 10s + 50ms);
  // The predecessor arrives meanwhile: now it waits for that one.
  const auto late = b.arrive("s1", 601, t0 + 10s + 10ms);
  CHECK(b.turn(late, t0 + 10s + 10ms).go);
  CHECK_FALSE(b.turn(overtaking, t0 + 10s + 60ms).go);
  b.leave(late, 800);
  CHECK(b.turn(overtaking, t0 + 10s + 60ms).go);
  b.leave(overtaking, 1000);
}

TEST_CASE("order gate: a failed predecessor releases its successor; unknown stations go") {
  auto b = book();
  const auto fresh = b.arrive("new", 5001, t0);  // nothing known here: no reason to wait
  CHECK(b.turn(fresh, t0).go);
  const auto first = b.arrive("s1", 1, t0);
  const auto second = b.arrive("s1", 201, t0);
  CHECK_FALSE(b.turn(second, t0).go);
  b.leave(first, std::nullopt);  // failed or refused: no high water learnt
  CHECK(b.turn(second, t0).go);
  b.leave(second, std::nullopt);
  b.leave(second, 5);  // twice: nothing
  b.leave(fresh, 5200);
  CHECK(b.open() == 0);
}

TEST_CASE("order gate: idle stations are forgotten beyond the limit, open ones kept") {
  OrderBook b(OrderBook::Options{2000ms, 50ms, 2});
  const auto a = b.arrive("a", 1, t0);
  b.leave(a, 10);
  const auto open = b.arrive("b", 1, t0);
  const auto c = b.arrive("c", 1, t0);  // over the limit: "a" is forgotten, "b" is open
  b.leave(c, 10);
  const auto a2 = b.arrive("a", 50, t0);
  CHECK(b.turn(a2, t0).go);  // a's high water was forgotten: no wait
  CHECK(b.turn(open, t0).go);
  b.leave(open, 10);
  b.leave(a2, 60);
}

TEST_CASE("order gate: a waiting ticket is released when its predecessor is done") {
  OrderGate gate(OrderBook::Options{60'000ms, 60'000ms, 100});
  auto first = gate.arrive("s1", 1);
  auto second = gate.arrive("s1", 201);
  std::atomic<bool> second_started{false};
  std::thread worker([&] {
    CHECK(second->wait());
    second_started = true;
    second->done(400);
  });
  // The second cannot start before the first is done: it is still waiting here.
  CHECK_FALSE(second_started.load());
  first->done(200);
  worker.join();
  CHECK(second_started.load());
}
