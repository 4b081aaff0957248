// Yaohua / Zemic XK3190 continuous output, tF = 0 (A9+, DS1, DS3, A23P, A26 "format 0";
// scale-protocols.md §1.7), 12 bytes:
//   STX <sign + -> <6 digits, MSD first> <decimal places '0'..'4'> <XOR high> <XOR low> ETX
// The XOR covers sign .. decimal places; each nibble is sent as n + '0' (n <= 9) or n + '7'. A
// wrong XOR is a bad frame. The frame has no motion flag, no unit and no gross/net flag: the unit
// comes from ParserOptions::unit, the mode is gross, and stability is left to the reader's
// software window (stable_source = software, stable = false).

#include <string>

#include "fixed_width.hpp"
#include "line_parser.hpp"
#include "parsers.hpp"

namespace weighlink::scale::detail {
namespace {

constexpr std::size_t kBody = 10;  // between STX and ETX

class Xk3190Tf0Parser final : public LineParser {
 public:
  explicit Xk3190Tf0Parser(const ParserOptions& options)
      : LineParser("xk3190-tf0", options, 64, std::string(1, kEtx)) {}

 private:
  LineResult decode_line(std::string_view line, std::string_view raw,
                         std::vector<Reading>& out) override {
    const auto frame = after_last_stx(line);
    if (!frame || frame->body.size() != kBody) return LineResult::bad;
    const std::string_view body = frame->body;
    if (!xor_matches(body.substr(0, 8), body[8], body[9])) return LineResult::bad;
    const char sign = body[0];
    if (sign != '+' && sign != '-') return LineResult::bad;
    const std::string_view digits = body.substr(1, 6);
    std::int64_t units = 0;
    for (const char c : digits) {
      if (c < '0' || c > '9') return LineResult::bad;
      units = units * 10 + (c - '0');
    }
    const char places = body[7];
    if (places < '0' || places > '4') return LineResult::bad;

    Reading r = make_reading(StableSource::software);
    r.weight = Decimal{sign == '-' ? -units : units, places - '0'};
    return emit(std::move(r), raw.substr(frame->stx), out);
  }
};

}  // namespace

std::unique_ptr<Parser> make_xk3190_tf0_parser(const ParserOptions& options) {
  return std::make_unique<Xk3190Tf0Parser>(options);
}

}  // namespace weighlink::scale::detail
