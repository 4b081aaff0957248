#pragma once
// The station's lights, barriers and position sensors (config `io:`, docs/devices.md "Lights,
// barriers and position sensors"): Modbus TCP modules, the lanes (one per scale) mapped onto
// their coils and discrete inputs, and the station policy's switches. Plain data.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace weighlink::agent {

// One Modbus TCP relay/IO module (io.modules[]).
struct IoModuleConfig {
  std::string id;  // a device id (config_checks::check_device_id)
  std::string host;
  std::uint16_t port = 502;
  int unit_id = 1;                                // the Modbus slave id, 0..247
  std::chrono::milliseconds poll{100};            // inputs read this often
  std::chrono::milliseconds timeout{500};         // one request's response timeout
  std::chrono::milliseconds reassert{2000};       // every output written again this often
  std::chrono::milliseconds reconnect_max{5000};  // offline: connect again at most this late
};

// A coil (output) or a discrete input (sensor) of a module.
struct IoPoint {
  std::string module;
  int number = 0;           // 0-based Modbus address
  bool active_low = false;  // inputs only: the condition holds when the input reads 0
};

// A position sensor: active (after active_low) means its condition holds.
struct IoSensorConfig {
  std::string id;
  // end_clear: nothing over this end of the deck (a light beam across it is unbroken);
  // on_deck: the vehicle is fully on the deck.
  std::string kind = "end_clear";
  IoPoint input;
};

// One lane: the lights, barriers and sensors of one scale's deck (io.lanes[]).
struct IoLaneConfig {
  std::string scale;
  // Coils: a light is a red and a green coil; a barrier one coil (on = open).
  std::optional<IoPoint> entry_red, entry_green, exit_red, exit_green;
  std::optional<IoPoint> entry_barrier, exit_barrier;
  // Barrier feedback (shown, not acted on): discrete inputs active when open / closed.
  std::optional<IoPoint> entry_barrier_open, entry_barrier_closed;
  std::optional<IoPoint> exit_barrier_open, exit_barrier_closed;
  std::vector<IoSensorConfig> sensors;
};

// The station policy's switches (io.policy; docs/devices.md has the table).
struct IoPolicyConfig {
  bool open_entry_when_idle = true;     // the entry barrier opens with the entry light green
  bool close_entry_when_on = true;      // and closes once the vehicle is fully on the deck
  bool open_exit_after_capture = true;  // the exit barrier opens once the weighing is on disk
  // A capture is refused (503 position_sensor_unavailable) while the module with a sensor is
  // offline; false: allowed, with a warning (fail open).
  bool require_sensors = true;
  // The deck must stay at zero with its ends clear this long before the entry turns green.
  std::chrono::milliseconds idle_delay{0};
  // The exit opens this long after the weighing is on disk.
  std::chrono::milliseconds exit_delay{0};
  // TruConnect's enter / move-forward / move-back / stop drive the lights of the lane.
  bool traffic_events = true;
};

struct IoConfig {
  std::vector<IoModuleConfig> modules;
  std::vector<IoLaneConfig> lanes;
  IoPolicyConfig policy;
  [[nodiscard]] bool configured() const { return !modules.empty(); }
};

}  // namespace weighlink::agent
