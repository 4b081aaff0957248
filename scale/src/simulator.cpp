#include "weighlink/scale/simulator.hpp"

#include <vector>

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

constexpr std::int64_t kTruckStep = 20;  // kg per display division on a weighbridge

void add_decks(DisplayState& s, int decks, std::int64_t division) {
  s.decks = split_decks(s.weight, decks, division);
}

class StaticProfile final : public SimProfile {
 public:
  StaticProfile(const Decimal& weight, int decks) : weight_(weight), decks_(decks) {}
  DisplayState at(milliseconds) const override {
    DisplayState s;
    s.weight = weight_;
    s.tare = Decimal{0, weight_.decimals};
    s.center_zero = weight_.units == 0;
    add_decks(s, decks_, 1);
    return s;
  }

 private:
  Decimal weight_;
  int decks_;
};

class NoiseProfile final : public SimProfile {
 public:
  NoiseProfile(const Decimal& weight, std::uint64_t seed, int decks)
      : weight_(weight), seed_(seed), decks_(decks) {}
  DisplayState at(milliseconds elapsed) const override {
    const std::int64_t t = elapsed.count() < 0 ? 0 : elapsed.count();
    const std::uint64_t n = mix(seed_ ^ mix(static_cast<std::uint64_t>(t / 100)));
    // Mostly settled, sometimes off by up to three divisions (a vibrating deck, wind).
    const std::int64_t k = n % 4 == 0 ? static_cast<std::int64_t>((n >> 8) % 7) - 3 : 0;
    const std::int64_t division = weight_.decimals == 0 ? kTruckStep : 1;
    DisplayState s;
    std::int64_t w = weight_.units + k * division;
    if (w < 0) w = 0;
    s.weight = Decimal{w, weight_.decimals};
    s.tare = Decimal{0, weight_.decimals};
    s.motion = k != 0;
    s.center_zero = w == 0 && !s.motion;
    add_decks(s, decks_, division);
    return s;
  }

 private:
  Decimal weight_;
  std::uint64_t seed_;
  int decks_;
};

class TruckProfile final : public SimProfile {
 public:
  TruckProfile(std::uint64_t seed, int decks) : seed_(seed), decks_(decks) {}

  DisplayState at(milliseconds elapsed) const override {
    constexpr std::int64_t kEmpty = 3000, kRampUp = 4000, kStand = 8000, kRampDown = 3000;
    constexpr std::int64_t kCycle = kEmpty + kRampUp + kStand + kRampDown;
    const std::int64_t t = elapsed.count() < 0 ? 0 : elapsed.count();
    const std::int64_t cycle = t / kCycle;
    const std::int64_t in_cycle = t % kCycle;
    const std::uint64_t h = mix(seed_ ^ mix(static_cast<std::uint64_t>(cycle)));
    const std::int64_t gross = 20000 + static_cast<std::int64_t>(h % 1251) * kTruckStep;

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
      w += (static_cast<std::int64_t>(n % 7) - 3) * kTruckStep;
      if (w < 0) w = 0;
    }
    w = w / kTruckStep * kTruckStep;
    s.weight = Decimal{w, 0};
    s.center_zero = w == 0 && !s.motion;
    add_decks(s, decks_, kTruckStep);
    return s;
  }

 private:
  std::uint64_t seed_;
  int decks_;
};

class AxlesProfile final : public SimProfile {
 public:
  AxlesProfile(std::uint64_t seed, bool cumulative) : seed_(seed), cumulative_(cumulative) {}

  // Per axle: kOn rolling on, kStand stable, kOff rolling off; kEmpty before the first axle and
  // after the last.
  static constexpr std::int64_t kEmpty = 2000, kOn = 1000, kStand = 3000, kOff = 1000;
  static constexpr std::int64_t kAxle = kOn + kStand + kOff;

