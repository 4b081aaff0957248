// Cardinal multi-deck output: one line per deck "D1:  1250 kg S" ... then "GVW: 5190 kg S"
// (status S stable, M motion, O overload, U underload), and the legacy per-deck layout
// "Z1G 2        5500kg" (status byte, G/N, deck number, weight, unit) from the iConnect stations.
// One reading per frame: truconnect-protocol.md §1.3 "Cardinal2Parser" and "Legacy field formats".

#include <cctype>
#include <string>
#include <vector>

#include "deck_frame.hpp"
#include "line_parser.hpp"
#include "parsers.hpp"

namespace weighlink::scale::detail {
namespace {

constexpr int kMaxDecks = 16;

// The status letter after "<weight> [unit]".
constexpr StatusSpelling kStatusLetters[] = {
    {"S", kStable}, {"M", kMotion}, {"O", kOverload}, {"U", kUnderload}};

class CardinalDeckParser final : public LineParser {
 public:
  explicit CardinalDeckParser(const ParserOptions& options)
      : LineParser("cardinal-deck", options, 96), frame_("cardinal-deck", options) {}

 protected:
  LineResult decode_line(std::string_view masked, std::string_view raw,
                         std::vector<Reading>& out) override {
    const std::string_view line = trim(masked);
    LineResult result = LineResult::bad;
    if (line.size() >= 3 && line[0] == 'D' && std::isdigit(static_cast<unsigned char>(line[1]))) {
      const auto colon = line.find(':');
      if (colon == std::string_view::npos || colon > 3) return LineResult::bad;
      int index = 0;
      for (const char c : line.substr(1, colon - 1)) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return LineResult::bad;
        index = index * 10 + (c - '0');
      }
      const auto v = parse_deck_value(line.substr(colon + 1), kStatusLetters);
      if (!v || index < 1 || index > kMaxDecks) return LineResult::bad;
      result = frame_.add_deck(index, *v, /*expects_total=*/true, raw, out);
    } else if (starts_with_icase(line, "GVW:") || starts_with_icase(line, "TOTAL:")) {
      const auto v = parse_deck_value(line.substr(line.find(':') + 1), kStatusLetters);
      if (!v) return LineResult::bad;
      result = frame_.add_total(*v, raw, out);
    } else if (line.size() >= 6 && line[0] == 'Z' && (line[2] == 'G' || line[2] == 'N') &&
               line[3] == ' ' && line[4] >= '1' && line[4] <= '9') {
      // Legacy "Z<s>G <deck>   <weight><unit>". The meaning of the byte after 'Z' is not
      // documented (every sample shows '1'), so it is not read as a motion flag: the software
      // window decides stability for this layout.
      const auto wu = split_weight_unit(line.substr(5));
      if (!wu) return LineResult::bad;
      result = frame_.add_deck(
          DeckLine{line[4] - '0', wu->weight, wu->unit,
                   line[2] == 'N' ? WeighMode::net : WeighMode::gross, std::nullopt, false, false},
          raw, out);
    }
    return result;
  }

  void reset_frame() override { frame_.reset(); }
  void flush(std::vector<Reading>& out) override { frame_.flush(out); }

 private:
  DeckFrame frame_;
};

}  // namespace

std::unique_ptr<Parser> make_cardinal_deck_parser(const ParserOptions& options) {
  return std::make_unique<CardinalDeckParser>(options);
}

}  // namespace weighlink::scale::detail
