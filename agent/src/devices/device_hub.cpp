// DeviceHub (devices.hpp): the agent's events to every device component, and their health.

#include <boost/json.hpp>

#include "weighlink/agent/devices.hpp"

namespace weighlink::agent {
namespace json = boost::json;

DeviceHub::~DeviceHub() { stop(); }

void DeviceHub::add(std::unique_ptr<DeviceComponent> component) {
  components_.push_back(std::move(component));
}

void DeviceHub::on_reading(const scale::Reading& reading) {
  for (auto& c : components_) c->on_reading(reading);
}

std::optional<json::object> DeviceHub::on_traffic(const std::string& event,
                                                  const json::object& data) {
  for (auto& c : components_) {
    if (auto answer = c->on_traffic(event, data)) return answer;
  }
  return std::nullopt;
}

void DeviceHub::start() {
  if (std::exchange(started_, true)) return;
  for (auto& c : components_) c->start();
}

void DeviceHub::stop() {
  if (!std::exchange(started_, false)) return;
  // In reverse: a component started after another may use it until it stops. (clang 14 cannot
  // compile std::ranges::reverse_view over this vector.)
  // NOLINTNEXTLINE(modernize-loop-convert)
  for (auto it = components_.rbegin(); it != components_.rend(); ++it) (*it)->stop();
}

std::vector<DeviceHealth> DeviceHub::health() const {
  std::vector<DeviceHealth> out;
  for (const auto& c : components_) c->health(out);
  return out;
}

bool DeviceHub::handle(const HttpRequest& request, const std::string& path,
                       const std::string& correlation_id, Respond& respond) {
  for (auto& c : components_) {
    if (c->handle(request, path, correlation_id, respond)) return true;
  }
  return false;
}

json::object to_json(const DeviceHealth& health) {
  json::object o{{"id", health.id},
                 {"kind", health.kind},
                 {"state", health.state},
                 {"detail", health.detail},
                 {"since_ms", health.since_ms}};
  for (const auto& [k, v] : health.extra) o[k] = v;
  return o;
}

void DeviceHub::status(json::object& status) const {
  json::array devices;
  for (const auto& h : health()) devices.push_back(to_json(h));
  status["devices"] = std::move(devices);
  for (const auto& c : components_) c->status(status);
}

void DeviceHub::metrics(std::string& out) const {
  const auto all = health();
  if (!all.empty()) {
    out +=
        "# HELP weighlink_device_up 1 when the station device answers and works (state ok), else "
        "0.\n# TYPE weighlink_device_up gauge\n";
    for (const auto& h : all) {
      // Ids are checked at load: [A-Za-z0-9_.-] only, so they need no escaping here.
      out += "weighlink_device_up{device=\"" + h.id + "\",kind=\"" + h.kind + "\"} " +
             (h.state == "ok" ? "1" : "0") + "\n";
    }
  }
  for (const auto& c : components_) c->metrics(out);
}

void DeviceHub::on_recorded(const RecordedWeighing& weighing) {
  for (auto& c : components_) c->on_recorded(weighing);
}

void DeviceHub::on_axle(const CapturedAxle& axle) {
  for (auto& c : components_) c->on_axle(axle);
}

}  // namespace weighlink::agent
