#pragma once
// Axle-by-axle (mobile) weighing: a state machine that turns captured readings into per-axle
// weights and a GVW. Direct indicators show one axle at a time (axle = reading, GVW = sum);
// cumulative indicators such as MCGS show the running total (axle = reading minus the reading at
// the previous capture, GVW = the last reading). Pure logic: no clock (times are arguments), no
// I/O, exact decimals. Not thread-safe: one owner (the agent's capture handler) at a time.

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "weighlink/scale/decimal.hpp"
#include "weighlink/scale/reading.hpp"

namespace weighlink::scale {

enum class AxleMode {
  direct,      // the indicator shows the axle on the pad
  cumulative,  // the indicator shows the running total of the axles weighed so far (MCGS)
};

struct AxleSessionOptions {
  AxleMode mode = AxleMode::direct;
  // Axles the vehicle has; 0 = not known, complete() ends the session after any number >= 1.
  int expected_axles = 0;
  // An axle lighter than this is refused (an empty pad is "stable at zero", not an axle).
  Decimal min_axle_weight{};
  // A reading older than this at capture time is refused (0 = no check; the reading's `stale`
  // flag is always checked).
  std::chrono::milliseconds max_reading_age{0};
};

enum class AxleRefusalCode {
  not_started,  // capture or complete() with no session running
  already_complete,
  stale,            // the reading is stale or older than max_reading_age
  unstable,         // the reading is not stable (motion, or the software window has not settled)
  out_of_range,     // overload or underload
  unit_changed,     // unit or gross/net mode differs from the first axle
  not_increasing,   // cumulative: the reading is not above the reading at the previous capture
  below_minimum,    // the axle weighs less than min_axle_weight
  too_many_axles,   // expected_axles already captured, or an axle number above them
  out_of_sequence,  // an axle number at or below one already captured
  missing_axles,    // complete() before expected_axles were captured
  no_axles,         // complete() with nothing captured
  overflow,         // the sum does not fit an exact decimal
};

struct AxleRefusal {
  AxleRefusalCode code;
  std::string message;  // what was refused, with the numbers, and what to do next
};

[[nodiscard]] std::string_view to_string(AxleRefusalCode code);

// boost::system::result<T, AxleRefusal>::value() on a refusal throws std::runtime_error; callers
// check has_value() / error() instead.
[[noreturn]] inline void throw_exception_from_error(const AxleRefusal& e,
                                                    const boost::source_location&) {
  throw std::runtime_error(e.message);
}

struct AxleCapture {
  int number = 0;         // 1-based
  Decimal weight;         // the axle's weight
  Decimal reading;        // the indicator's reading at capture (cumulative: the running total)
  std::uint64_t seq = 0;  // the reading's seq and raw frame: evidence for the record
  std::string raw;
  std::chrono::system_clock::time_point at{};
};

struct AxleWeighing {
  AxleMode mode = AxleMode::direct;
  std::string unit;
  WeighMode weigh_mode = WeighMode::gross;
  std::vector<AxleCapture> axles;
  // Axle numbers up to the expected count (or the highest captured) with no capture: only when
  // completed with allow_missing. In cumulative mode the axle after a gap weighs the gap too.
  std::vector<int> missing;
  Decimal gvw;
  std::chrono::system_clock::time_point started_at{};
  std::chrono::system_clock::time_point completed_at{};
};

class AxleSession {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  enum class State { idle, weighing, complete };

  // Everything a session holds, to be saved and restored (an agent restart mid-vehicle).
  struct Snapshot {
    State state = State::idle;
    int expected_axles = 0;
    std::vector<AxleCapture> axles;
    TimePoint started_at{};
    std::string unit;
    WeighMode weigh_mode = WeighMode::gross;
  };

  explicit AxleSession(AxleSessionOptions options = {}) : options_(options) {}

  // Begins a session (a running one is discarded: the operator started over).
  void start(TimePoint now);

  // Captures an axle from `reading` at `now`: axle `number`, or the next one when 0. A number may
  // skip axles (an axle the caller could not capture stays missing, and the numbering stays that
  // of the vehicle) but never goes back. Refused, with nothing changed, when the reading cannot
  // be trusted or does not make sense as that axle.
  [[nodiscard]] boost::system::result<AxleCapture, AxleRefusal> capture(const Reading& reading,
                                                                        TimePoint now,
                                                                        int number = 0);

  // The weight the next capture would record for `reading` (for the live display: cumulative
  // readings minus the reading at the previous capture). nullopt when no session is running.
  [[nodiscard]] std::optional<Decimal> pending_axle_weight(const Reading& reading) const;

  // Ends the session: per-axle weights and GVW. With `allow_missing`, axles not captured (a gap
  // in the numbering, or fewer than expected) are listed in `missing` instead of refusing.
  [[nodiscard]] boost::system::result<AxleWeighing, AxleRefusal> complete(
      TimePoint now, bool allow_missing = false);

  // Back to idle; captured axles are dropped.
  void reset();

  // A completed weighing that could not be recorded goes back to weighing, its axles kept.
  void reopen() {
    if (state_ == State::complete) state_ = State::weighing;
  }

  // The vehicle's axle count learnt after start (the operator or the web app set it): 0 = not
  // known. Axles already captured stay; a count below them makes complete() wait for nothing.
  void set_expected_axles(int expected) { options_.expected_axles = expected < 0 ? 0 : expected; }

  [[nodiscard]] Snapshot snapshot() const {
    return Snapshot{state_, options_.expected_axles, axles_, started_at_, unit_, weigh_mode_};
  }
  // Puts back a saved session; the mode and weight rules stay those of this session's options.
  void restore(Snapshot snapshot) {
    state_ = snapshot.state;
    options_.expected_axles = snapshot.expected_axles;
    axles_ = std::move(snapshot.axles);
    started_at_ = snapshot.started_at;
    unit_ = std::move(snapshot.unit);
    weigh_mode_ = snapshot.weigh_mode;
  }

  [[nodiscard]] State state() const { return state_; }
  [[nodiscard]] const std::vector<AxleCapture>& axles() const { return axles_; }
  // The captured axle numbered `number`, if any.
  [[nodiscard]] const AxleCapture* axle(int number) const;
  // The highest axle number captured (0 when none).
  [[nodiscard]] int last_number() const { return axles_.empty() ? 0 : axles_.back().number; }
  // Axle numbers below the highest captured (or up to the expected count) with no capture.
  [[nodiscard]] std::vector<int> missing_numbers() const;
  // Captured so far: the sum (direct) or the last reading (cumulative).
  [[nodiscard]] Decimal running_gvw() const;
  [[nodiscard]] const AxleSessionOptions& options() const { return options_; }

 private:
  AxleSessionOptions options_;
  State state_ = State::idle;
  std::vector<AxleCapture> axles_;
  TimePoint started_at_{};
  std::string unit_;
  WeighMode weigh_mode_ = WeighMode::gross;
};

}  // namespace weighlink::scale
