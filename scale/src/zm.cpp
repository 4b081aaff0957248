// Avery Weigh-Tronix ZM indicators (ZM201/303/405/510): the header lines "GS,     2540,kg"
// (GS/GU/NS/NT/NU/TR/OL/UL), the Zedem 510 multi-deck CSV "00,    00,  1100,  1000, 2100" (four
// decks and their total) and the legacy "W"-query reply "  5200 kg, 12440 kg, 0 kg,  0 kg,\r"
// (one "<weight> <unit>" field per deck). scale-protocols.md §1.6, truconnect-protocol.md §1.3.

#include <cctype>
#include <string>
#include <vector>

#include "deck_frame.hpp"
#include "line_parser.hpp"
#include "parsers.hpp"

namespace weighlink::scale::detail {
namespace {

constexpr int kZedemDecks = 4;

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }

class ZmParser final : public LineParser {
 public:
  explicit ZmParser(const ParserOptions& options) : LineParser("zm", options, 160) {}

 protected:
  LineResult decode_line(std::string_view masked, std::string_view raw,
                         std::vector<Reading>& out) override {
    // A leading STX (and any other control byte) is framing, not text.
    std::string text;
    for (const char c : masked) {
      if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7F) text.push_back(c);
    }
    const std::string_view line = trim(text);
    if (line.empty()) return LineResult::ignored;
    if (line.size() >= 2 && is_upper(line[0]) && is_upper(line[1]) &&
        (line.size() == 2 || line[2] == ',' || line[2] == ' '))
      return header_line(line, raw, out);
    auto fields = split_fields(line, ',');
    // The legacy reply ends every field with a comma, so the last field is empty.
    if (fields.size() > 1 && trim(fields.back()).empty()) fields.pop_back();
    for (const auto f : fields) {
      if (trim(f).empty()) return LineResult::bad;
    }
    const bool with_units = split_weight_unit(fields.front()).has_value() &&
                            !split_weight_unit(fields.front())->unit.empty();
    return with_units ? legacy_reply(fields, raw, out) : zedem_csv(fields, raw, out);
  }

 private:
  LineResult header_line(std::string_view line, std::string_view raw, std::vector<Reading>& out) {
    const auto fields = split_fields(line, ',');
    const std::string_view header = trim(fields[0]);
    Reading r = make_reading();
    r.raw.assign(raw);
    if (header == "OL" || header == "UL") {
      // Over/under range: the digits are blanked or meaningless; keep the flag, never stable.
      r.overload = header == "OL";
      r.underload = header == "UL";
      r.weight = Decimal{0, options().decimals > 0 ? options().decimals : 0};
      if (fields.size() >= 2) {
        if (const auto w = parse_weight(fields[1])) r.weight = implied_decimals(*w, options());
      }
      if (fields.size() >= 3 && !trim(fields[2]).empty()) r.unit = normalize_unit(fields[2]);
      r.stable = false;
      out.push_back(std::move(r));
      return LineResult::reading;
    }
    if (fields.size() < 2 || fields.size() > 3) return LineResult::bad;
    const auto weight = parse_weight(fields[1]);
    if (!weight) return LineResult::bad;
    r.weight = implied_decimals(*weight, options());
    if (fields.size() == 3 && !trim(fields[2]).empty()) {
      const auto unit = trim(fields[2]);
      for (const char c : unit) {
        if (!std::isalpha(static_cast<unsigned char>(c))) return LineResult::bad;
      }
      r.unit = normalize_unit(unit);
    }
    if (header == "GS") {
      r.stable = true;
    } else if (header == "GU") {
      r.stable = false;
    } else if (header == "NS" || header == "NT") {
      r.mode = WeighMode::net;
      r.stable = true;
    } else if (header == "NU") {
      r.mode = WeighMode::net;
      r.stable = false;
    } else if (header == "TR") {
      // The display shows the stored tare, not a load: report it as the tare and never stable,
      // so a capture cannot bind a tare as a gross weight (same rule as SMA's 'T' mode).
      r.tare = r.weight;
      r.stable = false;
    } else {
      return LineResult::bad;
    }
    out.push_back(std::move(r));
    return LineResult::reading;
  }

  // Zedem 510: the deck weights then the indicator's total, digits only, no unit, no motion flag.
  LineResult zedem_csv(const std::vector<std::string_view>& fields, std::string_view raw,
                       std::vector<Reading>& out) {
    const int decks = options().deck_count > 0 ? options().deck_count : kZedemDecks;
    if (static_cast<int>(fields.size()) != decks + 1) return LineResult::bad;
    std::vector<Decimal> weights;
    for (const auto f : fields) {
      const auto w = parse_weight(f);
      if (!w) return LineResult::bad;
      weights.push_back(implied_decimals(*w, options()));
    }
    const Decimal total = weights.back();
    weights.pop_back();
    const auto sum = decimal_sum(weights);
    if (!sum) return LineResult::bad;
    // A total that disagrees with its decks is neither dropped (TruConnect shows the decks, and
    // a scale gone blank for it reads as disconnected) nor silently recomputed: the decks are
    // shown and the reading is flagged with both numbers. The GVW is the sum of the decks: it is
    // what TruConnect shows and the web app records, and it keeps the reading's weight equal to
    // the sum of its deck weights; the indicator's total stays in the flag (docs/protocols.md).
    Reading r = multi_deck(weights, *sum, raw, options().unit);
    if (sum->compare(total) != std::strong_ordering::equal) {
      r.flag = ReadingFlag{FlagReason::total_mismatch, total, *sum};
    }
    out.push_back(std::move(r));
    return LineResult::reading;
  }

  // Legacy "W"-query reply: "<weight> <unit>," per deck; GVW is their sum.
  LineResult legacy_reply(const std::vector<std::string_view>& fields, std::string_view raw,
                          std::vector<Reading>& out) {
    std::vector<Decimal> weights;
    std::string unit;
    for (const auto f : fields) {
      const auto wu = split_weight_unit(f);
      if (!wu || wu->unit.empty()) return LineResult::bad;
      if (!unit.empty() && wu->unit != unit) return LineResult::bad;
      unit = wu->unit;
      weights.push_back(implied_decimals(wu->weight, options()));
    }
    const auto sum = decimal_sum(weights);
    if (!sum) return LineResult::bad;
    out.push_back(multi_deck(weights, *sum, raw, unit));
    return LineResult::reading;
  }

  Reading multi_deck(const std::vector<Decimal>& weights, const Decimal& total,
                     std::string_view raw, const std::string& unit) const {
    Reading r = make_reading();
    r.unit = unit;
    r.weight = total;
    // Neither multi-deck form carries a motion flag: the software window decides.
    r.stable = false;
    r.stable_source = StableSource::software;
    for (std::size_t i = 0; i < weights.size(); ++i)
      r.decks.push_back(DeckReading{static_cast<int>(i) + 1, weights[i], false});
    r.raw.assign(raw);
    return r;
  }
};

}  // namespace

std::unique_ptr<Parser> make_zm_parser(const ParserOptions& options) {
  return std::make_unique<ZmParser>(options);
}

}  // namespace weighlink::scale::detail
