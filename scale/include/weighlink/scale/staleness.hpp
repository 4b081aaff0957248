#pragma once
// Staleness rule (SPEC §2): when no valid reading arrived for stale_after, the last reading is
// reported once more with stale=true and stable=false, once per stale period; the next valid
// reading clears it. Pure state machine: the caller passes the time. Not thread-safe.

#include <chrono>
#include <optional>

#include "weighlink/scale/reading.hpp"

namespace weighlink::scale {

class StaleTracker {
 public:
  using Clock = std::chrono::steady_clock;

  explicit StaleTracker(std::chrono::milliseconds stale_after) : stale_after_(stale_after) {}

  // A valid reading arrived at `now`.
  void on_reading(const Reading& reading, Clock::time_point now);

  // The stale copy of the last reading when the scale has just gone stale at `now`, else nullopt.
  // Identity fields (seq, ts) are left for the caller to stamp.
  [[nodiscard]] std::optional<Reading> poll(Clock::time_point now);

  [[nodiscard]] bool stale() const { return reported_; }

  // When poll() will next return the stale copy if no reading arrives before: nullopt when no
  // reading was seen or the scale is already reported stale.
  [[nodiscard]] std::optional<Clock::time_point> deadline() const {
    if (!last_ || reported_) return std::nullopt;
    return last_at_ + stale_after_;
  }

 private:
  std::chrono::milliseconds stale_after_;
  std::optional<Reading> last_;
  Clock::time_point last_at_{};
  bool reported_ = false;
};

}  // namespace weighlink::scale
