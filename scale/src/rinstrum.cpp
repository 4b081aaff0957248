// Rinstrum AUTO output formats FMT_1..FMT_5 (scale-protocols.md §1.8; R320 manual §9.4, CAS X320):
//   FMT_1 <STX><SIGN><WEIGHT7><STATUS G N U O M E><ETX>
//   FMT_2 <STX><SIGN><WEIGHT7><S1 G N U O E><S2 M ' '><S3 Z ' '><S4 - 1 2><UNITS3><ETX>
//   FMT_3 <STX><WEIGHT8><G/N><M/S><I/O/U><Z/' '><SP><SP><ETX>
//   FMT_4 <OL/ST/US><GR/NT><SIGN><WEIGHT7><UNITS2><CR LF>
//   FMT_5 <SIGN><WEIGHT7><UNIT L K G T><G/N><' ' M O><CR LF>
// The variant is chosen per frame by its framing and length, which never overlap (STX-framed: 9,
// 15 or 14 bytes between STX and ETX; line-framed: 14 bytes starting OL/ST/US, or 11 bytes), so
// an indicator switched between formats keeps being read and no option is needed.

#include <optional>
#include <string>

#include "fixed_width.hpp"
#include "line_parser.hpp"
#include "parsers.hpp"

namespace weighlink::scale::detail {
namespace {

// A weight with its sign inside the field ("  -325.4", "-0032540", "   325.4").
std::optional<Decimal> embedded_sign_field(std::string_view field) {
  const std::size_t first = field.find_first_not_of(' ');
  if (first == std::string_view::npos) return std::nullopt;
  if (field[first] == '-' || field[first] == '+') {
    return signed_field(field[first], field.substr(first + 1));
  }
  return signed_field(' ', field);
}

class RinstrumParser final : public LineParser {
 public:
  explicit RinstrumParser(const ParserOptions& options)
      : LineParser("rinstrum", options, 48, std::string("\x03\r\n", 3)), last_unit_(options.unit) {}

 private:
  struct Fields {
    std::optional<Decimal> weight;
    WeighMode mode = WeighMode::gross;
    bool motion = false;
    bool overload = false;
    bool underload = false;
    bool center_zero = false;
    std::string unit;
  };

  LineResult decode_line(std::string_view line, std::string_view raw,
                         std::vector<Reading>& out) override {
    Fields f;
    f.unit = options().unit;
    std::string_view frame_raw = raw;
    std::optional<LineResult> refused;
    if (const auto frame = after_last_stx(line)) {
      const std::string_view body = frame->body;
      frame_raw = raw.substr(frame->stx);
      switch (body.size()) {
        case 9:
          refused = fmt1(body, f);
          break;
        case 15:
          refused = fmt2(body, f);
          break;
        case 14:
          refused = fmt3(body, f);
          break;
        default:
          return LineResult::bad;
      }
    } else if (line.size() == 14) {
      refused = fmt4(line, f);
    } else if (line.size() == 11) {
      refused = fmt5(line, f);
    } else {
      return LineResult::bad;
    }
    if (refused) return *refused;
    if (!f.weight) {
      if (!f.overload && !f.underload) return LineResult::bad;
      f.weight = Decimal{0, 0};  // over/under range may blank the digits
    }
    Reading r = make_reading();
    r.weight = *f.weight;
    r.mode = f.mode;
    r.unit = f.unit;
    r.overload = f.overload;
    r.underload = f.underload;
    r.center_zero = f.center_zero;
    r.stable = !f.motion && !f.overload && !f.underload;
    return emit(std::move(r), frame_raw, out);
  }

  // Each returns nullopt when the frame is a reading, else how to count it.
  static std::optional<LineResult> status_letter(char s, Fields& f) {
    switch (s) {
      case 'G':
        f.mode = WeighMode::gross;
        return std::nullopt;
      case 'N':
        f.mode = WeighMode::net;
        return std::nullopt;
      case 'U':
        f.underload = true;
        return std::nullopt;
      case 'O':
        f.overload = true;
        return std::nullopt;
      case 'M':
        f.motion = true;
        return std::nullopt;
      case 'E':
        return LineResult::ignored;  // error: the indicator shows no weight
      default:
        return LineResult::bad;
    }
  }

