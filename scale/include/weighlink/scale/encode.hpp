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

// Single-weight formats, group A (scale/src/encode_single_weight.cpp; layouts in
// docs/protocols/group-a.md). Formats without an over-range flag (xk3190-tf0, yaohua-reverse) clamp
// to the largest value they can show; formats without a motion flag ignore `motion`.
[[nodiscard]] std::string encode_mt_sics(const DisplayState& state);         // "S S  100.00 g\r\n"
[[nodiscard]] std::string encode_cardinal_sb400(const DisplayState& state);  // SB-400, CR
[[nodiscard]] std::string encode_cardinal_sb200(const DisplayState& state);  // CR ... ETX
[[nodiscard]] std::string encode_rice_lake(const DisplayState& state);       // RLWS, CR LF
[[nodiscard]] std::string encode_rinstrum(const DisplayState& state);        // FMT_2
[[nodiscard]] std::string encode_rinstrum_format(const DisplayState& state, int format);  // 1..5
[[nodiscard]] std::string encode_ad_stgs(const DisplayState& state);         // ST,GS,+0001234kg
[[nodiscard]] std::string encode_xk3190_tf0(const DisplayState& state);      // 12 bytes, XOR
[[nodiscard]] std::string encode_xk3190_a12e(const DisplayState& state);     // 15 bytes, XOR
[[nodiscard]] std::string encode_yaohua_reverse(const DisplayState& state);  // "=04523000"

// Deck and axle formats, group B (scale/src/encode_deck_axle.cpp; layouts in
// docs/protocols/group-b.md). Multi-deck formats list `decks` (or `weight` as deck 1) and send
// their exact sum as the total. "GS,     2540,kg"; four decks: the Zedem 510 CSV; other deck
// counts: the legacy W reply.
[[nodiscard]] std::string encode_zm(const DisplayState& state);
// "D1:  1250 kg S" per deck, then "GVW: ...".
[[nodiscard]] std::string encode_cardinal_deck(const DisplayState& state);
// "Scale No: 1  Weight:  1250 kg Stable" per deck, then "Total Weight: ...".
[[nodiscard]] std::string encode_i1310(const DisplayState& state);
// "=SG+0000123kR\r\n".
[[nodiscard]] std::string encode_mcgs(const DisplayState& state);
// "$    100       0 830\n\r".
[[nodiscard]] std::string encode_giropes(const DisplayState& state);

}  // namespace weighlink::scale
