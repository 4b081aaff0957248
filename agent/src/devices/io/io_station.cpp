// IoStation (io_station.hpp): the lanes' policies, their coils and sensors, the capture rule.
#include "devices/io/io_station.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "weighlink/agent/legal.hpp"
#include "weighlink/agent/legal_core.hpp"

namespace weighlink::agent::io {
namespace json = boost::json;

IoStation::IoStation(DeviceEnv env, const IoConfig& config)
    : env_(std::move(env)), policy_(config.policy) {
  for (const auto& m : config.modules) {
    Module mod;
    mod.config = m;
    mod.since_ms = to_ms(env_.clock->now());
    modules_.push_back(std::move(mod));
  }
  for (const auto& l : config.lanes) lanes_.push_back({l, LanePolicy(config.policy), {}});
}

IoStation::~IoStation() {
  *alive_ = false;
  stop();
}

IoStation::Module* IoStation::module(const std::string& id) {
  for (auto& m : modules_) {
    if (m.config.id == id) return &m;
  }
  return nullptr;
}

const IoStation::Module* IoStation::module(const std::string& id) const {
  for (const auto& m : modules_) {
    if (m.config.id == id) return &m;
  }
  return nullptr;
}

IoStation::Lane* IoStation::lane(const std::string& scale_id) {
  for (auto& l : lanes_) {
    if (l.config.scale == scale_id) return &l;
  }
  return nullptr;
}

std::optional<bool> IoStation::active(const IoPoint& point) const {
  const auto* m = module(point.module);
  if (!m || !m->online) return std::nullopt;
  const auto it = m->inputs.find(point.number);
  if (it == m->inputs.end()) return std::nullopt;
  return it->second != point.active_low;
}

SensorState IoStation::sensors(const Lane& lane) const {
  SensorState s;
  s.configured = !lane.config.sensors.empty();
  s.known = true;
  for (const auto& sensor : lane.config.sensors) {
    const auto a = active(sensor.input);
    if (!a) {
      s.known = false;
      continue;
    }
    if (!*a) {
      s.fully_on = false;
      if (sensor.kind == "end_clear") s.ends_clear = false;
    }
  }
  return s;
}

void IoStation::start() {
  for (std::size_t i = 0; i < modules_.size(); ++i) {
    auto& m = modules_[i];
    if (m.link) continue;
    std::set<int> inputs;
    for (const auto& l : lanes_) {
      for (const auto& s : l.config.sensors) {
        if (s.input.module == m.config.id) inputs.insert(s.input.number);
      }
      for (const auto* p : {&l.config.entry_barrier_open, &l.config.entry_barrier_closed,
                            &l.config.exit_barrier_open, &l.config.exit_barrier_closed}) {
        if (*p && (*p)->module == m.config.id) inputs.insert((*p)->number);
      }
    }
    m.link = std::make_unique<ModbusModule>(
        m.config, std::vector<int>(inputs.begin(), inputs.end()),
        [this, i, post = env_.post, alive = std::weak_ptr<bool>(alive_)](ModuleSnapshot s) {
          post([this, i, alive, s = std::move(s)]() mutable {
            if (const auto a = alive.lock(); a && *a) on_module(i, std::move(s));
          });
        });
  }
  // Every lane starts red with its barriers closed until the deck is known.
  for (auto& l : lanes_) apply(l);
  for (auto& m : modules_) m.link->start();
}

void IoStation::stop() {
  for (auto& m : modules_) {
    if (m.link) m.link->stop();
  }
}

void IoStation::on_module(std::size_t index, ModuleSnapshot snapshot) {
  auto& m = modules_[index];
  if (snapshot.online != m.online) {
    m.since_ms = to_ms(env_.clock->now());
    if (snapshot.online) {
      spdlog::info("io module {} ({}:{}) is online", m.config.id, m.config.host, m.config.port);
      std::erase_if(warned_,
                    [&](const std::string& w) { return w.starts_with(m.config.id + "/"); });
    } else {
      spdlog::warn("io module {} is offline: {}; its outputs keep their last intended state",
                   m.config.id, snapshot.detail);
    }
  }
  m.online = snapshot.online;
  m.detail = snapshot.detail;
  m.inputs = std::move(snapshot.inputs);
  const auto now = env_.clock->steady_now();
  for (auto& l : lanes_) {
    l.policy.on_sensors(sensors(l), now);
    apply(l);
  }
}

void IoStation::on_reading(const scale::Reading& reading) {
  auto* l = lane(reading.scale);
  if (!l) return;
  scale::ScaleConfig sc;
  for (const auto& s : env_.config->scales) {
    if (s.id == reading.scale) sc = s;
  }
  const auto band =
      zero_band_for(sc, env_.config->legal.for_scale(reading.scale), reading.weight.decimals);
  const scale::Decimal below{-band.units, band.decimals};
  DeckState deck;
  deck.fresh = !reading.stale;
  deck.at_zero =
      std::is_lteq(reading.weight.compare(band)) && std::is_gteq(reading.weight.compare(below));
  deck.motion = !reading.stable;
  l->policy.on_deck(deck, env_.clock->steady_now());
  apply(*l);
}

void IoStation::on_recorded(const RecordedWeighing& weighing) {
  if (weighing.replayed) return;  // observed when it was recorded
  auto* l = lane(weighing.scale_id);
  if (!l) return;
  l->policy.on_recorded(env_.clock->steady_now());
  apply(*l);
}

void IoStation::tick() {
  const auto now = env_.clock->steady_now();
  for (auto& l : lanes_) {
    l.policy.tick(now);
    apply(l);
  }
}

void IoStation::apply(Lane& lane) {
  const auto out = lane.policy.outputs();
  if (lane.applied != out) {
    if (!lane.applied || lane.applied->entry_light != out.entry_light ||
        lane.applied->exit_light != out.exit_light) {
      spdlog::info("lane {}: {}, entry light {}, exit light {}, entry barrier {}, exit barrier {}",
                   lane.config.scale, to_string(lane.policy.phase()), to_string(out.entry_light),
                   to_string(out.exit_light), to_string(out.entry_barrier),
                   to_string(out.exit_barrier));
    }
    lane.applied = out;
    std::map<std::string, std::map<int, bool>> writes;
    const auto set = [&](const std::optional<IoPoint>& p, bool on) {
      if (p) writes[p->module][p->number] = on;
    };
    set(lane.config.entry_red, out.entry_light == Light::red);
    set(lane.config.entry_green, out.entry_light == Light::green);
    set(lane.config.exit_red, out.exit_light == Light::red);
    set(lane.config.exit_green, out.exit_light == Light::green);
    set(lane.config.entry_barrier, out.entry_barrier == Barrier::open);
    set(lane.config.exit_barrier, out.exit_barrier == Barrier::open);
    for (auto& [id, coils] : writes) {
      auto* m = module(id);
      for (const auto& [n, v] : coils) m->coils[n] = v;
      if (m->link) m->link->set_coils(coils);
    }
  }
  const auto deadline = lane.policy.next_deadline();
  if (deadline && (!tick_at_ || *deadline < *tick_at_)) {
    tick_at_ = deadline;
    const auto delay =
        std::chrono::ceil<std::chrono::milliseconds>(*deadline - env_.clock->steady_now());
    env_.schedule(std::max(delay, std::chrono::milliseconds(1)),
                  [this, alive = std::weak_ptr<bool>(alive_)] {
                    if (const auto a = alive.lock(); !a || !*a) return;
                    tick_at_.reset();
                    tick();
                  });
  }
}

std::optional<CaptureError> IoStation::refuse(const std::string& scale_id) {
  const auto* l = lane(scale_id);
  if (!l || l->config.sensors.empty()) return std::nullopt;
  std::vector<std::optional<bool>> states;
  for (const auto& s : l->config.sensors) {
    states.push_back(active(s.input));
    if (!states.back() && !policy_.require_sensors &&
        warned_.insert(s.input.module + "/" + s.id).second) {
      spdlog::warn(
          "capturing on scale {} without position sensor {}: io module {} is offline "
          "(io.policy.require_sensors is false)",
          scale_id, s.id, s.input.module);
    }
  }
  auto refusal = sensor_refusal(scale_id, l->config.sensors, states, policy_.require_sensors);
  if (refusal) ++(refusal->status == 503 ? refused_unavailable_ : refused_not_on_deck_);
  return refusal;
}

std::optional<json::object> IoStation::on_traffic(const std::string& event,
                                                  const json::object& /*data*/) {
  if (!policy_.traffic_events || env_.config->scales.empty()) return std::nullopt;
  const auto& tc = env_.config->truconnect;
  auto* l = lane(tc.scale.empty() ? env_.config->scales.front().id : tc.scale);
  if (!l || !(l->config.entry_red || l->config.entry_green || l->config.exit_red ||
              l->config.exit_green)) {
    return std::nullopt;
  }
  if (!l->policy.on_traffic(event, env_.clock->steady_now())) return std::nullopt;
  apply(*l);
  const auto out = l->policy.outputs();
  const bool go = out.entry_light == Light::green || out.exit_light == Light::green;
  return json::object{{"lane", l->config.scale},
                      {"light", go ? "green" : "red"},
                      {"entry_light", to_string(out.entry_light)},
                      {"exit_light", to_string(out.exit_light)}};
}

void IoStation::health(std::vector<DeviceHealth>& out) const {
  for (const auto& m : modules_) {
    DeviceHealth h;
    h.id = m.config.id;
    h.kind = "io";
    h.state = m.online ? "ok" : "offline";
    h.detail = m.online ? "" : m.detail;
    h.since_ms = m.since_ms;
    json::object coils;
    for (const auto& [n, v] : m.coils) coils[std::to_string(n)] = v;
    h.extra["address"] = m.config.host + ":" + std::to_string(m.config.port);
    h.extra["coils"] = std::move(coils);  // the intended state, also while offline
    out.push_back(std::move(h));
  }
}

void IoStation::status(json::object& status) const { status["io"] = to_json(); }

void IoStation::metrics(std::string& out) const {
  out +=
      "# HELP weighlink_io_capture_refusals_total Captures refused by the position sensors, by "
      "code.\n# TYPE weighlink_io_capture_refusals_total counter\n"
      "weighlink_io_capture_refusals_total{code=\"vehicle_not_on_deck\"} " +
      std::to_string(refused_not_on_deck_) +
      "\nweighlink_io_capture_refusals_total{code=\"position_sensor_unavailable\"} " +
      std::to_string(refused_unavailable_) +
      "\n# HELP weighlink_io_overrides_total Manual overrides and clears recorded in the audit "
      "trail.\n# TYPE weighlink_io_overrides_total counter\nweighlink_io_overrides_total " +
      std::to_string(overrides_recorded_) +
      "\n# HELP weighlink_io_green 1 while the lane's light is green (intended).\n"
      "# TYPE weighlink_io_green gauge\n";
  for (const auto& l : lanes_) {
    const auto o = l.policy.outputs();
    out += "weighlink_io_green{lane=\"" + l.config.scale + "\",light=\"entry\"} " +
           (o.entry_light == Light::green ? "1" : "0") + "\nweighlink_io_green{lane=\"" +
           l.config.scale + "\",light=\"exit\"} " + (o.exit_light == Light::green ? "1" : "0") +
           "\n";
  }
}

json::object IoStation::to_json() const {
  json::array lanes;
  for (const auto& l : lanes_) {
    const auto& c = l.config;
    const auto o = l.policy.outputs();
    json::object outputs;
    const auto output = [&](const char* target, bool configured, std::string_view state) {
      if (!configured) return;
      outputs[target] =
          json::object{{"state", state}, {"source", to_string(l.policy.source(target))}};
    };
    output("entry_light", c.entry_red || c.entry_green, to_string(o.entry_light));
    output("exit_light", c.exit_red || c.exit_green, to_string(o.exit_light));
    output("entry_barrier", c.entry_barrier.has_value(), to_string(o.entry_barrier));
    output("exit_barrier", c.exit_barrier.has_value(), to_string(o.exit_barrier));
    json::array sensors;
    for (const auto& s : c.sensors) {
      const auto a = active(s.input);
      const char* state = !a   ? "unknown"
                          : *a ? (s.kind == "on_deck" ? "on" : "clear")
                               : (s.kind == "on_deck" ? "off" : "blocked");
      sensors.push_back(json::object{
          {"id", s.id}, {"kind", s.kind}, {"module", s.input.module}, {"state", state}});
    }
    json::object feedback;
    const auto barrier = [&](const char* name, const std::optional<IoPoint>& open,
                             const std::optional<IoPoint>& closed) {
      if (!open && !closed) return;
      const auto is_open = open ? active(*open) : std::nullopt;
      const auto is_closed = closed ? active(*closed) : std::nullopt;
      const char* state = "unknown";
      if (is_open.value_or(false)) {
        state = "open";
      } else if (is_closed.value_or(false)) {
        state = "closed";
      } else if ((!open || is_open) && (!closed || is_closed)) {
        state = "moving";
      }
      feedback[name] = state;
    };
    barrier("entry_barrier", c.entry_barrier_open, c.entry_barrier_closed);
    barrier("exit_barrier", c.exit_barrier_open, c.exit_barrier_closed);
    json::object overrides;
    for (const auto& [t, s] : l.policy.overrides()) overrides[t] = s;
    lanes.push_back(json::object{{"scale", c.scale},
                                 {"phase", to_string(l.policy.phase())},
                                 {"outputs", std::move(outputs)},
                                 {"sensors", std::move(sensors)},
                                 {"feedback", std::move(feedback)},
                                 {"overrides", std::move(overrides)}});
  }
  json::array modules;
  std::vector<DeviceHealth> health_list;
  health(health_list);
  for (const auto& h : health_list) modules.push_back(agent::to_json(h));
  return {{"lanes", std::move(lanes)},
          {"modules", std::move(modules)},
          {"policy", json::object{{"require_sensors", policy_.require_sensors},
                                  {"traffic_events", policy_.traffic_events}}}};
}

void add_io(DeviceHub& hub, CaptureContext& captures) {
  const auto& config = hub.env().config->io;
  if (!config.configured()) return;
  auto station = std::make_unique<IoStation>(hub.env(), config);
  captures.guards.push_back(station.get());
  hub.add(std::move(station));
}

}  // namespace weighlink::agent::io
