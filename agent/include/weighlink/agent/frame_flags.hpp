#pragma once
// Frames an indicator sent whole but whose numbers disagree (scale::Reading::flag, e.g. a Zedem
// 510 total that is not the sum of its decks): counted per scale and reason for /metrics, and
// warned about in the log at most once a minute per scale, with the number of flagged frames
// left out since the last line. The time is an argument, so the rate limit is tested without a
// clock.
// Threading: note() from one thread (the scale's reader); count() from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "weighlink/agent/limits.hpp"
#include "weighlink/scale/reading.hpp"

namespace weighlink::agent {

class FlaggedFrames {
 public:
  explicit FlaggedFrames(std::chrono::milliseconds warn_every = std::chrono::minutes(1))
      : limiter_(warn_every, 1) {}

  // Counts `reading` when it is flagged. The warning line to log now, naming the scale, both
  // numbers and the flagged frames not logged since the last line; nullopt when the reading is
  // not flagged or a line went out less than `warn_every` ago.
  [[nodiscard]] std::optional<std::string> note(const scale::Reading& reading, SteadyTime now);

  // Flagged frames counted since start.
  [[nodiscard]] std::uint64_t count(scale::FlagReason reason) const;

 private:
  LogLimiter limiter_;
  std::atomic<std::uint64_t> total_mismatch_{0};
};

}  // namespace weighlink::agent
