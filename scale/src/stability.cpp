#include "weighlink/scale/stability.hpp"

#include <algorithm>
#include <limits>

namespace weighlink::scale {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

// a * b, or nullopt when it does not fit (both non-negative here).
std::optional<std::int64_t> mul(std::int64_t a, std::int64_t b) {
  if (a != 0 && b > kMax / a) return std::nullopt;
  return a * b;
}

std::optional<std::int64_t> pow10(int n) {
  std::int64_t v = 1;
  for (int i = 0; i < n; ++i) {
    const auto next = mul(v, 10);
    if (!next) return std::nullopt;
    v = *next;
  }
  return v;
}

}  // namespace

bool StabilityWindow::within_band(std::int64_t min, std::int64_t max, int decimals) const {
  const std::int64_t range = max - min;  // |units| < 10^18, so no overflow
  const std::int64_t n = std::max(config_.divisions, 0);
  if (!config_.division) return range <= n;  // d = 1 in the last displayed digit
  const Decimal& d = *config_.division;
  if (d.decimals <= decimals) {
    const auto d_units = d.rescaled(decimals);
    const auto band =
        d_units ? mul(n, d_units->units < 0 ? -d_units->units : d_units->units) : std::nullopt;
    // A division too large to represent at this resolution: no motion can exceed it.
    return !band || range <= *band;
  }
  // d is finer than the display: compare at d's resolution.
  const auto factor = pow10(d.decimals - decimals);
  const auto scaled_range = factor ? mul(range, *factor) : std::nullopt;
  const auto band = mul(n, d.units < 0 ? -d.units : d.units);
  if (!scaled_range) return false;  // a range this large is motion at any sane division
  return band && *scaled_range <= *band;
}

bool StabilityWindow::update(const Decimal& weight, const std::string& unit, WeighMode mode,
                             Clock::time_point now) {
  const bool gap = !samples_.empty() && now - samples_.back().at > config_.max_gap;
  const bool changed = unit != unit_ || mode != mode_ || weight.decimals != decimals_;
  // Time running backwards cannot happen with a steady clock; treat it like a gap regardless.
  const bool backwards = !samples_.empty() && now < samples_.back().at;
  if (gap || changed || backwards) {
    reset();
    unit_ = unit;
    mode_ = mode;
    decimals_ = weight.decimals;
  }
  samples_.push_back({now, weight.units});
  // Keep the last sample at or before now - time (the weight shown when the window opened) and
  // everything after it; older samples can no longer matter.
  const auto window_start = now - config_.time;
  while (samples_.size() >= 2 && samples_[1].at <= window_start) samples_.pop_front();

  stable_ = false;
  if (samples_.front().at > window_start) return stable_;  // not watched for long enough yet
  const auto [lo, hi] =
      std::minmax_element(samples_.begin(), samples_.end(),
                          [](const Sample& a, const Sample& b) { return a.units < b.units; });
  stable_ = within_band(lo->units, hi->units, decimals_);
  return stable_;
}

void StabilityWindow::reset() {
  samples_.clear();
  unit_.clear();
  decimals_ = -1;
  stable_ = false;
}

void ReadingStability::apply(Reading& reading, Clock::time_point now) {
  const bool unusable = reading.overload || reading.underload || reading.stale;
  if (reading.stable_source != StableSource::software) {
    // The indicator's verdict stands; it can only be made stricter.
    if (unusable) {
      reading.stable = false;
      for (auto& deck : reading.decks) deck.stable = false;
    }
    return;
  }
  if (unusable) {
    // The displayed number is not a weight (or not a current one): start over when it is again.
    reset();
    reading.stable = false;
    for (auto& deck : reading.decks) deck.stable = false;
    return;
  }
  if (reading.decks.empty()) {
    decks_.clear();
    reading.stable = total_.update(reading.weight, reading.unit, reading.mode, now);
    return;
  }
  total_.reset();
  // A deck that vanished from the frame (or a new one) changes what the total means.
  bool same_decks = reading.decks.size() == decks_.size();
  for (const auto& deck : reading.decks) same_decks = same_decks && decks_.contains(deck.index);
  if (!same_decks) {
    decks_.clear();
    for (const auto& deck : reading.decks) decks_.emplace(deck.index, StabilityWindow{config_});
  }
  bool all = true;
  for (auto& deck : reading.decks) {
    deck.stable = decks_.at(deck.index).update(deck.weight, reading.unit, reading.mode, now);
    all = all && deck.stable;
  }
  reading.stable = all;
}

void ReadingStability::reset() {
  total_.reset();
  decks_.clear();
}

}  // namespace weighlink::scale
