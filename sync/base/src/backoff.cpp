#include "weighlink/base/backoff.hpp"

#include <algorithm>

namespace weighlink::base {

std::chrono::milliseconds backoff_ceiling(const BackoffPolicy& policy, std::uint32_t attempt) {
  const std::int64_t base = std::max<std::int64_t>(1, policy.base.count());
  const std::int64_t cap = std::max<std::int64_t>(base, policy.cap.count());
  // Doubling past 2^30 cannot stay under any sane cap; stop early instead of overflowing.
  const std::uint32_t shift = std::min<std::uint32_t>(attempt, 30);
  const std::int64_t grown = base << shift;
  return std::chrono::milliseconds(std::min(cap, grown));
}

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, std::uint32_t attempt,
                                        std::uint32_t unit) {
  const auto ceiling = static_cast<std::uint64_t>(backoff_ceiling(policy, attempt).count());
  return std::chrono::milliseconds((ceiling * unit) >> 32);
}

}  // namespace weighlink::base
