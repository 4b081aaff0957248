#pragma once
// Deck lines into one reading per frame, shared by the deck and axle parsers (zm, cardinal-deck,
// i1310, mcgs, giropes, custom): exact decimal sums, implied decimal places, and the multi-deck
// frame assembler that makes one reading out of several deck lines. Sans-I/O, not thread-safe.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "line_parser.hpp"
#include "weighlink/scale/parser.hpp"
#include "weighlink/scale/reading.hpp"

namespace weighlink::scale::detail {

// a + b at the larger decimal count; nullopt on overflow.
[[nodiscard]] std::optional<Decimal> decimal_add(const Decimal& a, const Decimal& b);
[[nodiscard]] std::optional<Decimal> decimal_sum(std::span<const Decimal> values);
// a - b at the larger decimal count; nullopt on overflow.
[[nodiscard]] std::optional<Decimal> decimal_sub(const Decimal& a, const Decimal& b);

// A field sent without a decimal point on a format that carries none: the configured decimal
// places are implied ("0000123" with decimals=2 is 1.23). A field with a point is left alone.
[[nodiscard]] Decimal implied_decimals(const Decimal& d, const ParserOptions& options);

// "1250 kg", "5200kg", "  12.5 t": the number and the unit that follows it. The unit is empty
// when none is sent; nullopt when the number is not a number or text follows the unit.
struct WeightAndUnit {
  Decimal weight;
  std::string unit;
};
[[nodiscard]] std::optional<WeightAndUnit> split_weight_unit(std::string_view text);

// Case-insensitive ASCII equality, and the same for a prefix.
[[nodiscard]] bool iequals(std::string_view a, std::string_view b);
[[nodiscard]] bool starts_with_icase(std::string_view s, std::string_view prefix);

// What a deck or total line's status word says.
struct DeckStatus {
  std::optional<bool> stable;  // nullopt: the line carries no motion flag
  bool overload = false;
  bool underload = false;
};
inline constexpr DeckStatus kStable{true};
inline constexpr DeckStatus kMotion{false};
inline constexpr DeckStatus kOverload{false, true, false};
inline constexpr DeckStatus kUnderload{false, false, true};

// A status word as one layout spells it ("S", "Stable", "OL" ...).
struct StatusSpelling {
  std::string_view word;
  DeckStatus status;
  bool any_case = false;
};

// "<weight> [unit] [status]" ("1250 kg S", "5190kg", "1250 kg Stable"): the number, its unit and,
// when the last word is one of `spellings`, the status it stands for. nullopt: not a weight.
struct DeckValue {
  Decimal weight;
  std::string unit;
  DeckStatus status;
};
[[nodiscard]] std::optional<DeckValue> parse_deck_value(std::string_view text,
                                                        std::span<const StatusSpelling> spellings);

// One deck line of a multi-deck frame.
struct DeckLine {
  int index = 0;  // 1-based
  Decimal weight;
  std::string unit;  // empty: configured unit
  WeighMode mode = WeighMode::gross;
  std::optional<bool> stable;  // nullopt: the line carries no motion flag
  bool overload = false;
  bool underload = false;
  // The line's layout is one whose frames end in a total line ("D1:" before "GVW:"), so a new
  // deck 1 before the total means the total was lost, not that the frame ended.
  bool expects_total = false;
};

// Collects deck lines into one reading per frame (SPEC §2: one reading per frame, applied
// atomically). A frame is complete:
//   - on its total line (GVW / Total Weight), which must equal the sum of the decks;
//   - or, with `deck_count` > 0, after deck `deck_count` for indicators that send no total line;
//   - or, with `deck_count` == 0 on a stream that has shown no total line yet, when deck 1 starts
//     the next frame (and at end of input): one frame of latency, no configuration needed.
// Decks must arrive as 1, 2, 3 ... ; anything else drops the partial frame.
class DeckFrame {
 public:
  DeckFrame(std::string_view protocol, const ParserOptions& options);

  using Result = LineParser::LineResult;  // reading, pending or bad

  // Adds a deck line; `raw` is the line as received. May complete a frame into `out`.
  Result add_deck(DeckLine line, std::string_view raw, std::vector<Reading>& out);
  // The same for a deck line read by parse_deck_value(); its mode is gross.
  Result add_deck(int index, const DeckValue& value, bool expects_total, std::string_view raw,
                  std::vector<Reading>& out);
  // The total line closes the frame. `stable`: the total line's own flag, if it has one.
  Result add_total(const Decimal& total, std::string_view unit, std::optional<bool> stable,
                   bool overload, bool underload, std::string_view raw, std::vector<Reading>& out);
  // The same for a total line read by parse_deck_value().
  Result add_total(const DeckValue& total, std::string_view raw, std::vector<Reading>& out);
  // End of input: a frame complete under the deck-1 rule is emitted.
  void flush(std::vector<Reading>& out);
  void reset();
  [[nodiscard]] bool empty() const { return decks_.empty(); }

 private:
  [[nodiscard]] bool emit(std::optional<Decimal> total, std::optional<bool> total_stable,
                          bool overload, bool underload, std::vector<Reading>& out);

  std::string protocol_;
  ParserOptions options_;
  std::vector<DeckLine> decks_;
  std::string raw_;
  bool saw_total_ = false;  // learned: this stream closes frames with a total line
};

}  // namespace weighlink::scale::detail
