#pragma once
// The legal-metrology rules as pure functions and small state machines (docs/legal-metrology.md):
// the software identification, the metrological settings snapshot and its diff into audit events,
// and zero return. No clock, no I/O, no logging: the adapter (legal.hpp) feeds them.
// Threading: plain values; ZeroReturn is not thread-safe (the agent uses it on its io thread).

#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "weighlink/agent/legal_config.hpp"
#include "weighlink/agent/origins.hpp"
#include "weighlink/scale/reading.hpp"
#include "weighlink/scale/scale_config.hpp"

namespace weighlink::agent {

// What identifies the running software: its name, version and the SHA-256 of its binary
// ("unknown" when the binary could not be read).
struct SoftwareId {
  std::string name = "weighlink-agent";
  std::string version;
  std::string sha256 = "unknown";
  [[nodiscard]] boost::json::object to_json() const;
};

// The metrologically relevant settings: scope (a scale id, or "origins") -> setting -> value as
// text. Saved between runs; two snapshots differ exactly where an audit event is due.
using Settings = std::map<std::string, std::map<std::string, std::string>>;

inline constexpr const char* kOriginsScope = "origins";

[[nodiscard]] boost::json::object to_json(const Settings& settings);
// nullopt when `json` is not a snapshot to_json() wrote.
[[nodiscard]] std::optional<Settings> settings_from_json(const boost::json::value& json);

// The settings of one scale that change what is weighed or how it is decoded: protocol, serial
// framing, unit, decimals, stability window, zero return and band, minimum weight, stale_after.
// The device path or host is left out (the same indicator may come back on another port).
[[nodiscard]] std::map<std::string, std::string> scale_settings(const scale::ScaleConfig& scale,
                                                                const ZeroReturnConfig& zero);
// The origins that may use the agent, each "allowed" or "denied" with its source.
[[nodiscard]] std::map<std::string, std::string> origin_settings(
    const std::vector<DecidedOrigin>& fixed, const std::vector<DecidedOrigin>& decisions);

// One setting that differs between two snapshots; nullopt old: it is new (first start, new
// scale); nullopt new: it is gone.
struct AuditChange {
  std::string scope;
  std::string setting;
  std::optional<std::string> old_value;
  std::optional<std::string> new_value;
  friend bool operator==(const AuditChange&, const AuditChange&) = default;
};

// Every setting that differs, in scope then setting order.
[[nodiscard]] std::vector<AuditChange> diff_settings(const Settings& before, const Settings& now);
// `settings` with `change` applied (what is saved with the event that records it).
void apply_change(Settings& settings, const AuditChange& change);

// The zero band of a scale for a reading shown with `decimals` places: the configured band, else
// min_capture_weight when it is above 0, else 20 display divisions (stability.division, or 1 in
// the last displayed digit).
[[nodiscard]] scale::Decimal zero_band_for(const scale::ScaleConfig& scale,
                                           const ZeroReturnConfig& zero, int decimals);

// Zero return of the station's scales: after a recorded weighing on a scale (arm), the next one
// is refused until a reading within ±band that is not stale has been seen (on_reading).
class ZeroReturn {
 public:
  void add_scale(const scale::ScaleConfig& scale, const ZeroReturnConfig& zero);
  // The saved flag of the previous run.
  void restore(const std::string& scale_id, bool required);
  // A weighing on the scale is being recorded: required from now on. False when zero return is
  // off (or the scale unknown): nothing to save.
  bool arm(const std::string& scale_id);
  // The weighing armed for was not recorded after all: back to not required.
  void disarm(const std::string& scale_id);
  // A reading reached the agent; true when it released the scale (the flag is to be cleared).
  bool on_reading(const scale::Reading& reading);
  [[nodiscard]] bool required(const std::string& scale_id) const;
  // {"enabled","required","band"} (band for the latest reading's decimal places, `decimals`).
  [[nodiscard]] boost::json::object to_json(const std::string& scale_id, int decimals) const;

 private:
  struct Scale {
    scale::ScaleConfig config;
    ZeroReturnConfig zero;
    bool required = false;
  };
  std::map<std::string, Scale> scales_;
};

}  // namespace weighlink::agent
