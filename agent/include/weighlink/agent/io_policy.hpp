#pragma once
// The station policy of one lane (docs/devices.md "Lights, barriers and position sensors"): a
// pure state machine from the deck's readings, the position sensors, the recorded weighing,
// TruConnect's traffic events and the operator's overrides to the lights and barriers it
// wants. The time is an argument; no clock, thread or socket here.
// Threading: none of its own; the io component calls it on the io thread.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/agent/captures.hpp"
#include "weighlink/agent/io_config.hpp"

namespace weighlink::agent::io {

enum class Light { red, green, off };
enum class Barrier { closed, open };

// idle: at zero, ends clear, entry green. settling: at zero, waiting for the idle delay (or the
// deck moves). entering: a vehicle coming on. weighing: fully on (or stable without sensors).
// exit: its weighing is on disk, exit green. unknown: no fresh reading (stale): all red.
enum class Phase { unknown, settling, idle, entering, weighing, exit };

[[nodiscard]] std::string_view to_string(Light light);
[[nodiscard]] std::string_view to_string(Barrier barrier);
[[nodiscard]] std::string_view to_string(Phase phase);
[[nodiscard]] std::optional<Light> parse_light(std::string_view text);
[[nodiscard]] std::optional<Barrier> parse_barrier(std::string_view text);

struct LaneOutputs {
  Light entry_light = Light::red;
  Light exit_light = Light::red;
  Barrier entry_barrier = Barrier::closed;
  Barrier exit_barrier = Barrier::closed;
  friend bool operator==(const LaneOutputs&, const LaneOutputs&) = default;
};

// The deck as the scale's latest reading shows it.
struct DeckState {
  bool fresh = false;    // a reading that is not stale
  bool at_zero = false;  // within the zero band
  bool motion = false;
};

// The position sensors of the lane, as their module last read them.
struct SensorState {
  bool configured = false;  // the lane has sensors
  bool known = false;       // their module answered (false: offline)
  bool ends_clear = true;   // every end_clear sensor active
  bool fully_on = true;     // every sensor (end_clear and on_deck) active
};

// The output targets of a lane, as the override and GET /v1/io name them.
inline constexpr std::string_view kTargets[] = {"entry_light", "exit_light", "entry_barrier",
                                                "exit_barrier"};

// What holds a target: the policy, a TruConnect event, or the operator's override.
enum class Source { policy, traffic, override_ };
[[nodiscard]] std::string_view to_string(Source source);

class LanePolicy {
 public:
  using Time = std::chrono::steady_clock::time_point;
  explicit LanePolicy(IoPolicyConfig config);

  void on_deck(DeckState deck, Time now);
  void on_sensors(SensorState sensors, Time now);
  // The lane's weighing is on disk.
  void on_recorded(Time now);
  // enter / move-forward / move-back / stop: the lights as the TruLoad operator signals, held
  // until the phase changes. False for another event.
  bool on_traffic(std::string_view event, Time now);
  // The operator's override of one target ("entry_light" + "green"); false when either is not
  // one (kTargets; red|green|off for lights, open|closed for barriers).
  bool set_override(std::string_view target, std::string_view state);
  // Clears one target's override, or every one (empty target). False: nothing was held.
  bool clear_override(std::string_view target = {});
  // Delays running out.
  void tick(Time now);

  [[nodiscard]] LaneOutputs outputs() const;
  [[nodiscard]] Phase phase() const { return phase_; }
  [[nodiscard]] Source source(std::string_view target) const;
  // The overrides held, target -> state.
  [[nodiscard]] const std::map<std::string, std::string, std::less<>>& overrides() const {
    return overrides_;
  }
  // When tick() has something to do next (a delay running), if anything.
  [[nodiscard]] std::optional<Time> next_deadline() const;

 private:
  void update(Time now);

  IoPolicyConfig config_;
  DeckState deck_;
  SensorState sensors_;
  Phase phase_ = Phase::unknown;
  LaneOutputs policy_;  // what the policy wants, before traffic and overrides
  bool recorded_ = false;
  std::optional<Time> exit_at_;
  std::optional<Time> idle_since_;
  std::optional<std::pair<Light, Light>> traffic_;  // entry, exit
  std::map<std::string, std::string, std::less<>> overrides_;
};

// The capture rule of the position sensors: 409 vehicle_not_on_deck naming the first sensor
// whose condition does not hold; 503 position_sensor_unavailable when their module is offline
// and `require_sensors`. `active[i]` is sensors[i]'s condition, nullopt while unknown.
[[nodiscard]] std::optional<CaptureError> sensor_refusal(
    const std::string& scale_id, const std::vector<IoSensorConfig>& sensors,
    const std::vector<std::optional<bool>>& active, bool require_sensors);

}  // namespace weighlink::agent::io
