#pragma once
// A decoded indicator reading (SPEC §2) and its JSON form. Thread-compatible value types.

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/scale/decimal.hpp"

namespace weighlink::scale {

enum class WeighMode { gross, net };
enum class StableSource { indicator, software };

struct DeckReading {
  int index = 0;  // 1-based deck number
  Decimal weight;
  bool stable = false;
  friend bool operator==(const DeckReading&, const DeckReading&) = default;
};

// Why a frame that decoded whole is flagged: its own numbers disagree. The reading still carries
// what the frame shows (TruConnect shows such frames), and the flag says why it cannot be taken
// at face value.
enum class FlagReason {
  // A multi-deck frame whose total is not the exact sum of its decks (Zedem 510). The reading's
  // weight (GVW) is the sum of the decks; the indicator's total is kept in the flag.
  total_mismatch,
};

struct ReadingFlag {
  FlagReason reason = FlagReason::total_mismatch;
  Decimal indicator_total;  // the total the indicator sent
  Decimal decks_sum;        // the exact sum of the decks it sent
  friend bool operator==(const ReadingFlag&, const ReadingFlag&) = default;
};

struct Reading {
  // Identity, stamped by the reader (a parser leaves these empty).
  std::string scale;
  std::uint64_t seq = 0;
  std::chrono::system_clock::time_point ts{};

  // Decoded from the frame (or from configuration where the format has no such field).
  std::string protocol;
  Decimal weight;  // vehicle total (GVW) for multi-deck indicators
  std::string unit;
  WeighMode mode = WeighMode::gross;
  std::optional<Decimal> tare;
  bool stable = false;
  StableSource stable_source = StableSource::indicator;
  bool overload = false;
  bool underload = false;
  bool center_zero = false;
  bool stale = false;
  std::vector<DeckReading> decks;
  std::optional<ReadingFlag> flag;  // set when the frame disagrees with itself
  std::string raw;                  // the frame bytes exactly as received (parity bits included)
};

// SPEC §2 JSON. `with_identity` adds scale, seq and ts (the live socket); `weighlink-scale decode`
// omits them. `raw` bytes are mapped one byte to one code point (U+0000..U+00FF), so frames with
// parity bits set survive the trip through JSON losslessly.
[[nodiscard]] boost::json::object to_json(const Reading& reading, bool with_identity);

// to_json() serialized on one line, so callers that only print need not compile Boost.JSON's
// serializer.
[[nodiscard]] std::string to_json_line(const Reading& reading, bool with_identity);

// "2026-11-21T08:15:02.113Z"
[[nodiscard]] std::string format_timestamp(std::chrono::system_clock::time_point tp);

[[nodiscard]] std::string_view to_string(WeighMode mode);
[[nodiscard]] std::string_view to_string(StableSource source);
[[nodiscard]] std::string_view to_string(FlagReason reason);  // "total_mismatch"

// {"reason":"total_mismatch","indicator_total":"16010","decks_sum":"16000"}: the reading's
// "flag" in its JSON, and what a capture of a flagged reading records.
[[nodiscard]] boost::json::object to_json(const ReadingFlag& flag);

}  // namespace weighlink::scale
