#pragma once
// Capped exponential backoff with full jitter (as Fluent Bit): delay = random(0, min(cap,
// base * 2^attempt)). Pure: the caller passes the random draw. Thread-compatible.

#include <chrono>
#include <cstdint>

namespace weighlink::base {

struct BackoffPolicy {
  std::chrono::milliseconds base{200};
  std::chrono::milliseconds cap{10'000};
};

// Upper bound of the delay before retry number `attempt` (0-based).
[[nodiscard]] std::chrono::milliseconds backoff_ceiling(const BackoffPolicy& policy,
                                                        std::uint32_t attempt);

// The delay for `attempt` given a uniform draw in [0, 1) expressed as `unit` / 2^32.
[[nodiscard]] std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy,
                                                      std::uint32_t attempt, std::uint32_t unit);

}  // namespace weighlink::base
