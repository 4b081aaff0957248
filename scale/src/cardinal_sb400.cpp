// Cardinal SB-400 "Computer" continuous format (scale-protocols.md §1.4, Cardinal 225 type 1):
//   <s><xxxxxx>[.]<uu><m><cc><CR>   s = '-' or ' ', uu = tn lb oz t kg g, m = G / N,
//   cc = OC overcapacity, BZ below zero, CZ centre of zero, MO motion, ee not displayed, "  ".
// Also the reply to ENQ (0x05) when continuous output is off (Cardinal 190), and the SB-200
// scoreboard variant (Cardinal 225 type 10): <CR><s><xxxxxx>[.]<c><uu><m><ETX>, c = O / M / e / '
// '. The two are told apart by their terminator: SB-200 ends in ETX. An LF after the CR (some
// configurations add one) is accepted.

#include <string>

#include "fixed_width.hpp"
#include "line_parser.hpp"
#include "parsers.hpp"

namespace weighlink::scale::detail {
namespace {

std::optional<std::string> cardinal_unit(std::string_view field) {
  const std::string u = normalize_unit(field);
  if (u == "tn" || u == "lb" || u == "oz" || u == "t" || u == "kg" || u == "g") return u;
  return std::nullopt;
}

class CardinalSb400Parser final : public LineParser {
 public:
  explicit CardinalSb400Parser(const ParserOptions& options)
      : LineParser("cardinal-sb400", options, 32, std::string("\r\n\x03", 3)) {}

 private:
  LineResult decode_line(std::string_view line, std::string_view raw,
                         std::vector<Reading>& out) override {
    const bool scoreboard = !raw.empty() && low7(raw.back()) == kEtx;
    const std::size_t n = line.size();
    // sign + 6 digits [+ '.'] + the status/unit/mode tail (5 bytes SB-400, 4 bytes SB-200).
    const std::size_t tail = scoreboard ? 4 : 5;
    if (n != 7 + tail && n != 8 + tail) return LineResult::bad;
    const std::string_view weight_field = line.substr(1, n - tail - 1);
    std::string_view unit_field;
    char mode = 0;
    std::string_view status;
    if (scoreboard) {
      status = line.substr(n - 4, 1);
      unit_field = line.substr(n - 3, 2);
      mode = line[n - 1];
    } else {
      unit_field = line.substr(n - 5, 2);
      mode = line[n - 3];
      status = line.substr(n - 2, 2);
    }
    if (line[0] != ' ' && line[0] != '-') return LineResult::bad;
    if (mode != 'G' && mode != 'N') return LineResult::bad;
    const auto unit = cardinal_unit(unit_field);
    if (!unit) return LineResult::bad;

    Reading r = make_reading();
    r.unit = *unit;
    r.mode = mode == 'N' ? WeighMode::net : WeighMode::gross;
    bool motion = false;
    bool out_of_range = false;
    if (status == "ee" || status == "e") {
      // The indicator is not displaying a weight: a well-formed frame that carries none.
      return LineResult::ignored;
    } else if (status == "OC" || status == "O") {
      out_of_range = true;
    } else if (status == "BZ") {
      r.underload = true;
    } else if (status == "CZ") {
      r.center_zero = true;
    } else if (status == "MO" || status == "M") {
      motion = true;
    } else if (status != "  " && status != " ") {
      return LineResult::bad;
    }
    auto weight = signed_field(line[0], weight_field);
    if (!weight) {
      if (!out_of_range) return LineResult::bad;
      weight = Decimal{0, 0};  // overcapacity displays may dash the digits
    }
    r.weight = *weight;
    if (out_of_range) {
      // The scoreboard's 'O' covers both ends of the range; the sign tells them apart.
      r.overload = line[0] != '-';
      r.underload = line[0] == '-';
    }
    r.stable = !motion && !r.overload && !r.underload;
    return emit(std::move(r), raw, out);
  }
};

}  // namespace

std::unique_ptr<Parser> make_cardinal_sb400_parser(const ParserOptions& options) {
  return std::make_unique<CardinalSb400Parser>(options);
}

}  // namespace weighlink::scale::detail
