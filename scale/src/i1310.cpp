// "1310" multi-scale indicator: one line per scale "Scale No: 1  Weight:  1250 kg Stable"
// (Stable / Motion / OL / UL), the short form "1:  1250 kg", the legacy two-line form
// "Scale No: 1" + "G 5200kg", and "Total Weight:  3770 kg" closing the frame. One reading per
// frame. truconnect-protocol.md §1.3 "I1310Parser" and "Legacy field formats".

#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "deck_frame.hpp"
#include "line_parser.hpp"
#include "parsers.hpp"

namespace weighlink::scale::detail {
namespace {

constexpr int kMaxDecks = 16;

// Leading decimal digits as a deck number (1..kMaxDecks); `rest` is what follows them.
std::optional<int> deck_number(std::string_view s, std::string_view& rest) {
  std::size_t i = 0;
  int n = 0;
  while (i < s.size() && i < 3 && std::isdigit(static_cast<unsigned char>(s[i]))) {
    n = n * 10 + (s[i] - '0');
    ++i;
  }
  if (i == 0 || n < 1 || n > kMaxDecks) return std::nullopt;
  rest = s.substr(i);
  return n;
}

// The status word after "1250 kg": Stable and Motion in any case.
constexpr StatusSpelling kStatusWords[] = {{"stable", kStable, /*any_case=*/true},
                                           {"motion", kMotion, /*any_case=*/true},
                                           {"OL", kOverload},
                                           {"UL", kUnderload}};

class I1310Parser final : public LineParser {
 public:
  explicit I1310Parser(const ParserOptions& options)
      : LineParser("i1310", options, 96), frame_("i1310", options) {}

 protected:
  LineResult decode_line(std::string_view masked, std::string_view raw,
                         std::vector<Reading>& out) override {
    const std::string_view line = trim(masked);
    LineResult result = LineResult::bad;
    std::string_view rest;
    if (starts_with_icase(line, "Scale No:")) {
      if (pending_scale_) return LineResult::bad;  // two headers in a row: a line went missing
      const auto n = deck_number(trim(line.substr(9)), rest);
      if (!n) return LineResult::bad;
      rest = trim(rest);
      if (rest.empty()) {
        // Legacy two-line form: the weight follows on the next line.
        pending_scale_ = *n;
        pending_raw_.assign(raw);
        return LineResult::pending;
      }
      if (!starts_with_icase(rest, "Weight:")) return LineResult::bad;
      const auto v = parse_deck_value(rest.substr(7), kStatusWords);
      if (!v) return LineResult::bad;
      result = frame_.add_deck(*n, *v, /*expects_total=*/true, raw, out);
    } else if (starts_with_icase(line, "Total Weight:")) {
      if (pending_scale_) return LineResult::bad;
      const auto v = parse_deck_value(line.substr(13), kStatusWords);
      if (!v) return LineResult::bad;
      result = frame_.add_total(*v, raw, out);
    } else if (pending_scale_) {
      // "G 5200kg" / "N 5200kg" after "Scale No: n".
      const int n = *pending_scale_;
      pending_scale_.reset();
      if (line.size() < 3 || (line[0] != 'G' && line[0] != 'N') || line[1] != ' ')
        return LineResult::bad;
      const auto wu = split_weight_unit(line.substr(2));
      if (!wu) return LineResult::bad;
      const std::string both = pending_raw_ + std::string(raw);
      result = frame_.add_deck(
          DeckLine{n, wu->weight, wu->unit, line[0] == 'N' ? WeighMode::net : WeighMode::gross,
                   std::nullopt, false, false},
          both, out);
    } else if (const auto n = deck_number(line, rest); n && !rest.empty() && rest[0] == ':') {
      // Short form "1:  1250 kg": no motion flag, so the software window decides.
      const auto v = parse_deck_value(rest.substr(1), kStatusWords);
      if (!v) return LineResult::bad;
      result = frame_.add_deck(*n, *v, /*expects_total=*/false, raw, out);
    }
    return result;
  }

  void reset_frame() override {
    frame_.reset();
    pending_scale_.reset();
  }
  void flush(std::vector<Reading>& out) override {
    pending_scale_.reset();
    frame_.flush(out);
  }

 private:
  DeckFrame frame_;
  std::optional<int> pending_scale_;
  std::string pending_raw_;  // the "Scale No: n" line of the legacy form
};

}  // namespace

std::unique_ptr<Parser> make_i1310_parser(const ParserOptions& options) {
  return std::make_unique<I1310Parser>(options);
}

}  // namespace weighlink::scale::detail
