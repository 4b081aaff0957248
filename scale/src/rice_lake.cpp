// Rice Lake RLWS default stream (scale-protocols.md §1.5; 920i / 880 / 480 / 680 family) and the
// identical Rice Lake IQ355 emulation of Cardinal indicators (§1.4):
//   <STX><POL><wwwwwww><UNIT L/K/T/G/O><G/N><S ' ' I M O Z><CR[LF]>
// POL = ' ' or '-'; the weight is 7 characters, right-justified, decimal point included, leading
// zeros sent as spaces. S: ' ' valid, I invalid, M motion, O over/under range, Z centre of zero.

#include <string>

#include "fixed_width.hpp"
#include "line_parser.hpp"
#include "parsers.hpp"

namespace weighlink::scale::detail {
namespace {

constexpr std::size_t kBody = 11;  // after STX

class RiceLakeParser final : public LineParser {
 public:
  explicit RiceLakeParser(const ParserOptions& options) : LineParser("rice-lake", options, 48) {}

 private:
  LineResult decode_line(std::string_view line, std::string_view raw,
                         std::vector<Reading>& out) override {
    const auto frame = after_last_stx(line);
    if (!frame || frame->body.size() != kBody) return LineResult::bad;
    const std::string_view body = frame->body;
    const char pol = body[0];
    const std::string_view weight_field = body.substr(1, 7);
    const auto unit = unit_from_letter(body[8]);
    const char mode = body[9];
    const char status = body[10];
    if (pol != ' ' && pol != '-') return LineResult::bad;
    if (!unit || (mode != 'G' && mode != 'N')) return LineResult::bad;

    Reading r = make_reading();
    r.unit = *unit;
    r.mode = mode == 'N' ? WeighMode::net : WeighMode::gross;
    bool motion = false;
    bool out_of_range = false;
    switch (status) {
      case ' ':
        break;
      case 'I':
        // The indicator flags the weight itself as invalid: no reading, the scale goes stale.
        return LineResult::ignored;
      case 'M':
        motion = true;
        break;
      case 'O':
        out_of_range = true;
        break;
      case 'Z':
        r.center_zero = true;
        break;
      default:
        return LineResult::bad;
    }
    auto weight = signed_field(pol, weight_field);
    if (!weight) {
      if (!out_of_range) return LineResult::bad;
      weight = Decimal{0, 0};
    }
    r.weight = *weight;
    if (out_of_range) {
      r.overload = pol != '-';
      r.underload = pol == '-';
    }
    r.stable = !motion && !out_of_range;
    return emit(std::move(r), raw.substr(frame->stx), out);
  }
};

}  // namespace

std::unique_ptr<Parser> make_rice_lake_parser(const ParserOptions& options) {
  return std::make_unique<RiceLakeParser>(options);
}

}  // namespace weighlink::scale::detail
