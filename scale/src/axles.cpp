#include "weighlink/scale/axles.hpp"

#include <algorithm>

#include "deck_frame.hpp"

namespace weighlink::scale {
namespace {

boost::system::result<AxleCapture, AxleRefusal> refuse(AxleRefusalCode code, std::string message) {
  return AxleRefusal{code, std::move(message)};
}

std::string with_unit(const Decimal& d, const std::string& unit) {
  return d.to_string() + (unit.empty() ? "" : " " + unit);
}

}  // namespace

std::string_view to_string(AxleRefusalCode code) {
  switch (code) {
    case AxleRefusalCode::not_started:
      return "not_started";
    case AxleRefusalCode::already_complete:
      return "already_complete";
    case AxleRefusalCode::stale:
      return "stale";
    case AxleRefusalCode::unstable:
      return "unstable";
    case AxleRefusalCode::out_of_range:
      return "out_of_range";
    case AxleRefusalCode::unit_changed:
      return "unit_changed";
    case AxleRefusalCode::not_increasing:
      return "not_increasing";
    case AxleRefusalCode::below_minimum:
      return "below_minimum";
    case AxleRefusalCode::too_many_axles:
      return "too_many_axles";
    case AxleRefusalCode::out_of_sequence:
      return "out_of_sequence";
    case AxleRefusalCode::missing_axles:
      return "missing_axles";
    case AxleRefusalCode::no_axles:
      return "no_axles";
    case AxleRefusalCode::overflow:
      return "overflow";
  }
  return "unknown";
}

void AxleSession::start(TimePoint now) {
  reset();
  state_ = State::weighing;
  started_at_ = now;
}

void AxleSession::reset() {
  state_ = State::idle;
  axles_.clear();
  unit_.clear();
  weigh_mode_ = WeighMode::gross;
  started_at_ = {};
}

Decimal AxleSession::running_gvw() const {
  if (axles_.empty()) return Decimal{};
  if (options_.mode == AxleMode::cumulative) return axles_.back().reading;
  Decimal total{};
  for (const auto& a : axles_) total = detail::decimal_add(total, a.weight).value_or(total);
  return total;
}

std::optional<Decimal> AxleSession::pending_axle_weight(const Reading& reading) const {
  if (state_ != State::weighing) return std::nullopt;
  if (options_.mode == AxleMode::direct || axles_.empty()) return reading.weight;
  return detail::decimal_sub(reading.weight, axles_.back().reading);
}

const AxleCapture* AxleSession::axle(int number) const {
  for (const auto& a : axles_) {
    if (a.number == number) return &a;
  }
  return nullptr;
}

std::vector<int> AxleSession::missing_numbers() const {
  std::vector<int> out;
  const int upto = std::max(last_number(), options_.expected_axles);
  for (int n = 1; n <= upto; ++n) {
    if (!axle(n)) out.push_back(n);
  }
  return out;
}

boost::system::result<AxleCapture, AxleRefusal> AxleSession::capture(const Reading& reading,
                                                                     TimePoint now, int number) {
  const std::string shown = with_unit(reading.weight, reading.unit);
  if (state_ == State::idle)
    return refuse(AxleRefusalCode::not_started, "no axle weighing is running; start one first");
  if (state_ == State::complete)
    return refuse(AxleRefusalCode::already_complete,
                  "the axle weighing is complete; start a new one for the next vehicle");
  if (reading.stale)
    return refuse(AxleRefusalCode::stale,
                  "the scale reading " + shown +
                      " is stale (no valid frame from the indicator); check the indicator link");
  if (options_.max_reading_age.count() > 0 && now - reading.ts > options_.max_reading_age)
    return refuse(AxleRefusalCode::stale, "the latest scale reading " + shown + " is older than " +
                                              std::to_string(options_.max_reading_age.count()) +
                                              " ms; check the indicator link");
  if (reading.overload || reading.underload)
    return refuse(AxleRefusalCode::out_of_range, std::string("the indicator reports ") +
                                                     (reading.overload ? "overload" : "underload") +
                                                     "; no axle captured");
  if (!reading.stable)
    return refuse(AxleRefusalCode::unstable,
                  "the scale reading " + shown + " is not stable; wait for the axle to settle");
  if (!axles_.empty() && (reading.unit != unit_ || reading.mode != weigh_mode_))
    return refuse(AxleRefusalCode::unit_changed,
                  "the reading " + shown + " (" + std::string(to_string(reading.mode)) +
                      ") does not match the first axle's unit " + unit_ + " (" +
                      std::string(to_string(weigh_mode_)) +
                      "); reset the weighing if the indicator was reconfigured");
  const int next = number > 0 ? number : last_number() + 1;
  if (number > 0 && number <= last_number())
    return refuse(AxleRefusalCode::out_of_sequence,
                  "axle " + std::to_string(number) + " comes after axle " +
                      std::to_string(last_number()) +
                      " already captured; axles are weighed in order (reset the weighing to "
                      "start the vehicle again)");
  if (options_.expected_axles > 0 && next > options_.expected_axles)
    return refuse(AxleRefusalCode::too_many_axles,
                  number > 0 ? "axle " + std::to_string(number) + " is above the vehicle's " +
                                   std::to_string(options_.expected_axles) + " axles"
                             : "all " + std::to_string(options_.expected_axles) +
                                   " axles are captured; complete the weighing");

  Decimal axle = reading.weight;
  if (options_.mode == AxleMode::cumulative && !axles_.empty()) {
    const Decimal& previous = axles_.back().reading;
    if (reading.weight.compare(previous) != std::strong_ordering::greater)
      return refuse(AxleRefusalCode::not_increasing,
                    "cumulative reading " + shown + " is not above the reading at axle " +
                        std::to_string(last_number()) + " (" + with_unit(previous, unit_) +
                        "); the next axle is not on the pad yet, or the indicator was zeroed "
                        "(reset the weighing)");
    const auto diff = detail::decimal_sub(reading.weight, previous);
    if (!diff) return refuse(AxleRefusalCode::overflow, "axle weight does not fit");
    axle = *diff;
  }
  if (axle.compare(options_.min_axle_weight) == std::strong_ordering::less || axle.units <= 0)
    return refuse(AxleRefusalCode::below_minimum,
                  "axle " + std::to_string(next) + " would weigh " + with_unit(axle, reading.unit) +
                      ", below the minimum " + with_unit(options_.min_axle_weight, reading.unit) +
                      "; drive the axle onto the pad");
  if (options_.mode == AxleMode::direct && !detail::decimal_add(running_gvw(), axle).has_value())
    return refuse(AxleRefusalCode::overflow, "the GVW would not fit an exact decimal");

  if (axles_.empty()) {
    unit_ = reading.unit;
    weigh_mode_ = reading.mode;
  }
  AxleCapture c;
  c.number = next;
  c.weight = axle;
  c.reading = reading.weight;
  c.seq = reading.seq;
  c.raw = reading.raw;
  c.at = now;
  axles_.push_back(c);
  return c;
}

boost::system::result<AxleWeighing, AxleRefusal> AxleSession::complete(TimePoint now,
                                                                       bool allow_missing) {
  using R = boost::system::result<AxleWeighing, AxleRefusal>;
  if (state_ == State::idle)
    return R(AxleRefusal{AxleRefusalCode::not_started, "no axle weighing is running"});
  if (state_ == State::complete)
    return R(AxleRefusal{AxleRefusalCode::already_complete, "the axle weighing is complete"});
  if (axles_.empty())
    return R(AxleRefusal{AxleRefusalCode::no_axles,
                         "no axle was captured; capture at least one axle or reset"});
  auto missing = missing_numbers();
  if (!missing.empty() && !allow_missing)
    return R(AxleRefusal{AxleRefusalCode::missing_axles,
                         std::to_string(axles_.size()) + " of " +
                             std::to_string(std::max(options_.expected_axles, last_number())) +
                             " axles captured; capture the rest or reset"});
  AxleWeighing w;
  w.missing = std::move(missing);
  w.mode = options_.mode;
  w.unit = unit_;
  w.weigh_mode = weigh_mode_;
  w.axles = axles_;
  w.gvw = running_gvw();
  w.started_at = started_at_;
  w.completed_at = now;
  state_ = State::complete;
  return w;
}

}  // namespace weighlink::scale
