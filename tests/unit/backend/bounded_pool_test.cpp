#include "weighlink/service/bounded_pool.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

#include "weighlink/pg/pg.hpp"
#include "weighlink/service/metrics.hpp"

using namespace weighlink::pg;
using namespace weighlink::service;

TEST_CASE("pool: refuses jobs once the queue is full instead of growing") {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  BoundedPool<int> pool(1, 2, [] { return 0; });
  // The only worker blocks on the first job; two more fill the queue; the fourth is refused.
  REQUIRE(pool.try_submit([&](int&) {
    started.set_value();
    released.wait();
  }));
  started.get_future().wait();
  CHECK(pool.try_submit([](int&) {}));
  CHECK(pool.try_submit([](int&) {}));
  CHECK(pool.depth() == 2);
  CHECK_FALSE(pool.try_submit([](int&) {}));
  release.set_value();
  pool.stop();
  CHECK(pool.depth() == 0);
  CHECK_FALSE(pool.try_submit([](int&) {}));  // stopped
}

TEST_CASE("pool: each worker has its own context and stop runs what was queued") {
  std::atomic<int> next_id{0};
  std::atomic<int> ran{0};
  std::mutex mutex;
  std::set<int*> contexts;
  {
    BoundedPool<int> pool(3, 100, [&] { return next_id.fetch_add(1); });
    for (int i = 0; i < 60; ++i) {
      REQUIRE(pool.try_submit([&](int& context) {
        std::lock_guard lock(mutex);
        contexts.insert(&context);
        ++ran;
      }));
    }
    pool.stop();
  }
  CHECK(ran == 60);
  CHECK(next_id == 3);
  CHECK(contexts.size() <= 3);
}

TEST_CASE("pool: a throwing job does not take its worker down") {
  std::promise<void> done;
  BoundedPool<int> pool(1, 4, [] { return 0; });
  REQUIRE(pool.try_submit([](int&) { throw std::runtime_error("boom"); }));
  REQUIRE(pool.try_submit([&](int&) { done.set_value(); }));
  done.get_future().wait();
}

TEST_CASE("metrics: outcomes are counted per outcome") {
  Metrics metrics;
  metrics.count_outcome(Outcome::applied);
  metrics.count_outcome(Outcome::applied);
  metrics.count_outcome(Outcome::duplicate);
  metrics.count_outcome(Outcome::rejected);
  metrics.count_batch();
  const auto s = metrics.snapshot();
  CHECK(s.applied == 2);
  CHECK(s.duplicate == 1);
  CHECK(s.rejected == 1);
  CHECK(s.replay_batches == 1);
}

TEST_CASE("pg: database errors map to typed causes") {
  CHECK(classify_pg_error("23505", true) == Errc::unique_violation);
  CHECK(classify_pg_error("40001", true) == Errc::serialization_failure);
  CHECK(classify_pg_error("40P01", true) == Errc::serialization_failure);
  CHECK(classify_pg_error("08006", true) == Errc::connection_lost);
  CHECK(classify_pg_error("57P01", true) == Errc::connection_lost);
  CHECK(classify_pg_error("", false) == Errc::connection_lost);
  CHECK(classify_pg_error("23505", false) == Errc::connection_lost);
  CHECK(classify_pg_error("42P01", true) == Errc::not_migrated);
  CHECK(classify_pg_error("42703", true) == Errc::not_migrated);  // a column a migration adds
  CHECK(classify_pg_error("57014", true) == Errc::timed_out);
  CHECK(classify_pg_error("55P03", true) == Errc::timed_out);
  CHECK(classify_pg_error("22P02", true) == Errc::data_refused);
  CHECK(classify_pg_error("22003", true) == Errc::data_refused);
  CHECK(classify_pg_error("23514", true) == Errc::data_refused);
  CHECK(classify_pg_error("42601", true) == Errc::database_error);
}

TEST_CASE("pg: a malformed DSN is caught without connecting") {
  CHECK_FALSE(dsn_problem("host=127.0.0.1 port=5432 dbname=weighlink").has_value());
  CHECK_FALSE(dsn_problem("postgresql://user@127.0.0.1:5432/weighlink").has_value());
  CHECK(dsn_problem("host=127.0.0.1 nonsense").has_value());
  CHECK(dsn_problem("frobnicate=1").has_value());
}
