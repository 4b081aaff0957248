#pragma once
// The station's lights, barriers and position sensors (docs/devices.md "Lights, barriers and
// position sensors"): one LanePolicy per configured lane driven by the scale's readings, the
// sensors, the recorded weighings and TruConnect's traffic events; its outputs written to the
// Modbus modules' coils; the position sensors' capture rule (a CaptureGuard); GET /v1/io and the
// operator's override (POST /v1/io/override, /v1/io/override/clear), each recorded in the
// audit trail.
// Threading: io thread only; each module's thread reports through env.post.

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "devices/io/modbus_module.hpp"
#include "weighlink/agent/devices.hpp"
#include "weighlink/agent/io_policy.hpp"

namespace weighlink::agent::io {

class IoStation final : public DeviceComponent, public CaptureGuard {
 public:
  IoStation(DeviceEnv env, const IoConfig& config);
  ~IoStation() override;

  void health(std::vector<DeviceHealth>& out) const override;
  void on_reading(const scale::Reading& reading) override;
  std::optional<boost::json::object> on_traffic(const std::string& event,
                                                const boost::json::object& data) override;
  void start() override;
  void stop() override;
  bool handle(const HttpRequest& request, const std::string& path,
              const std::string& correlation_id, Respond& respond) override;
  void status(boost::json::object& status) const override;
  void metrics(std::string& out) const override;
  void on_recorded(const RecordedWeighing& weighing) override;

  [[nodiscard]] std::optional<CaptureError> refuse(const std::string& scale_id) override;
  void arm(const std::string& /*scale_id*/, std::vector<sync::StateWrite>& /*writes*/) override {}
  void armed(const std::string& /*scale_id*/, bool /*recorded*/) override {}

  // GET /v1/io: lanes (phase, outputs with what holds each, sensors, barrier feedback,
  // overrides) and modules.
  [[nodiscard]] boost::json::object to_json() const;

 private:
  struct Module {
    IoModuleConfig config;
    std::unique_ptr<ModbusModule> link;
    bool online = false;
    std::string detail = "not connected yet";
    std::int64_t since_ms = 0;
    std::map<int, bool> inputs;  // levels read
    std::map<int, bool> coils;   // intended
  };
  struct Lane {
    IoLaneConfig config;
    LanePolicy policy;
    std::optional<LaneOutputs> applied;
  };

  Module* module(const std::string& id);
  const Module* module(const std::string& id) const;
  // The condition of an input (active_low applied), nullopt while its module is offline.
  [[nodiscard]] std::optional<bool> active(const IoPoint& point) const;
  [[nodiscard]] SensorState sensors(const Lane& lane) const;
  Lane* lane(const std::string& scale_id);
  // The lane's outputs to its coils (written when they changed), and its next tick.
  void apply(Lane& lane);
  void on_module(std::size_t index, ModuleSnapshot snapshot);
  void tick();
  void override_route(const HttpRequest& request, bool clear, const std::string& correlation_id,
                      const Respond& respond);

  DeviceEnv env_;
  IoPolicyConfig policy_;
  std::vector<Module> modules_;
  std::vector<Lane> lanes_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::optional<LanePolicy::Time> tick_at_;  // the earliest tick scheduled
  std::uint64_t refused_not_on_deck_ = 0;
  std::uint64_t refused_unavailable_ = 0;
  std::uint64_t overrides_recorded_ = 0;
  std::set<std::string> warned_;  // fail-open warnings given (once per sensor per outage)
};

// Adds the io component to `hub` when io.modules are configured, its guard to `captures`.
void add_io(DeviceHub& hub, CaptureContext& captures);

}  // namespace weighlink::agent::io
