#pragma once
// Frame encoders: the bytes an indicator would send for a given display state. Used by
// `weighlink-scale simulate` and by tests. Pure functions.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/scale/decimal.hpp"
#include "weighlink/scale/reading.hpp"

namespace weighlink::scale {

struct DisplayState {
  Decimal weight;  // signed, as displayed
  Decimal tare;    // as displayed
  std::string unit = "kg";
  WeighMode mode = WeighMode::gross;
  bool motion = false;
  bool overload = false;
  bool center_zero = false;
  // Multi-deck indicators: one weight per deck (deck 1 first); `weight` is then their sum (GVW).
  std::vector<Decimal> decks{};
};

// The bytes an indicator speaking `protocol` sends for `state`: one frame, or for multi-line
// formats every line of one frame. nullopt when the protocol has no encoder. Checksummed formats
// are encoded with their checksum.
[[nodiscard]] std::optional<std::string> encode_frame(std::string_view protocol,
                                                      const DisplayState& state);

// Toledo standard continuous frame (17 bytes, 18 with `checksum`). The decimal point and sign come
// from `weight`; `increment` is 1, 2 or 5. Weights that do not fit six digits are sent as
// out-of-range. Units: kg, lb, g, t, oz.
[[nodiscard]] std::string encode_mt_continuous(const DisplayState& state, bool checksum,
                                               int increment = 1);

// SMA standard reply "<LF>srnmf<10-char weight><3-char unit><CR>".
[[nodiscard]] std::string encode_sma(const DisplayState& state);

}  // namespace weighlink::scale
