#include "weighlink/scale/simulator.hpp"

namespace weighlink::scale {
namespace {

using std::chrono::milliseconds;

// SplitMix64: a stateless mix, so any cycle or tick can be computed without replaying the past.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

class StaticProfile final : public SimProfile {
 public:
  explicit StaticProfile(const Decimal& weight) : weight_(weight) {}
  DisplayState at(milliseconds) const override {
    DisplayState s;
    s.weight = weight_;
    s.tare = Decimal{0, weight_.decimals};
    s.center_zero = weight_.units == 0;
    return s;
  }

 private:
  Decimal weight_;
};

class TruckProfile final : public SimProfile {
 public:
  explicit TruckProfile(std::uint64_t seed) : seed_(seed) {}

  DisplayState at(milliseconds elapsed) const override {
    constexpr std::int64_t kEmpty = 3000, kRampUp = 4000, kStand = 8000, kRampDown = 3000;
    constexpr std::int64_t kCycle = kEmpty + kRampUp + kStand + kRampDown;
    constexpr std::int64_t kStep = 20;  // kg per display division
    const std::int64_t t = elapsed.count() < 0 ? 0 : elapsed.count();
    const std::int64_t cycle = t / kCycle;
    const std::int64_t in_cycle = t % kCycle;
    const std::uint64_t h = mix(seed_ ^ mix(static_cast<std::uint64_t>(cycle)));
    const std::int64_t gross = 20000 + static_cast<std::int64_t>(h % 1251) * kStep;  // ..45000

    DisplayState s;
    s.tare = Decimal{0, 0};
    std::int64_t w = 0;
    if (in_cycle < kEmpty) {
      w = 0;
    } else if (in_cycle < kEmpty + kRampUp) {
      w = gross * (in_cycle - kEmpty) / kRampUp;
      s.motion = true;
    } else if (in_cycle < kEmpty + kRampUp + kStand) {
      w = gross;
    } else {
      w = gross * (kCycle - in_cycle) / kRampDown;
      s.motion = true;
    }
    if (s.motion) {
      // The load bounces while the truck moves: a few divisions of noise, fresh every 100 ms.
      const std::uint64_t n = mix(h ^ static_cast<std::uint64_t>(t / 100));
      w += (static_cast<std::int64_t>(n % 7) - 3) * kStep;
      if (w < 0) w = 0;
    }
    w = w / kStep * kStep;
    s.weight = Decimal{w, 0};
    s.center_zero = w == 0 && !s.motion;
    return s;
  }

 private:
  std::uint64_t seed_;
};

}  // namespace

std::unique_ptr<SimProfile> make_sim_profile(std::string_view name, std::uint64_t seed,
                                             const Decimal& static_weight) {
  if (name == "static") return std::make_unique<StaticProfile>(static_weight);
  if (name == "truck") return std::make_unique<TruckProfile>(seed);
  return nullptr;
}

}  // namespace weighlink::scale
