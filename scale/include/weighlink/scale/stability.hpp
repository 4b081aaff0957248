#pragma once
// Software stability (SPEC §2, OIML R76 §4.4, scale-protocols.md §3.1) for formats that carry no
// motion flag: a reading is stable when the weight stayed within ±N divisions for at least T ms.
// Pure state machines: the caller passes the time; no clock, no I/O. Not thread-safe.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "weighlink/scale/decimal.hpp"
#include "weighlink/scale/reading.hpp"

namespace weighlink::scale {

struct StabilityConfig {
  // N: the weight may move by at most this many divisions (max − min ≤ N·d) ... (1: Flintec NR)
  int divisions = 1;
  // ... for at least this long (1000 ms: Flintec NT, Hardy "over a 1 s interval").
  std::chrono::milliseconds time{1000};
  // d, the display division. nullopt: 1 in the last displayed digit (a display counting in 20 kg
  // steps should set 20 here, or N·1 kg would never be exceeded by a real change of one step).
  std::optional<Decimal> division;
  // No reading for longer than this is a gap: the weight in between is unknown, so the window
  // starts over.
  std::chrono::milliseconds max_gap{1000};
  friend bool operator==(const StabilityConfig&, const StabilityConfig&) = default;
};

// One weight channel (the total, or one deck). Stable iff every weight shown during the last
// `time` (the one displayed at its start included) lies within N·d, with no reset in between.
class StabilityWindow {
 public:
  using Clock = std::chrono::steady_clock;

  explicit StabilityWindow(StabilityConfig config = {}) : config_(config) {}

  // Adds the weight displayed from `now` on and returns whether the channel is now stable.
  // A change of unit, mode or decimal places, or a gap, starts the window over.
  bool update(const Decimal& weight, const std::string& unit, WeighMode mode,
              Clock::time_point now);
  // Starts over: a bad frame, a reconnect, an overload.
  void reset();
  [[nodiscard]] bool stable() const { return stable_; }

 private:
  struct Sample {
    Clock::time_point at;
    std::int64_t units;
  };
  [[nodiscard]] bool within_band(std::int64_t min, std::int64_t max, int decimals) const;

  StabilityConfig config_;
  std::deque<Sample> samples_;  // time order; the first one is at or before now - time when full
  std::string unit_;
  WeighMode mode_ = WeighMode::gross;
  int decimals_ = -1;
  bool stable_ = false;
};

// Applies software stability to whole readings: readings whose parser set
// stable_source == software get `stable` from a window (per deck for multi-deck readings, the
// reading stable only when every deck is); readings with an indicator flag keep the indicator's
// verdict. Overload, underload and stale readings are never stable.
class ReadingStability {
 public:
  using Clock = StabilityWindow::Clock;

  explicit ReadingStability(StabilityConfig config = {}) : config_(config) {}

  void apply(Reading& reading, Clock::time_point now);
  // Bad frame or reconnect: every window starts over.
  void reset();

 private:
  StabilityConfig config_;
  StabilityWindow total_{config_};
  std::map<int, StabilityWindow> decks_;  // by deck index
};

}  // namespace weighlink::scale
