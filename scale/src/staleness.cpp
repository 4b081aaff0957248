#include "weighlink/scale/staleness.hpp"

namespace weighlink::scale {

void StaleTracker::on_reading(const Reading& reading, Clock::time_point now) {
  last_ = reading;
  last_at_ = now;
  reported_ = false;
}

std::optional<Reading> StaleTracker::poll(Clock::time_point now) {
  if (!last_ || reported_ || now - last_at_ < stale_after_) return std::nullopt;
  reported_ = true;
  Reading stale = *last_;
  stale.stale = true;
  stale.stable = false;  // a stale scale is never stable, so it can never be captured
  for (auto& deck : stale.decks) deck.stable = false;
  return stale;
}

}  // namespace weighlink::scale
