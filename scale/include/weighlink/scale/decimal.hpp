#pragma once
// Exact decimal weights: a scaled integer and a count of decimal places, never binary floating
// point. Thread-compatible value type.

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weighlink::scale {

struct Decimal {
  std::int64_t units = 0;  // the value times 10^decimals
  int decimals = 0;        // 0..9

  // Parses the way indicators print numbers: optional sign (+/-), optional surrounding spaces,
  // digits with at most one '.', at most 18 digits. "  -0012.50" -> {-1250, 2}. Leading zeros
  // are dropped, trailing decimal zeros are kept (they are significant on a display).
  [[nodiscard]] static std::optional<Decimal> parse(std::string_view text);

  // "-12.50", "32540", "0.000". Round-trips through parse().
  [[nodiscard]] std::string to_string() const;

  // The same value at more decimal places; nullopt on overflow or when fewer are asked for.
  [[nodiscard]] std::optional<Decimal> rescaled(int to_decimals) const;

  // Numeric comparison across different decimal counts (1.50 == 1.5 numerically).
  [[nodiscard]] std::strong_ordering compare(const Decimal& other) const;

  // Representation equality: same digits and same decimal places.
  friend bool operator==(const Decimal&, const Decimal&) = default;
};

}  // namespace weighlink::scale
