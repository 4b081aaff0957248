#pragma once
// Sans-I/O indicator protocol parsers behind a registry keyed by protocol id.
// A parser is owned by one reader at a time: not thread-safe, no I/O, no clock.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/scale/reading.hpp"

namespace weighlink::scale {

enum class ChecksumMode {
  auto_detect,  // learn from the stream: frames with a valid checksum lock it on
  required,     // frames without a valid checksum are bad frames
  absent,       // the format is sent without a checksum byte
};

struct ParserOptions {
  // Used when the frame carries no unit (and to override nothing else).
  std::string unit = "kg";
  // Decimal places for formats that carry none (-1: take from the frame or 0).
  int decimals = -1;
  ChecksumMode checksum = ChecksumMode::auto_detect;

  // Multi-deck formats (zm CSV, cardinal-deck, i1310): decks per frame. 0 = from the format (zm:
  // Zedem 510's four; line formats: a frame ends at its total line, or, on a stream that sends
  // none, when deck 1 starts the next frame). Set it for indicators that send no total line so
  // each frame is emitted at its last deck without waiting for the next.
  int deck_count = 0;

  // `custom` protocol (docs/protocols/group-b.md). ECMAScript regex searched in every frame, with
  // named groups: weight (required unless deck1.. are given), unit, motion or stable, mode, sign,
  // status, deck1..deckN. Checked by validate_options().
  std::string custom_pattern;
  // Any of these bytes ends a frame.
  std::string custom_terminator = "\r\n";
  // When set (one byte), a frame starts at this byte and bytes before it are skipped.
  std::string custom_start;
  // Group texts (case-insensitive, trimmed) that mean "stable": a `stable` group is stable when
  // its text is listed; a `motion` group means motion when its text is non-empty and not listed.
  std::vector<std::string> custom_stable_values{"S", "ST", "STABLE", "OK"};
};

// Checks `options` for `protocol_id` (unknown id, out-of-range numbers, a custom pattern that does
// not compile or lacks a weight group). nullopt when usable; otherwise one line naming the option
// ("custom_pattern: ...") for the config loader to report. make_parser() never fails on bad
// options: a custom parser with an unusable pattern refuses every frame.
[[nodiscard]] std::optional<std::string> validate_options(std::string_view protocol_id,
                                                          const ParserOptions& options);

struct ParserStats {
  std::uint64_t frames = 0;         // readings produced
  std::uint64_t bad_frames = 0;     // frames found but refused (checksum, non-digits, length)
  std::uint64_t skipped_bytes = 0;  // bytes discarded while resynchronising (bad frames included)
};

class Parser {
 public:
  virtual ~Parser() = default;
  // Feeds bytes in any split; appends the readings of every complete frame to `out`.
  // Garbage is skipped and the parser resynchronises on the next frame start. Never throws.
  virtual void put(std::string_view bytes, std::vector<Reading>& out) = 0;
  // End of input: decodes a complete frame still held back (e.g. waiting to learn whether a
  // checksum follows) and counts any partial frame as skipped bytes.
  virtual void finish(std::vector<Reading>& out) = 0;
  [[nodiscard]] virtual const ParserStats& stats() const = 0;
  [[nodiscard]] virtual std::string_view protocol() const = 0;
};

struct ProtocolInfo {
  std::string_view id;
  std::string_view description;
};

// Every protocol id this build decodes, in listing order.
[[nodiscard]] std::span<const ProtocolInfo> protocols();

// nullptr when the id is unknown.
[[nodiscard]] std::unique_ptr<Parser> make_parser(std::string_view protocol_id,
                                                  const ParserOptions& options = {});

}  // namespace weighlink::scale
