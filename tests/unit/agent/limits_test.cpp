#include "weighlink/agent/limits.hpp"

#include <doctest/doctest.h>

using weighlink::agent::AcceptPause;
using weighlink::agent::BodyBudget;
using weighlink::agent::ConnectionTable;
using weighlink::agent::LogLimiter;
using Kind = ConnectionTable::Admission::Kind;
using std::chrono::milliseconds;

namespace {
const weighlink::agent::SteadyTime t0{};
}

TEST_CASE("limits: below the cap every connection is admitted, per listener") {
  ConnectionTable table(2);
  CHECK(table.admit(0).kind == Kind::admit);
  table.add(0, t0);
  table.add(0, t0);
  CHECK(table.open(0) == 2);
  CHECK(table.admit(1).kind == Kind::admit);  // another port has its own slots
}

TEST_CASE("limits: at the cap the longest-idle connection makes room, busy ones never") {
  ConnectionTable table(3);
  const auto a = table.add(0, t0 + milliseconds(10));
  const auto b = table.add(0, t0 + milliseconds(5));
  const auto c = table.add(0, t0 + milliseconds(1));
  table.set_busy(c, true, t0 + milliseconds(20));  // c's request is under way
  auto admission = table.admit(0);
  CHECK(admission.kind == Kind::evict);
  CHECK(admission.evict == b);  // idle since 5 ms, longer than a
  table.set_busy(b, true, t0 + milliseconds(30));
  table.set_busy(a, true, t0 + milliseconds(30));
  CHECK(table.admit(0).kind == Kind::refuse);  // every slot busy: 503
  // Back to idle, the idle time starts again.
  table.set_busy(c, false, t0 + milliseconds(40));
  table.set_busy(a, false, t0 + milliseconds(35));
  admission = table.admit(0);
  CHECK(admission.kind == Kind::evict);
  CHECK(admission.evict == a);
  table.remove(a);
  CHECK(table.open(0) == 2);
  CHECK(table.admit(0).kind == Kind::admit);
  table.remove(a);  // twice is harmless
  CHECK(table.open(0) == 2);
}

TEST_CASE("limits: the body budget refuses what does not fit and takes back what is released") {
  BodyBudget budget(100);
  CHECK(budget.reserve(60));
  CHECK_FALSE(budget.reserve(41));
  CHECK(budget.reserve(40));
  CHECK(budget.in_use() == 100);
  CHECK_FALSE(budget.reserve(1));
  budget.release(60);
  CHECK(budget.reserve(1));
  CHECK(budget.in_use() == 41);
  budget.release(1000);  // never below zero
  CHECK(budget.in_use() == 0);
}

TEST_CASE("limits: out of descriptors, one log line per episode; the next accept ends it") {
  AcceptPause pause;
  CHECK(pause.on_exhausted());
  CHECK_FALSE(pause.on_exhausted());
  CHECK_FALSE(pause.on_exhausted());
  CHECK(pause.exhausted());
  CHECK(pause.on_accepted() == 3u);
  CHECK_FALSE(pause.on_accepted().has_value());
  CHECK(pause.on_exhausted());  // a new episode
}

TEST_CASE("limits: the log limiter lets a burst through per period and counts the rest") {
  LogLimiter limiter(milliseconds(1000), 2);
  std::uint64_t suppressed = 99;
  CHECK(limiter.allow(t0, &suppressed));
  CHECK(suppressed == 0);
  CHECK(limiter.allow(t0 + milliseconds(1)));
  CHECK_FALSE(limiter.allow(t0 + milliseconds(2)));
  CHECK_FALSE(limiter.allow(t0 + milliseconds(999)));
  CHECK(limiter.allow(t0 + milliseconds(1000), &suppressed));
  CHECK(suppressed == 2);
}