  static std::optional<LineResult> fmt1(std::string_view b, Fields& f) {
    if (auto s = status_letter(b[8], f)) return s;
    f.weight = signed_field(b[0], b.substr(1, 7));
    return check_sign(b[0]);
  }

  std::optional<LineResult> fmt2(std::string_view b, Fields& f) {
    if (b[8] == 'M') return LineResult::bad;  // S1 never says motion; S2 does
    if (auto s = status_letter(b[8], f)) return s;
    if (b[9] != 'M' && b[9] != ' ') return LineResult::bad;
    f.motion = b[9] == 'M';
    if (b[10] != 'Z' && b[10] != ' ') return LineResult::bad;
    f.center_zero = b[10] == 'Z';
    if (b[11] != '-' && b[11] != '1' && b[11] != '2') return LineResult::bad;
    const std::string unit = normalize_unit(b.substr(12, 3));
    // The units are blanked while the weight is unstable: keep the last unit the indicator sent.
    if (!unit.empty()) last_unit_ = unit;
    f.unit = last_unit_;
    f.weight = signed_field(b[0], b.substr(1, 7));
    return check_sign(b[0]);
  }

  static std::optional<LineResult> fmt3(std::string_view b, Fields& f) {
    if (b[8] != 'G' && b[8] != 'N') return LineResult::bad;
    f.mode = b[8] == 'N' ? WeighMode::net : WeighMode::gross;
    if (b[9] != 'M' && b[9] != 'S') return LineResult::bad;
    f.motion = b[9] == 'M';
    if (b[10] == 'O') {
      f.overload = true;
    } else if (b[10] == 'U') {
      f.underload = true;
    } else if (b[10] != 'I') {
      return LineResult::bad;
    }
    if (b[11] != 'Z' && b[11] != ' ') return LineResult::bad;
    f.center_zero = b[11] == 'Z';
    if (b.substr(12) != "  ") return LineResult::bad;
    f.weight = embedded_sign_field(b.substr(0, 8));
    return std::nullopt;
  }

  static std::optional<LineResult> fmt4(std::string_view l, Fields& f) {
    const std::string_view state = l.substr(0, 2);
    if (state == "US") {
      f.motion = true;
    } else if (state == "OL") {
      f.overload = l[4] != '-';
      f.underload = l[4] == '-';
    } else if (state != "ST") {
      return LineResult::bad;
    }
    const std::string_view mode = l.substr(2, 2);
    if (mode != "GR" && mode != "NT") return LineResult::bad;
    f.mode = mode == "NT" ? WeighMode::net : WeighMode::gross;
    const std::string unit = normalize_unit(l.substr(12, 2));
    if (!unit.empty()) f.unit = unit;
    f.weight = signed_field(l[4], l.substr(5, 7));
    return check_sign(l[4]);
  }

  static std::optional<LineResult> fmt5(std::string_view l, Fields& f) {
    const auto unit = unit_from_letter(l[8]);
    if (!unit || (l[9] != 'G' && l[9] != 'N')) return LineResult::bad;
    f.unit = *unit;
    f.mode = l[9] == 'N' ? WeighMode::net : WeighMode::gross;
    if (l[10] == 'M') {
      f.motion = true;
    } else if (l[10] == 'O') {
      f.overload = l[0] != '-';
      f.underload = l[0] == '-';
    } else if (l[10] != ' ') {
      return LineResult::bad;
    }
    f.weight = signed_field(l[0], l.substr(1, 7));
    return check_sign(l[0]);
  }

  static std::optional<LineResult> check_sign(char sign) {
    return sign == ' ' || sign == '-' || sign == '+' ? std::nullopt
                                                     : std::optional(LineResult::bad);
  }

  std::string last_unit_;
};

}  // namespace

std::unique_ptr<Parser> make_rinstrum_parser(const ParserOptions& options) {
  return std::make_unique<RinstrumParser>(options);
}

}  // namespace weighlink::scale::detail
