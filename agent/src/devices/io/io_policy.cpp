// LanePolicy (io_policy.hpp): the station policy as a state machine; docs/devices.md has it as
// a table.
#include "weighlink/agent/io_policy.hpp"

namespace weighlink::agent::io {

std::string_view to_string(Light light) {
  switch (light) {
    case Light::red:
      return "red";
    case Light::green:
      return "green";
    case Light::off:
      return "off";
  }
  return "red";
}

std::string_view to_string(Barrier barrier) { return barrier == Barrier::open ? "open" : "closed"; }

std::string_view to_string(Phase phase) {
  switch (phase) {
    case Phase::unknown:
      return "unknown";
    case Phase::settling:
      return "settling";
    case Phase::idle:
      return "idle";
    case Phase::entering:
      return "entering";
    case Phase::weighing:
      return "weighing";
    case Phase::exit:
      return "exit";
  }
  return "unknown";
}

std::string_view to_string(Source source) {
  switch (source) {
    case Source::policy:
      return "policy";
    case Source::traffic:
      return "traffic";
    case Source::override_:
      return "override";
  }
  return "policy";
}

std::optional<Light> parse_light(std::string_view text) {
  if (text == "red") return Light::red;
  if (text == "green") return Light::green;
  if (text == "off") return Light::off;
  return std::nullopt;
}

std::optional<Barrier> parse_barrier(std::string_view text) {
  if (text == "open") return Barrier::open;
  if (text == "closed") return Barrier::closed;
  return std::nullopt;
}

LanePolicy::LanePolicy(IoPolicyConfig config) : config_(config) {}

void LanePolicy::on_deck(DeckState deck, Time now) {
  deck_ = deck;
  update(now);
}

void LanePolicy::on_sensors(SensorState sensors, Time now) {
  sensors_ = sensors;
  update(now);
}

void LanePolicy::on_recorded(Time now) {
  recorded_ = true;
  exit_at_ = now + config_.exit_delay;
  update(now);
}

void LanePolicy::tick(Time now) { update(now); }

bool LanePolicy::on_traffic(std::string_view event, Time now) {
  update(now);
  if (event == "enter") {
    traffic_ = {Light::green, Light::red};
  } else if (event == "move-forward") {
    traffic_ = {Light::red, Light::green};
  } else if (event == "move-back" || event == "stop") {
    // A traffic light has no "reverse" aspect: the driver backs up as the operator signals,
    // with both lights red.
    traffic_ = {Light::red, Light::red};
  } else {
    return false;
  }
  return true;
}

bool LanePolicy::set_override(std::string_view target, std::string_view state) {
  const bool light = target == "entry_light" || target == "exit_light";
  const bool barrier = target == "entry_barrier" || target == "exit_barrier";
  if (light ? !parse_light(state) : (!barrier || !parse_barrier(state))) return false;
  overrides_[std::string(target)] = std::string(state);
  return true;
}

bool LanePolicy::clear_override(std::string_view target) {
  if (target.empty()) {
    const bool any = !overrides_.empty();
    overrides_.clear();
    return any;
  }
  const auto it = overrides_.find(target);
  if (it == overrides_.end()) return false;
  overrides_.erase(it);
  return true;
}

std::optional<LanePolicy::Time> LanePolicy::next_deadline() const {
  if (exit_at_ && phase_ != Phase::exit) return exit_at_;
  if (idle_since_ && phase_ == Phase::settling) return *idle_since_ + config_.idle_delay;
  return std::nullopt;
}

void LanePolicy::update(Time now) {
  // Without the module, the sensors say nothing: the weight alone decides.
  const bool sensed = sensors_.configured && sensors_.known;
  const bool ends_clear = !sensed || sensors_.ends_clear;
  Phase next = phase_;
  if (!deck_.fresh) {
    next = Phase::unknown;
    idle_since_.reset();
  } else if (deck_.at_zero && ends_clear) {
    // The vehicle has left (or none came): the weighing's exit is over.
    recorded_ = false;
    exit_at_.reset();
    if (deck_.motion) {
      idle_since_.reset();
    } else if (!idle_since_) {
      idle_since_ = now;
    }
    next = idle_since_ && now - *idle_since_ >= config_.idle_delay ? Phase::idle : Phase::settling;
  } else {
    idle_since_.reset();
    const bool on = sensed ? sensors_.fully_on : !deck_.motion && !deck_.at_zero;
    if (recorded_ && exit_at_ && now >= *exit_at_) {
      next = Phase::exit;
    } else if (recorded_ || on) {
      next = Phase::weighing;
    } else {
      next = Phase::entering;
    }
  }
  if (next != phase_) traffic_.reset();  // a TruConnect signal holds within its phase
  phase_ = next;

  auto& p = policy_;
  p.entry_light = Light::red;
  p.exit_light = Light::red;
  switch (phase_) {
    case Phase::idle:
      p.entry_light = Light::green;
      if (config_.open_entry_when_idle) p.entry_barrier = Barrier::open;
      p.exit_barrier = Barrier::closed;
      break;
    case Phase::settling:
      p.exit_barrier = Barrier::closed;
      break;
    case Phase::weighing:
      if (config_.close_entry_when_on) p.entry_barrier = Barrier::closed;
      break;
    case Phase::exit:
      p.exit_light = Light::green;
      if (config_.close_entry_when_on) p.entry_barrier = Barrier::closed;
      if (config_.open_exit_after_capture) p.exit_barrier = Barrier::open;
      break;
    case Phase::entering:
    case Phase::unknown:
      // Barriers hold: one never closes onto a vehicle that may be under it.
      break;
  }
}

Source LanePolicy::source(std::string_view target) const {
  if (overrides_.contains(target)) return Source::override_;
  if (traffic_ && (target == "entry_light" || target == "exit_light")) return Source::traffic;
  return Source::policy;
}

LaneOutputs LanePolicy::outputs() const {
  auto out = policy_;
  if (traffic_) {
    out.entry_light = traffic_->first;
    out.exit_light = traffic_->second;
  }
  for (const auto& [target, state] : overrides_) {
    if (target == "entry_light") out.entry_light = *parse_light(state);
    if (target == "exit_light") out.exit_light = *parse_light(state);
    if (target == "entry_barrier") out.entry_barrier = *parse_barrier(state);
    if (target == "exit_barrier") out.exit_barrier = *parse_barrier(state);
  }
  return out;
}

std::optional<CaptureError> sensor_refusal(const std::string& scale_id,
                                           const std::vector<IoSensorConfig>& sensors,
                                           const std::vector<std::optional<bool>>& active,
                                           bool require_sensors) {
  for (std::size_t i = 0; i < sensors.size() && i < active.size(); ++i) {
    const auto& s = sensors[i];
    if (!active[i]) {
      if (!require_sensors) continue;
      return CaptureError{503, "position_sensor_unavailable",
                          "position sensor '" + s.id + "' of scale '" + scale_id +
                              "' cannot be read: IO module '" + s.input.module +
                              "' is offline; check its power and network cable (GET /v1/io), "
                              "or set io.policy.require_sensors: false to weigh without it"};
    }
    if (!*active[i]) {
      const std::string where = s.kind == "on_deck" ? "does not see the vehicle fully on the deck"
                                                    : "sees something over its end of the deck";
      return CaptureError{409, "vehicle_not_on_deck",
                          "position sensor '" + s.id + "' of scale '" + scale_id + "' " + where +
                              ": ask the driver to move fully onto the deck, then capture again"};
    }
  }
  return std::nullopt;
}

}  // namespace weighlink::agent::io
