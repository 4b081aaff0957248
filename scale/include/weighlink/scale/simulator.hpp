#pragma once
// Simulated indicator display states for `weighlink-scale simulate` (and later `sim:PROFILE`
// sources). Pure: the display is a function of the seed and the elapsed time, so a run is
// reproducible from its seed. Thread-compatible.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "weighlink/scale/encode.hpp"

namespace weighlink::scale {

class SimProfile {
 public:
  virtual ~SimProfile() = default;
  // What the indicator displays `elapsed` after the simulation started.
  [[nodiscard]] virtual DisplayState at(std::chrono::milliseconds elapsed) const = 0;
};

// "static": a constant stable weight. "truck": empty deck, a truck drives on (motion), stands
// still at a seeded gross weight (20000-45000 kg in 20 kg steps), drives off, and again.
// nullptr for an unknown profile name.
[[nodiscard]] std::unique_ptr<SimProfile> make_sim_profile(std::string_view name,
                                                           std::uint64_t seed,
                                                           const Decimal& static_weight);

}  // namespace weighlink::scale
