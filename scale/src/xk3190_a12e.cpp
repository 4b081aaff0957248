// Yaohua XK3190-A12 / A12E continuous output (scale-protocols.md §1.7), CR LF terminated:
//   A12E, 15 bytes: 'W' <G/N> <7-char weight, '.' included, '-' first when negative> <unit 2>
//                   <XOR high> <XOR low> CR LF        (XOR over the 11 bytes before it)
//   over / under range: 9 spaces, "OL" (overload) or "LO" (below -20 d), XOR, CR LF
//   other A12 firmware (MCUSH driver): 'w' <w gross / n net / t tare> <7-char weight> <unit 2>
//                   CR LF, no XOR
// No motion flag: stability is left to the reader's software window (stable_source = software).

#include <string>

#include "fixed_width.hpp"
#include "line_parser.hpp"
#include "parsers.hpp"

namespace weighlink::scale::detail {
namespace {

std::optional<Decimal> a12_weight(std::string_view field) {
  if (!field.empty() && field[0] == '-') return signed_field('-', field.substr(1));
  return signed_field(' ', field);
}

class Xk3190A12eParser final : public LineParser {
 public:
  explicit Xk3190A12eParser(const ParserOptions& options)
      : LineParser("xk3190-a12e", options, 48) {}

 private:
  LineResult decode_line(std::string_view line, std::string_view raw,
                         std::vector<Reading>& out) override {
    Reading r = make_reading(StableSource::software);
    if (line.size() == 13) {
      if (!xor_matches(line.substr(0, 11), line[11], line[12])) return LineResult::bad;
      if (line.substr(0, 9) == "         ") {
        const std::string_view what = line.substr(9, 2);
        if (what != "OL" && what != "LO") return LineResult::bad;
        r.overload = what == "OL";
        r.underload = what == "LO";
        r.weight = Decimal{0, 0};
      } else {
        if (line[0] != 'W' || (line[1] != 'G' && line[1] != 'N')) return LineResult::bad;
        r.mode = line[1] == 'N' ? WeighMode::net : WeighMode::gross;
        const auto w = a12_weight(line.substr(2, 7));
        if (!w || !is_letter(line[9])) return LineResult::bad;
        r.weight = *w;
        r.unit = normalize_unit(line.substr(9, 2));
      }
    } else if (line.size() == 11 && line[0] == 'w') {
      const char kind = line[1];
      if (kind != 'w' && kind != 'n' && kind != 't') return LineResult::bad;
      const auto w = a12_weight(line.substr(2, 7));
      if (!w || !is_letter(line[9])) return LineResult::bad;
      r.weight = *w;
      r.unit = normalize_unit(line.substr(9, 2));
      r.mode = kind == 'n' ? WeighMode::net : WeighMode::gross;
      if (kind == 't') {
        // The display shows the stored tare, not a load: the frame itself rules out a capture, so
        // the software window must not get the chance to call it stable.
        r.tare = r.weight;
        r.stable_source = StableSource::indicator;
      }
    } else {
      return LineResult::bad;
    }
    return emit(std::move(r), raw, out);
  }
};

}  // namespace

std::unique_ptr<Parser> make_xk3190_a12e_parser(const ParserOptions& options) {
  return std::make_unique<Xk3190A12eParser>(options);
}

}  // namespace weighlink::scale::detail
