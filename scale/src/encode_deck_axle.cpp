// Encoders for zm, cardinal-deck, i1310, mcgs and giropes: the bytes those indicators send for a
// display state, in the layouts their parsers read (see the parser sources for the formats).
#include <algorithm>
#include <string>
#include <vector>

#include "weighlink/scale/encode.hpp"

namespace weighlink::scale {
namespace {

std::string rjust(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

// The decks a frame lists: the state's decks, or the whole weight on one deck.
std::vector<Decimal> decks_of(const DisplayState& state) {
  if (!state.decks.empty()) return state.decks;
  return {state.weight};
}

// The GVW as the decks' exact sum at the widest decimal count.
std::string total_of(const std::vector<Decimal>& decks) {
  int places = 0;
  for (const auto& d : decks) places = std::max(places, d.decimals);
  std::int64_t sum = 0;
  for (const auto& d : decks) sum += d.rescaled(places).value_or(Decimal{}).units;
  return Decimal{sum, places}.to_string();
}

std::string unit_or_kg(const DisplayState& state) {
  return state.unit.empty() ? std::string("kg") : state.unit;
}

}  // namespace

std::string encode_zm(const DisplayState& state) {
  if (state.decks.size() == 4) {
    // Zedem 510: four decks and their total, digits only.
    std::string line;
    for (const auto& d : state.decks) line += rjust(d.to_string(), 6) + ",";
    line += " " + total_of(state.decks);
    return line + "\r\n";
  }
  if (!state.decks.empty()) {
    // Legacy "W"-query reply, one "<weight> <unit>," per deck.
    std::string line;
    for (const auto& d : state.decks)
      line += rjust(d.to_string(), 6) + " " + unit_or_kg(state) + ",";
    return line + "\r";
  }
  if (state.overload) return state.weight.units < 0 ? "UL\r\n" : "OL\r\n";
  const bool net = state.mode == WeighMode::net;
  std::string header = net ? (state.motion ? "NU" : "NT") : (state.motion ? "GU" : "GS");
  return header + "," + rjust(state.weight.to_string(), 9) + "," + unit_or_kg(state) + "\r\n";
}

std::string encode_cardinal_deck(const DisplayState& state) {
  const auto decks = decks_of(state);
  const std::string unit = unit_or_kg(state);
  const char flag = state.motion ? 'M' : 'S';
  std::string out;
  for (std::size_t i = 0; i < decks.size(); ++i) {
    out += "D" + std::to_string(i + 1) + ":" + rjust(decks[i].to_string(), 6) + " " + unit + " " +
           flag + "\r\n";
  }
  out += "GVW: " + total_of(decks) + " " + unit + " " + (state.overload ? 'O' : flag) + "\r\n";
  return out;
}

std::string encode_i1310(const DisplayState& state) {
  const auto decks = decks_of(state);
  const std::string unit = unit_or_kg(state);
  const char* status = state.motion ? "Motion" : "Stable";
  std::string out;
  for (std::size_t i = 0; i < decks.size(); ++i) {
    out += "Scale No: " + std::to_string(i + 1) + "  Weight: " + rjust(decks[i].to_string(), 5) +
           " " + unit + " " + (state.overload ? "OL" : status) + "\r\n";
  }
  out += "Total Weight: " + rjust(total_of(decks), 5) + " " + unit + "\r\n";
  return out;
}

std::string encode_mcgs(const DisplayState& state) {
  const bool negative = state.weight.units < 0;
  const Decimal magnitude{negative ? -state.weight.units : state.weight.units,
                          state.weight.decimals};
  std::string digits = magnitude.to_string();
  const std::size_t width = magnitude.decimals > 0 ? 8 : 7;
  if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
  // 'R' is what the units in TruConnect's captures send while weighing.
  return std::string("=SG") + (negative ? '-' : '+') + digits + "kR\r\n";
}

std::string encode_giropes(const DisplayState& state) {
  // The format has no sign: below zero the pad shows 0.
  const std::string gross = state.weight.units < 0 ? "0" : state.weight.to_string();
  return "$" + rjust(gross, 7) + rjust("0", 8) + " 830\n\r";
}

}  // namespace weighlink::scale
