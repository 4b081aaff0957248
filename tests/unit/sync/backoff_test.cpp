#include "weighlink/base/backoff.hpp"

#include <doctest/doctest.h>

#include "weighlink/sync/replay.hpp"

using namespace std::chrono_literals;
using weighlink::base::BackoffPolicy;

TEST_CASE("backoff: the ceiling doubles from base and stops at the cap") {
  BackoffPolicy p{200ms, 10'000ms};
  CHECK(weighlink::base::backoff_ceiling(p, 0) == 200ms);
  CHECK(weighlink::base::backoff_ceiling(p, 1) == 400ms);
  CHECK(weighlink::base::backoff_ceiling(p, 5) == 6400ms);
  CHECK(weighlink::base::backoff_ceiling(p, 6) == 10'000ms);
  CHECK(weighlink::base::backoff_ceiling(p, 4'000'000'000u) == 10'000ms);
}

TEST_CASE("backoff: full jitter spans zero to the ceiling") {
  BackoffPolicy p{200ms, 10'000ms};
  CHECK(weighlink::base::backoff_delay(p, 3, 0) == 0ms);
  CHECK(weighlink::base::backoff_delay(p, 3, 0x80000000u) == 800ms);
  CHECK(weighlink::base::backoff_delay(p, 3, 0xFFFFFFFFu) < 1600ms);
  CHECK(weighlink::base::backoff_delay(p, 3, 0xFFFFFFFFu) >= 1599ms);
}
