// The "ST,GS,+0001234kg" family (scale-protocols.md §1.10): A&D, Excell, Tiger, Salter Brecknell,
// Kern, Dini Argeo and the PAW portable axle weigher console. CR LF terminated.
//   HDR1 , [HDR2 ,] SIGN WEIGHT UNIT      HDR1 = ST stable / US unstable / OL overload /
//                                                UL underload (Dini); HDR2 = GS / NT / TR
// Seen in the field: A&D without HDR2 ("ST,+002.40kg"), Dini with an RS-485 address prefix and a
// comma before the unit ("01ST,GS, 0.0,kg"), PAW with a space for the sign ("ST,GS, 0000270kg"),
// overload weights filled with spaces (Excell) or 9s (A&D).

#include <string>
#include <vector>

#include "fixed_width.hpp"
#include "line_parser.hpp"
#include "parsers.hpp"

namespace weighlink::scale::detail {
namespace {

bool is_unit_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '%'; }

// "+0001234" / " 0000270" / "-  12.5" / "  " -> the weight, or nullopt when it is not a number.
std::optional<Decimal> weight_of(std::string_view field) {
  while (!field.empty() && field.back() == ' ') field.remove_suffix(1);
  const std::size_t first = field.find_first_not_of(' ');
  if (first == std::string_view::npos) return std::nullopt;
  char sign = ' ';
  if (field[first] == '+' || field[first] == '-') {
    sign = field[first];
    field = field.substr(first + 1);
  }
  return signed_field(sign, field);
}

class AdStgsParser final : public LineParser {
 public:
  explicit AdStgsParser(const ParserOptions& options) : LineParser("ad-stgs", options, 64) {}

 private:
  LineResult decode_line(std::string_view line, std::string_view raw,
                         std::vector<Reading>& out) override {
    std::string_view text = trim(line);
    // Some consoles lead with STX or another control byte.
    while (!text.empty() && static_cast<unsigned char>(text.front()) < 0x20) text.remove_prefix(1);
    // Dini Argeo on RS-485 puts a two-digit address first.
    if (text.size() >= 2 && text[0] >= '0' && text[0] <= '9' && text[1] >= '0' && text[1] <= '9')
      text.remove_prefix(2);
    auto fields = split_fields(text, ',');
    if (fields.size() < 2 || fields.size() > 4) return LineResult::bad;
    const std::string_view header = fields[0];
    std::string_view mode = "GS";
    std::size_t next = 1;
    if (fields.size() >= 3) mode = fields[next++];
    std::string_view weight_field = fields[next++];
    std::string_view unit_field;
    if (next < fields.size()) {
      unit_field = trim(fields[next]);
    } else {
      std::size_t end = weight_field.size();
      while (end > 0 && weight_field[end - 1] == ' ') --end;
      std::size_t u = end;
      while (u > 0 && is_unit_char(weight_field[u - 1])) --u;
      unit_field = weight_field.substr(u, end - u);
      weight_field = weight_field.substr(0, u);
    }
    for (const char c : unit_field) {
      if (!is_unit_char(c)) return LineResult::bad;
    }

    Reading r = make_reading();
    bool motion = false;
    if (header == "US") {
      motion = true;
    } else if (header == "OL") {
      r.overload = true;
    } else if (header == "UL") {
      r.underload = true;
    } else if (header == "QT") {
      return LineResult::ignored;  // counting mode: pieces, not a weight
    } else if (header != "ST") {
      return LineResult::bad;
    }
    bool tare_display = false;
    if (mode == "NT") {
      r.mode = WeighMode::net;
    } else if (mode == "TR") {
      tare_display = true;
    } else if (mode != "GS") {
      return LineResult::bad;
    }
    auto weight = weight_of(weight_field);
    if (!weight) {
      if (!r.overload && !r.underload) return LineResult::bad;
      weight = Decimal{0, 0};  // Excell blanks the digits over capacity
    }
    r.weight = *weight;
    if (!unit_field.empty()) r.unit = normalize_unit(unit_field);
    r.stable = !motion && !r.overload && !r.underload;
    if (tare_display) {
      // The indicator shows the stored tare, not the load: report it as the tare and never as
      // stable, so a capture cannot bind it as a gross weight (as the SMA parser does).
      r.tare = r.weight;
      r.stable = false;
    }
    return emit(std::move(r), raw, out);
  }
};

}  // namespace

std::unique_ptr<Parser> make_ad_stgs_parser(const ParserOptions& options) {
  return std::make_unique<AdStgsParser>(options);
}

}  // namespace weighlink::scale::detail
