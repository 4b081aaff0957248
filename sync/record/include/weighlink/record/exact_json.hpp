#pragma once
// JSON that keeps a client's numbers exactly as written. Boost.JSON (1.81) turns every number
// with a fraction, and every integer beyond 64 bits, into a binary double: 32540.10 would become
// 32540.1 and 12345678901234567890123 would become 1.2345678901234568E22. weighlink never lets a
// value change on its way (docs/security.md, "Exact numbers"), so client JSON is read with
// parse_exact(): integers that fit 64 bits stay int64/uint64 values (they print as written); every
// other number becomes an *exact number* node holding its text, which serialize_exact() writes
// back verbatim. Pure functions, thread-safe.

#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weighlink::record {

struct JsonLimits {
  std::size_t max_depth = 32;          // nesting of arrays and objects
  std::size_t max_number_digits = 40;  // digits in one number
};

// Why a text was refused: a machine-readable code (docs/security.md) and one line for people.
struct JsonRefusal {
  std::string code;  // invalid_json, inexact_number, number_too_long, nul_character,
                     // duplicate_member, too_deep
  std::string message;
};

struct ExactParse {
  boost::json::value value;            // null when refused
  std::optional<JsonRefusal> refusal;  // set when the text is refused
};

// Parses `text` as one JSON value. Refused: invalid JSON; a number with an exponent (1e400,
// 1.5E3: it cannot be stored byte for byte, write the digits or send a string); a number of more
// than `max_number_digits` digits; a NUL character in a string or member name (PostgreSQL text
// cannot hold it); the same member name twice in one object (which one counts would be a guess);
// nesting deeper than `max_depth`.
[[nodiscard]] ExactParse parse_exact(std::string_view text, const JsonLimits& limits = {});

// The same checks as parse_exact without making the value (faster: the backend checks every
// payload this way). nullopt when the text is accepted; `is_object`, when given, says whether it
// is one JSON object.
[[nodiscard]] std::optional<JsonRefusal> check_exact(std::string_view text,
                                                     const JsonLimits& limits = {},
                                                     bool* is_object = nullptr);

// A JSON object as the client wrote it: false for an exact number node (parse_exact represents a
// number such as 1.5 or -0 as a one-member object) and for every other kind. Intake checks "is
// this an object?" with this, never with value.is_object().
[[nodiscard]] bool is_json_object(const boost::json::value& value);

// An exact number node for `text` (a JSON number as written, e.g. "32540.10").
[[nodiscard]] boost::json::value exact_number(std::string_view text);

// The text of an exact number node, or of an int64/uint64 value; nullopt for anything else.
[[nodiscard]] std::optional<std::string> number_text(const boost::json::value& value);

// `value` as an int64 when it is a whole number in range (an int64, a uint64 that fits, or an
// exact number like "3.0" or "3"); nullopt otherwise.
[[nodiscard]] std::optional<std::int64_t> exact_int64(const boost::json::value& value);

// `value` as JSON text, exact number nodes written verbatim. Member order is kept.
[[nodiscard]] std::string serialize_exact(const boost::json::value& value);

// `value` as canonical JSON text: every object's members sorted by name, recursively, exact
// numbers verbatim, no whitespace. Two requests that differ only in member order or whitespace
// give the same text; two that differ in any digit never do.
[[nodiscard]] std::string canonical_exact(const boost::json::value& value);

}  // namespace weighlink::record
