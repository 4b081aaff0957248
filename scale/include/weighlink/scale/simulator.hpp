#pragma once
// Simulated indicator display states for `weighlink-scale simulate` (and `sim:PROFILE` sources).
// Pure: the display is a function of the seed and the elapsed time, so a run is reproducible from
// its seed. Thread-compatible.

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

struct SimProfileOptions {
  std::uint64_t seed = 1;
  Decimal static_weight{32540, 0};  // "static" and "noise"
  // More than 1: the display also carries one weight per deck (DisplayState::decks), summing
  // exactly to `weight`, for multi-deck indicators.
  int decks = 0;
  // "axles": the indicator accumulates (MCGS-style); each plateau is the sum of the axles so far
  // instead of the one axle on the scale.
  bool cumulative = false;
};

// Profiles (all weights in whole display divisions, never negative):
//   "static": a constant stable weight.
//   "truck":  empty deck, a truck drives on (motion), stands still at a seeded gross weight
//             (20000-45000 kg in 20 kg steps), drives off, and again.
//   "axles":  a seeded 2-6 axle vehicle rolls axle by axle over a short axle scale: each axle
//             rolls on (motion), stands stable for 3 s, rolls off; axle loads 3000-12000 kg.
//   "noise":  the static weight with a few divisions of noise every 100 ms, flagged as motion
//             whenever the display is off the settled value.
// nullptr for an unknown profile name.
[[nodiscard]] std::unique_ptr<SimProfile> make_sim_profile(std::string_view name,
                                                           const SimProfileOptions& options);
[[nodiscard]] std::unique_ptr<SimProfile> make_sim_profile(std::string_view name,
                                                           std::uint64_t seed,
                                                           const Decimal& static_weight);

// The names make_sim_profile() accepts, for usage messages.
[[nodiscard]] std::string_view sim_profile_names();

// Splits `total` over `decks` decks in whole `division`s (the last deck takes the remainder), so
// the deck weights sum exactly to `total`. Empty for decks < 2.
[[nodiscard]] std::vector<Decimal> split_decks(const Decimal& total, int decks,
                                               std::int64_t division);

// Axle loads of the vehicle the "axles" profile shows in cycle `cycle` (for tests).
[[nodiscard]] std::vector<Decimal> sim_axle_loads(std::uint64_t seed, std::int64_t cycle);

}  // namespace weighlink::scale
