// The display component (displays.hpp): readings to each display of the scale, health and
// metrics from each display's link.

#include "devices/display/displays.hpp"

#include <memory>
#include <vector>

#include "devices/display/display_link.hpp"

namespace weighlink::agent {
namespace {

class DisplayComponent final : public DeviceComponent {
 public:
  explicit DisplayComponent(const DisplaysConfig& displays) {
    for (const auto& d : displays) links_.push_back(std::make_unique<display::DisplayLink>(d));
  }

  void health(std::vector<DeviceHealth>& out) const override {
    for (const auto& l : links_) out.push_back(l->health());
  }
  void on_reading(const scale::Reading& reading) override {
    for (auto& l : links_) {
      if (l->config().scale == reading.scale) l->put(reading);
    }
  }
  void start() override {
    for (auto& l : links_) l->start();
  }
  void stop() override {
    for (auto& l : links_) l->stop();
  }
  bool handle(const HttpRequest& /*request*/, const std::string& /*path*/,
              const std::string& /*correlation_id*/, Respond& /*respond*/) override {
    return false;
  }
  void metrics(std::string& out) const override {
    out +=
        "# HELP weighlink_display_frames_total Frames written to the remote display.\n"
        "# TYPE weighlink_display_frames_total counter\n";
    for (const auto& l : links_) {
      // Ids are checked at load: [A-Za-z0-9_.-] only, so they need no escaping here.
      out += "weighlink_display_frames_total{device=\"" + l->config().id + "\"} " +
             std::to_string(l->frames()) + "\n";
    }
  }

 private:
  std::vector<std::unique_ptr<display::DisplayLink>> links_;
};

}  // namespace

void add_displays(DeviceHub& hub) {
  const auto& displays = hub.env().config->displays;
  if (displays.empty()) return;
  hub.add(std::make_unique<DisplayComponent>(displays));
}

}  // namespace weighlink::agent
