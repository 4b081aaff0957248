#pragma once
// Fixed-width frame fields, shared by the single-weight parsers and encoders (mt-sics,
// cardinal-sb400, rice-lake, rinstrum, ad-stgs, xk3190-tf0, xk3190-a12e, yaohua-reverse). Pure
// functions, no I/O.

#include <optional>
#include <string>
#include <string_view>

#include "weighlink/scale/decimal.hpp"

namespace weighlink::scale::detail {

inline constexpr char kStx = '\x02';
inline constexpr char kEtx = '\x03';
inline constexpr char kEnq = '\x05';

// XOR of every byte, as the XK3190 family checks its frames.
[[nodiscard]] constexpr unsigned char xor_of(std::string_view bytes) {
  unsigned char x = 0;
  for (const char c : bytes) x = static_cast<unsigned char>(x ^ static_cast<unsigned char>(c));
  return x;
}

// One nibble as the XK3190 manuals send it: n <= 9 -> '0' + n, else 'A' + n - 10 (n + 0x37).
[[nodiscard]] constexpr char nibble_char(unsigned n) {
  return static_cast<char>(n <= 9 ? '0' + n : 'A' + (n - 10));
}

// The value of an ASCII nibble ('0'..'9', 'A'..'F', 'a'..'f'), or -1.
[[nodiscard]] constexpr int nibble_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The XK3190 check: `high` and `low` are the nibbles (nibble_char) of the XOR of `covered`.
[[nodiscard]] constexpr bool xor_matches(std::string_view covered, char high, char low) {
  const int h = nibble_value(high);
  const int l = nibble_value(low);
  return h >= 0 && l >= 0 && xor_of(covered) == static_cast<unsigned char>(h * 16 + l);
}

// What follows the last STX of a line, and the STX's offset (a line and its raw bytes share
// offsets). A frame cut short by the next STX leaves its head on the same line: the one after the
// last STX is the frame that reached its terminator. nullopt: the line has no STX.
struct AfterStx {
  std::size_t stx = 0;
  std::string_view body;
};
[[nodiscard]] constexpr std::optional<AfterStx> after_last_stx(std::string_view line) {
  const std::size_t stx = line.rfind(kStx);
  if (stx == std::string_view::npos) return std::nullopt;
  return AfterStx{stx, line.substr(stx + 1)};
}

// Digits, at most one '.', and spaces only before the first digit (indicators blank leading
// zeros). The weight fields of fixed-width formats must look like this before they are parsed, so
// that a torn frame with letters or a stray sign in the middle is refused rather than misread.
[[nodiscard]] bool is_weight_field(std::string_view field);

// A fixed-width weight field with its sign byte ('-' negative; ' ', '+', '0' or none positive).
[[nodiscard]] std::optional<Decimal> signed_field(char sign, std::string_view digits);

// The display unit for a one-letter code as Rice Lake and Rinstrum FMT_5 send it (L K T G O).
[[nodiscard]] std::optional<std::string> unit_from_letter(char letter);
// The reverse, for encoders; ' ' for a unit the letter code cannot express.
[[nodiscard]] char letter_from_unit(std::string_view unit);

// `width` characters: the weight's magnitude right-justified, leading positions filled with `fill`
// (' ' or '0'); nullopt when it does not fit.
[[nodiscard]] std::optional<std::string> magnitude_field(const Decimal& weight, std::size_t width,
                                                         char fill);

}  // namespace weighlink::scale::detail
