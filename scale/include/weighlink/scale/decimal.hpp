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

  // this + other and this - other, exactly, at the finer of the two decimal places (1.5 + 2.25 =
  // 3.75); nullopt when the result does not fit.
  [[nodiscard]] std::optional<Decimal> plus(const Decimal& other) const;
  [[nodiscard]] std::optional<Decimal> minus(const Decimal& other) const;

  // The value times 10^n (n >= 0), exactly: decimal places are dropped first (12.345 t ->
  // 12345 kg, 12.3 t -> 12300 kg); nullopt on overflow.
  [[nodiscard]] std::optional<Decimal> times_pow10(int n) const;

  // Half the value, rounded half up at the same decimal places, as JavaScript's
  // Math.round(w / 2) does it (8201 -> 4101, -5 -> -2): one pad's share of a combined weight.
  [[nodiscard]] Decimal half_rounded_up() const;

  // Numeric comparison across different decimal counts (1.50 == 1.5 numerically).
  [[nodiscard]] std::strong_ordering compare(const Decimal& other) const;

  // Representation equality: same digits and same decimal places.
  friend bool operator==(const Decimal&, const Decimal&) = default;
};

}  // namespace weighlink::scale