  DisplayState at(milliseconds elapsed) const override {
    const std::int64_t t = elapsed.count() < 0 ? 0 : elapsed.count();
    // Cycles differ in length (axle counts differ), so walk them from the start: one step per
    // vehicle, a few thousand after a day of simulation.
    std::int64_t cycle = 0;
    std::int64_t in_cycle = t;
    std::vector<Decimal> loads = sim_axle_loads(seed_, cycle);
    while (in_cycle >= cycle_length(loads)) {
      in_cycle -= cycle_length(loads);
      loads = sim_axle_loads(seed_, ++cycle);
    }
    DisplayState s;
    s.tare = Decimal{0, 0};
    std::int64_t w = 0;
    if (in_cycle >= kEmpty) {
      const std::int64_t k = (in_cycle - kEmpty) / kAxle;  // axle index, or past the last
      const std::int64_t in_axle = (in_cycle - kEmpty) % kAxle;
      if (k < static_cast<std::int64_t>(loads.size())) {
        std::int64_t before = 0;  // cumulative: what the earlier axles left on the display
        if (cumulative_) {
          for (std::int64_t i = 0; i < k; ++i) before += loads[static_cast<std::size_t>(i)].units;
        }
        const std::int64_t load = loads[static_cast<std::size_t>(k)].units;
        if (in_axle < kOn) {
          w = before + load * in_axle / kOn;
          s.motion = true;
        } else if (in_axle < kOn + kStand) {
          w = before + load;
        } else {
          // Rolling off: a plain axle scale empties; a cumulative one holds the total while the
          // next axle approaches.
          w = cumulative_ ? before + load : load * (kAxle - in_axle) / kOff;
          s.motion = true;
        }
        if (s.motion) {
          const std::uint64_t n = mix(seed_ ^ mix(static_cast<std::uint64_t>(t / 100)));
          w += (static_cast<std::int64_t>(n % 5) - 2) * kTruckStep;
          if (w < 0) w = 0;
        }
      }
    }
    w = w / kTruckStep * kTruckStep;
    s.weight = Decimal{w, 0};
    s.center_zero = w == 0 && !s.motion;
    return s;
  }

 private:
  static std::int64_t cycle_length(const std::vector<Decimal>& loads) {
    return 2 * kEmpty + kAxle * static_cast<std::int64_t>(loads.size());
  }

  std::uint64_t seed_;
  bool cumulative_;
};

}  // namespace

std::vector<Decimal> split_decks(const Decimal& total, int decks, std::int64_t division) {
  std::vector<Decimal> out;
  if (decks < 2) return out;
  if (division < 1) division = 1;
  const std::int64_t share = total.units / decks / division * division;
  std::int64_t rest = total.units;
  for (int i = 0; i + 1 < decks; ++i) {
    out.push_back(Decimal{share, total.decimals});
    rest -= share;
  }
  out.push_back(Decimal{rest, total.decimals});
  return out;
}

std::vector<Decimal> sim_axle_loads(std::uint64_t seed, std::int64_t cycle) {
  const std::uint64_t h = mix(seed ^ mix(static_cast<std::uint64_t>(cycle) + 0x51ULL));
  const std::size_t axles = 2 + h % 5;
  std::vector<Decimal> loads;
  for (std::size_t i = 0; i < axles; ++i) {
    const std::uint64_t n = mix(h + i);
    loads.push_back(Decimal{3000 + static_cast<std::int64_t>(n % 451) * kTruckStep, 0});
  }
  return loads;
}

std::string_view sim_profile_names() { return "static, truck, axles or noise"; }

std::unique_ptr<SimProfile> make_sim_profile(std::string_view name,
                                             const SimProfileOptions& options) {
  if (name == "static")
    return std::make_unique<StaticProfile>(options.static_weight, options.decks);
  if (name == "truck") return std::make_unique<TruckProfile>(options.seed, options.decks);
  if (name == "axles") return std::make_unique<AxlesProfile>(options.seed, options.cumulative);
  if (name == "noise") {
    return std::make_unique<NoiseProfile>(options.static_weight, options.seed, options.decks);
  }
  return nullptr;
}

std::unique_ptr<SimProfile> make_sim_profile(std::string_view name, std::uint64_t seed,
                                             const Decimal& static_weight) {
  SimProfileOptions options;
  options.seed = seed;
  options.static_weight = static_weight;
  return make_sim_profile(name, options);
}

}  // namespace weighlink::scale
