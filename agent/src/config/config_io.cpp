// The station's lights, barriers and position sensors (`io:`, docs/configuration.md "io").
#include "config/config_io.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "config/config_checks.hpp"
#include "weighlink/base/host_port.hpp"

namespace weighlink::agent {
namespace {

using config_checks::check_keys;
using config_checks::fail;
using config_checks::get;
using config_checks::get_ms;

IoModuleConfig load_module(const YAML::Node& m, const std::filesystem::path& file,
                           const std::string& at) {
  if (!m.IsMap()) fail(file, at, "expected a mapping (id, address, unit_id, poll_ms, ...)");
  check_keys(m, {"id", "address", "unit_id", "poll_ms", "timeout_ms", "reassert_ms"}, file,
             at + ".");
  IoModuleConfig out;
  if (!m["id"]) fail(file, at + ".id", "missing (a name for the module, e.g. io-1)");
  out.id = get<std::string>(m["id"], file, at + ".id", "a string");
  config_checks::check_device_id(out.id, file, at + ".id");
  if (!m["address"]) fail(file, at + ".address", "missing (HOST:PORT, e.g. 192.168.1.50:502)");
  const auto address = get<std::string>(m["address"], file, at + ".address", "HOST:PORT");
  auto parsed = base::parse_host_port(address);
  if (!parsed) fail(file, at + ".address", parsed.error().message + " (e.g. 192.168.1.50:502)");
  out.host = parsed->host;
  out.port = parsed->port;
  if (auto n = m["unit_id"]) {
    out.unit_id = get<int>(n, file, at + ".unit_id", "a Modbus unit id, 0..247");
    if (out.unit_id < 0 || out.unit_id > 247) fail(file, at + ".unit_id", "expected 0..247");
  }
  if (auto n = m["poll_ms"]) out.poll = get_ms(n, file, at + ".poll_ms", 20, 60'000);
  if (auto n = m["timeout_ms"]) out.timeout = get_ms(n, file, at + ".timeout_ms", 50, 10'000);
  if (auto n = m["reassert_ms"]) out.reassert = get_ms(n, file, at + ".reassert_ms", 100, 600'000);
  return out;
}

class LaneReader {
 public:
  LaneReader(const std::filesystem::path& file, const std::vector<IoModuleConfig>& modules)
      : file_(file), modules_(modules) {}

  // {module, coil} or {module, input[, active_low]}; the module may be left out when there is
  // only one.
  IoPoint point(const YAML::Node& n, const std::string& at, const char* number_key) {
    if (!n.IsMap()) {
      fail(file_, at, std::string("expected a mapping {module, ") + number_key + "}");
    }
    if (std::string(number_key) == "coil") {
      check_keys(n, {"module", "coil"}, file_, at + ".");
    } else {
      check_keys(n, {"module", "input", "active_low"}, file_, at + ".");
    }
    IoPoint p;
    if (auto m = n["module"]) {
      p.module = get<std::string>(m, file_, at + ".module", "a module id");
    } else if (modules_.size() == 1) {
      p.module = modules_.front().id;
    } else {
      fail(file_, at + ".module", "missing (there are several io.modules: name one)");
    }
    if (std::none_of(modules_.begin(), modules_.end(),
                     [&](const auto& m) { return m.id == p.module; })) {
      fail(file_, at + ".module", "no module with id '" + p.module + "' in io.modules");
    }
    if (!n[number_key]) fail(file_, at + "." + number_key, "missing (0-based Modbus address)");
    p.number = get<int>(n[number_key], file_, at + "." + number_key, "a number 0..65535");
    if (p.number < 0 || p.number > 65535) fail(file_, at + "." + number_key, "expected 0..65535");
    if (auto a = n["active_low"])
      p.active_low = get<bool>(a, file_, at + ".active_low", "true or false");
    if (std::string(number_key) == "coil") {
      const auto [it, fresh] = coils_.emplace(p.module + "/" + std::to_string(p.number), at);
      if (!fresh) {
        fail(file_, at,
             "coil " + std::to_string(p.number) + " of module '" + p.module + "' is already " +
                 it->second + "; give each output its own coil");
      }
    }
    return p;
  }

 private:
  const std::filesystem::path& file_;
  const std::vector<IoModuleConfig>& modules_;
  std::map<std::string, std::string> coils_;  // module/coil -> the key that has it
};

void load_policy(const YAML::Node& n, const std::filesystem::path& file, IoPolicyConfig& p) {
  if (!n.IsMap()) fail(file, "io.policy", "expected a mapping (require_sensors, ...)");
  check_keys(n,
             {"open_entry_when_idle", "close_entry_when_on", "open_exit_after_capture",
              "require_sensors", "idle_delay_ms", "exit_delay_ms", "traffic_events"},
             file, "io.policy.");
  const auto flag = [&](const char* key, bool& out) {
    if (auto v = n[key]) out = get<bool>(v, file, std::string("io.policy.") + key, "true or false");
  };
  flag("open_entry_when_idle", p.open_entry_when_idle);
  flag("close_entry_when_on", p.close_entry_when_on);
  flag("open_exit_after_capture", p.open_exit_after_capture);
  flag("require_sensors", p.require_sensors);
  flag("traffic_events", p.traffic_events);
  if (auto v = n["idle_delay_ms"])
    p.idle_delay = get_ms(v, file, "io.policy.idle_delay_ms", 0, 600'000);
  if (auto v = n["exit_delay_ms"])
    p.exit_delay = get_ms(v, file, "io.policy.exit_delay_ms", 0, 600'000);
}

}  // namespace

void load_io(const YAML::Node& root, const std::filesystem::path& file, AgentConfig& config) {
  const auto n = root["io"];
  if (!n) return;
  if (!n.IsMap()) fail(file, "io", "expected a mapping (modules, lanes, policy)");
  check_keys(n, {"modules", "lanes", "policy"}, file, "io.");
  auto& io = config.io;
  const auto modules = n["modules"];
  if (!modules || !modules.IsSequence() || modules.size() == 0) {
    fail(file, "io.modules", "expected a list of Modbus TCP modules ({id, address})");
  }
  for (std::size_t i = 0; i < modules.size(); ++i) {
    const auto at = "io.modules[" + std::to_string(i) + "]";
    auto m = load_module(modules[i], file, at);
    for (const auto& other : io.modules) {
      if (other.id == m.id) fail(file, at + ".id", "duplicate id '" + m.id + "'");
    }
    io.modules.push_back(std::move(m));
  }
  if (auto p = n["policy"]) load_policy(p, file, io.policy);
  const auto lanes = n["lanes"];
  if (!lanes) return;
  if (!lanes.IsSequence()) fail(file, "io.lanes", "expected a list of lanes ({scale, outputs})");
  LaneReader reader(file, io.modules);
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    const auto at = "io.lanes[" + std::to_string(i) + "]";
    const auto l = lanes[i];
    if (!l.IsMap()) fail(file, at, "expected a mapping (scale, outputs, inputs, sensors)");
    check_keys(l, {"scale", "outputs", "inputs", "sensors"}, file, at + ".");
    IoLaneConfig lane;
    if (auto s = l["scale"]) {
      lane.scale = get<std::string>(s, file, at + ".scale", "a scale id");
    } else if (config.scales.size() == 1) {
      lane.scale = config.scales.front().id;
    } else {
      fail(file, at + ".scale", "missing (the id of the scale this lane leads onto)");
    }
    if (std::none_of(config.scales.begin(), config.scales.end(),
                     [&](const auto& s) { return s.id == lane.scale; })) {
      fail(file, at + ".scale", "no scale with id '" + lane.scale + "' in scales");
    }
    for (const auto& other : io.lanes) {
      if (other.scale == lane.scale) {
        fail(file, at + ".scale", "scale '" + lane.scale + "' already has a lane");
      }
    }
    if (auto o = l["outputs"]) {
      if (!o.IsMap()) fail(file, at + ".outputs", "expected a mapping (entry_red: {coil: 0}, ...)");
      const std::pair<const char*, std::optional<IoPoint>*> outs[] = {
          {"entry_red", &lane.entry_red},         {"entry_green", &lane.entry_green},
          {"exit_red", &lane.exit_red},           {"exit_green", &lane.exit_green},
          {"entry_barrier", &lane.entry_barrier}, {"exit_barrier", &lane.exit_barrier}};
      check_keys(
          o,
          {"entry_red", "entry_green", "exit_red", "exit_green", "entry_barrier", "exit_barrier"},
          file, at + ".outputs.");
      for (const auto& [key, slot] : outs) {
        if (auto v = o[key]) *slot = reader.point(v, at + ".outputs." + key, "coil");
      }
    }
    if (auto in = l["inputs"]) {
      if (!in.IsMap()) fail(file, at + ".inputs", "expected a mapping (entry_barrier_open, ...)");
      const std::pair<const char*, std::optional<IoPoint>*> ins[] = {
          {"entry_barrier_open", &lane.entry_barrier_open},
          {"entry_barrier_closed", &lane.entry_barrier_closed},
          {"exit_barrier_open", &lane.exit_barrier_open},
          {"exit_barrier_closed", &lane.exit_barrier_closed}};
      check_keys(in,
                 {"entry_barrier_open", "entry_barrier_closed", "exit_barrier_open",
                  "exit_barrier_closed"},
                 file, at + ".inputs.");
      for (const auto& [key, slot] : ins) {
        if (auto v = in[key]) *slot = reader.point(v, at + ".inputs." + key, "input");
      }
    }
    if (auto s = l["sensors"]) {
      if (!s.IsSequence()) fail(file, at + ".sensors", "expected a list ({id, kind, input})");
      for (std::size_t j = 0; j < s.size(); ++j) {
        const auto sat = at + ".sensors[" + std::to_string(j) + "]";
        if (!s[j].IsMap()) fail(file, sat, "expected a mapping {id, kind, module, input}");
        check_keys(s[j], {"id", "kind", "module", "input", "active_low"}, file, sat + ".");
        IoSensorConfig sensor;
        if (!s[j]["id"]) fail(file, sat + ".id", "missing (e.g. front_clear)");
        sensor.id = get<std::string>(s[j]["id"], file, sat + ".id", "a string");
        config_checks::check_device_id(sensor.id, file, sat + ".id");
        if (auto k = s[j]["kind"]) {
          sensor.kind = get<std::string>(k, file, sat + ".kind", "end_clear or on_deck");
          if (sensor.kind != "end_clear" && sensor.kind != "on_deck") {
            fail(file, sat + ".kind", "'" + sensor.kind + "': expected end_clear or on_deck");
          }
        }
        YAML::Node point(YAML::NodeType::Map);
        for (const char* key : {"module", "input", "active_low"}) {
          if (s[j][key]) point[key] = s[j][key];
        }
        sensor.input = reader.point(point, sat, "input");
        for (const auto& other : lane.sensors) {
          if (other.id == sensor.id) fail(file, sat + ".id", "duplicate id '" + sensor.id + "'");
        }
        lane.sensors.push_back(std::move(sensor));
      }
    }
    io.lanes.push_back(std::move(lane));
  }
}

}  // namespace weighlink::agent
