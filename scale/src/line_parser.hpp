#pragma once
// Internal base for line-oriented ASCII formats (most indicators: "ST,GS,+0001234kg\r\n",
// "=SG+0000123kR", "D1:  1250 kg S" ...). Splits the byte stream into lines ending in CR, LF or
// CRLF, masks the parity bit, bounds the line length, and hands each line to the subclass.
// Sans-I/O, not thread-safe, like every parser.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/scale/parser.hpp"

namespace weighlink::scale::detail {

class LineParser : public Parser {
 public:
  void put(std::string_view bytes, std::vector<Reading>& out) final;
  void finish(std::vector<Reading>& out) final;
  [[nodiscard]] const ParserStats& stats() const final { return stats_; }
  [[nodiscard]] std::string_view protocol() const final { return protocol_; }

  // What a line was (public so helpers shared by several line formats can answer in it).
  enum class LineResult {
    reading,  // readings appended to `out`
    ignored,  // a valid line that carries no reading (a header, a prompt, an echo)
    pending,  // part of a multi-line frame; the reading comes with a later line
    bad,      // refused: counted as a bad frame, its bytes as skipped
  };

 protected:
  // `terminators`: the bytes that end a line (CR and LF by default; some formats end in ETX or
  // use '=' as a frame start, see `start_byte`). `start_byte`: when set, a line begins at this
  // byte and bytes before it are skipped (resynchronisation on formats with a start marker).
  LineParser(std::string_view protocol, ParserOptions options, std::size_t max_line = 128,
             std::string terminators = "\r\n", std::optional<char> start_byte = std::nullopt);

  // `line`: the line without terminator, parity bit masked, surrounding whitespace kept.
  // `raw`: the bytes as received, terminator included (for Reading::raw; multi-line formats
  // accumulate it themselves).
  virtual LineResult decode_line(std::string_view line, std::string_view raw,
                                 std::vector<Reading>& out) = 0;

  // A bad line or a gap interrupts a multi-line frame: subclasses drop what they collected.
  virtual void reset_frame() {}

  // Called at end of input before the last partial line is judged; a subclass holding a complete
  // multi-line frame may emit it here.
  virtual void flush(std::vector<Reading>& /*out*/) {}

  [[nodiscard]] const ParserOptions& options() const { return options_; }

  // A reading with protocol, unit (from options) and defaults filled in; `source`: see
  // new_reading() (parsers.hpp).
  [[nodiscard]] Reading make_reading(StableSource source = StableSource::indicator) const;
  // Appends the decoded reading with its raw bytes: what decode_line() returns for it.
  static LineResult emit(Reading r, std::string_view raw, std::vector<Reading>& out);

 private:
  void end_line(std::vector<Reading>& out);

  std::string protocol_;
  ParserOptions options_;
  std::size_t max_line_;
  std::string terminators_;
  std::optional<char> start_byte_;
  std::string line_;  // masked
  std::string raw_;   // as received
  bool in_line_ = false;
  ParserStats stats_;
};

// Helpers for field decoding.
[[nodiscard]] std::string_view trim(std::string_view s);
// Lower-case unit text as displayed ("KG" -> "kg", "lb", "t"); empty stays empty.
[[nodiscard]] std::string normalize_unit(std::string_view unit);
// A signed decimal field with optional spaces between sign and digits ("-  12.5", "+0001234").
[[nodiscard]] std::optional<Decimal> parse_weight(std::string_view field);
// The fields between separators, empty ones kept ("a,,b," -> "a", "", "b", "").
[[nodiscard]] std::vector<std::string_view> split_fields(std::string_view s, char separator);
// The words between runs of spaces ("S S    100.00 g" -> "S", "S", "100.00", "g").
[[nodiscard]] std::vector<std::string_view> split_words(std::string_view s);
// One or more ASCII digits and nothing else.
[[nodiscard]] bool all_digits(std::string_view s);

}  // namespace weighlink::scale::detail
