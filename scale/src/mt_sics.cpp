// Mettler Toledo MT-SICS weight responses (scale-protocols.md §1.2): "S S     100.00 g" (stable),
// "S D     129.07 g" (dynamic, from SI / SIR), "S I" (busy), "S +" / "S -" (over / underload),
// generic errors ES / ET / EL. CR LF terminated. A polled protocol: poll.hpp gives "SI\r\n".

#include <string>
#include <vector>

#include "line_parser.hpp"
#include "parsers.hpp"

namespace weighlink::scale::detail {
namespace {

bool is_command_id(std::string_view token) {
  if (token.empty() || token.size() > 4) return false;
  if (token == "@") return true;
  if (token[0] < 'A' || token[0] > 'Z') return false;
  for (const char c : token) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

class MtSicsParser final : public LineParser {
 public:
  explicit MtSicsParser(const ParserOptions& options) : LineParser("mt-sics", options, 64) {}

 private:
  LineResult decode_line(std::string_view line, std::string_view raw,
                         std::vector<Reading>& out) override {
    const auto t = split_words(line);
    if (t.empty() || !is_command_id(t[0])) return LineResult::bad;
    // Generic errors and our own command echoed back: answers, not weights.
    if (t.size() == 1) return LineResult::ignored;
    const std::string_view id = t[0];
    const bool weight_reply = id == "S" || id == "SI" || id == "SIR";
    if (!weight_reply) {
      // Z A, ZI D, T S ..., I4 A "..." and the like: replies to other commands.
      return LineResult::ignored;
    }
    const std::string_view status = t[1];
    Reading r = make_reading();
    if (status == "I" || status == "L") {
      // Not executable (busy, or timed out waiting for stability) / logical error: no weight.
      return t.size() == 2 ? LineResult::ignored : LineResult::bad;
    }
    if (status == "+" || status == "-") {
      if (t.size() != 2) return LineResult::bad;
      r.overload = status == "+";
      r.underload = status == "-";
      r.weight = Decimal{0, options().decimals > 0 ? options().decimals : 0};
      r.stable = false;
    } else if (status == "S" || status == "D") {
      // The weight may carry a sign separated from its digits by padding ("S S -    1.20 g").
      std::size_t first = 2;
      std::string weight_text;
      if (t.size() >= 4 && (t[2] == "-" || t[2] == "+")) {
        weight_text = std::string(t[2]) + std::string(t[3]);
        first = 4;
      } else if (t.size() >= 3) {
        weight_text = std::string(t[2]);
        first = 3;
      } else {
        return LineResult::bad;
      }
      if (t.size() > first + 1) return LineResult::bad;
      const auto w = parse_weight(weight_text);
      if (!w) return LineResult::bad;
      r.weight = *w;
      if (t.size() == first + 1) r.unit = normalize_unit(t[first]);
      r.stable = status == "S";
    } else {
      return LineResult::bad;
    }
    return emit(std::move(r), raw, out);
  }
};

}  // namespace

std::unique_ptr<Parser> make_mt_sics_parser(const ParserOptions& options) {
  return std::make_unique<MtSicsParser>(options);
}

}  // namespace weighlink::scale::detail
