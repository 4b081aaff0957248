// Giropes GI620 T8 "Sipi 2" mobile axle weigher: "$    100       0 830" + LF CR (gross, net, a
// constant third field of unknown meaning), 9600 8N1, streamed continuously. No unit and no
// motion flag: the unit comes from configuration and the software window decides stability.
// scale-protocols.md §1.13, truconnect-protocol.md §1.3 (vectors and reject vectors).

#include <string>
#include <vector>

#include "deck_frame.hpp"
#include "line_parser.hpp"
#include "parsers.hpp"

namespace weighlink::scale::detail {
namespace {

// The weigher's range. TruConnect's tests refuse "$ 999999 ..." as outside it; an axle pad that
// shows more than 100 t is misread or saturated, never a weight to record.
constexpr std::int64_t kMaxWhole = 100'000;

class GiropesParser final : public LineParser {
 public:
  explicit GiropesParser(const ParserOptions& options) : LineParser("giropes", options, 64) {}

 protected:
  LineResult decode_line(std::string_view masked, std::string_view raw,
                         std::vector<Reading>& out) override {
    // The frame starts at '$'; bytes before it on the same line are noise from a torn frame.
    const auto dollar = masked.find('$');
    if (dollar == std::string_view::npos) return LineResult::bad;
    const auto fields = split_words(masked.substr(dollar + 1));
    if (fields.size() != 3 || !all_digits(fields[2])) return LineResult::bad;
    const auto gross = Decimal::parse(fields[0]);
    const auto net = Decimal::parse(fields[1]);
    if (!gross || !net || gross->units < 0 || net->units < 0) return LineResult::bad;
    const Decimal weight = implied_decimals(*gross, options());
    const auto limit = Decimal{kMaxWhole, 0};
    if (weight.compare(limit) == std::strong_ordering::greater) return LineResult::bad;
    Reading r = make_reading(StableSource::software);
    // The net field is 0 in every known sample and its tare semantics are undocumented: the
    // gross field is the reading.
    r.weight = weight;
    r.mode = WeighMode::gross;
    return emit(std::move(r), raw.substr(dollar < raw.size() ? dollar : 0), out);
  }
};

}  // namespace

std::unique_ptr<Parser> make_giropes_parser(const ParserOptions& options) {
  return std::make_unique<GiropesParser>(options);
}

}  // namespace weighlink::scale::detail
