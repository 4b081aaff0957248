#pragma once
// The station's other devices (docs/devices.md): cameras, ticket printers, lights, barriers and
// position sensors, remote displays. Each type is a DeviceComponent in its own folder under
// agent/src/devices/; the DeviceHub hands them the agent's events (readings, recorded weighings,
// axles, TruConnect's traffic events), serves their routes and joins their health into
// /v1/status ("devices"), /metrics and the operator page. Every device is optional and tolerant
// of being absent or unplugged: it never blocks or delays a capture.
// Threading: io thread only, unless a component says otherwise about its own threads.

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weighlink/agent/api.hpp"
#include "weighlink/agent/captures.hpp"
#include "weighlink/agent/clock.hpp"
#include "weighlink/agent/config.hpp"
#include "weighlink/agent/live_state.hpp"
#include "weighlink/sync/blob_store.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::agent {

class Legal;

// One device as the operator and the SRE see it.
struct DeviceHealth {
  std::string id;    // the configured id, unique over all devices ("entry-cam", "printer")
  std::string kind;  // camera | printer | io | display
  // ok | offline (configured, not answering) | error (answering, not working: paper out) |
  // disabled
  std::string state = "ok";
  std::string detail;         // why, for the operator ("connection refused", "paper out")
  std::int64_t since_ms = 0;  // when the state began (ms since the epoch)
  boost::json::object extra;  // what the kind adds (pending jobs, outputs, last image)
};

// What a component is given at start.
struct DeviceEnv {
  const AgentConfig* config = nullptr;
  sync::Outbox* outbox = nullptr;
  LiveState* live = nullptr;
  sync::BlobStore* blobs = nullptr;  // <data_dir>/blobs: images and other evidence files
  Legal* legal = nullptr;            // the audit trail
  const Clock* clock = &real_clock();
  // Runs `fn` on the io thread.
  std::function<void(std::function<void()>)> post;
  // Runs `fn` on the io thread after `delay`.
  std::function<void(std::chrono::milliseconds, std::function<void()>)> schedule;
};

// One device type with all the devices of it configured on the station.
class DeviceComponent : public ApiRoutes, public CaptureObserver {
 public:
  // Appends the health of each of its devices.
  virtual void health(std::vector<DeviceHealth>& out) const = 0;
  // A reading of a scale (coalesced, as the live socket sees them).
  virtual void on_reading(const scale::Reading& /*reading*/) {}
  // TruConnect's traffic events (truconnect.hpp); nullopt: not handled by this component.
  virtual std::optional<boost::json::object> on_traffic(const std::string& /*event*/,
                                                        const boost::json::object& /*data*/) {
    return std::nullopt;
  }
  // After the agent serves (threads, connections), and before it stops. Idempotent.
  virtual void start() {}
  virtual void stop() {}
};

class DeviceHub final : public ApiRoutes, public CaptureObserver {
 public:
  explicit DeviceHub(DeviceEnv env) : env_(std::move(env)) {}
  ~DeviceHub() override;

  // Adds a component; its guard (if any) is registered by the component itself.
  void add(std::unique_ptr<DeviceComponent> component);
  [[nodiscard]] const DeviceEnv& env() const { return env_; }
  [[nodiscard]] bool empty() const { return components_.empty(); }

  void on_reading(const scale::Reading& reading);
  std::optional<boost::json::object> on_traffic(const std::string& event,
                                                const boost::json::object& data);
  void start();
  void stop();
  [[nodiscard]] std::vector<DeviceHealth> health() const;

  // ApiRoutes: each component's routes; /v1/status "devices" (every device's health) plus what
  // the components add; /metrics weighlink_device_up and the components' families.
  bool handle(const HttpRequest& request, const std::string& path,
              const std::string& correlation_id, Respond& respond) override;
  void status(boost::json::object& status) const override;
  void metrics(std::string& out) const override;
  // CaptureObserver: passed to every component.
  void on_recorded(const RecordedWeighing& weighing) override;
  void on_axle(const CapturedAxle& axle) override;

 private:
  DeviceEnv env_;
  std::vector<std::unique_ptr<DeviceComponent>> components_;
  bool started_ = false;
};

[[nodiscard]] boost::json::object to_json(const DeviceHealth& health);

// The station's devices as configured (none configured: an empty hub), observing `captures`.
[[nodiscard]] std::unique_ptr<DeviceHub> make_devices(DeviceEnv env, CaptureContext& captures);

}  // namespace weighlink::agent
