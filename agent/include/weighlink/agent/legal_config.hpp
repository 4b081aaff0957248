#pragma once
// The legal-metrology settings of the agent (config `scales[].zero_return`,
// `scales[].zero_band`; docs/legal-metrology.md). Plain data.

#include <map>
#include <optional>
#include <string>

#include "weighlink/scale/decimal.hpp"

namespace weighlink::agent {

// Zero return of one scale: after a recorded weighing the next one is refused until the scale
// has shown a weight within ±band (docs/legal-metrology.md, "Zero return").
struct ZeroReturnConfig {
  bool enabled = true;
  // nullopt: the default band (zero_band_for() in legal_core.hpp).
  std::optional<scale::Decimal> band;
  friend bool operator==(const ZeroReturnConfig&, const ZeroReturnConfig&) = default;
};

struct LegalConfig {
  // Per scale id; a scale not listed has the defaults.
  std::map<std::string, ZeroReturnConfig> zero_return;

  [[nodiscard]] ZeroReturnConfig for_scale(const std::string& id) const {
    const auto it = zero_return.find(id);
    return it == zero_return.end() ? ZeroReturnConfig{} : it->second;
  }
};

}  // namespace weighlink::agent
