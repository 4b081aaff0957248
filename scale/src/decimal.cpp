#include "weighlink/scale/decimal.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <limits>
#include <utility>

namespace weighlink::scale {
namespace {

constexpr int kMaxDecimals = 9;
constexpr int kMaxDigits = 18;  // 10^18 - 1 < 2^63: any 18 digits fit in int64

constexpr std::array<std::int64_t, 19> kPow10 = [] {
  std::array<std::int64_t, 19> p{};
  p[0] = 1;
  for (std::size_t i = 1; i < p.size(); ++i) p[i] = p[i - 1] * 10;
  return p;
}();

bool is_space(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<Decimal> Decimal::parse(std::string_view text) {
  std::size_t i = 0;
  std::size_t end = text.size();
  while (i < end && is_space(text[i])) ++i;
  while (end > i && is_space(text[end - 1])) --end;

  bool negative = false;
  if (i < end && (text[i] == '+' || text[i] == '-')) {
    negative = text[i] == '-';
    ++i;
    // Some indicators pad between the sign and the digits ("-   12.5").
    while (i < end && is_space(text[i])) ++i;
  }

  std::int64_t units = 0;
  int significant = 0;
  int decimals = 0;
  int digits_seen = 0;
  bool seen_point = false;
  for (; i < end; ++i) {
    const char c = text[i];
    if (c == '.') {
      if (seen_point) return std::nullopt;
      seen_point = true;
      continue;
    }
    if (!is_digit(c)) return std::nullopt;
    ++digits_seen;
    if (seen_point) {
      if (++decimals > kMaxDecimals) return std::nullopt;
    }
    if (units == 0 && c == '0') {
      continue;  // leading zeros carry no magnitude; they never overflow
    }
    if (++significant > kMaxDigits) return std::nullopt;
    units = units * 10 + (c - '0');
  }
  if (digits_seen == 0) return std::nullopt;
  return Decimal{negative ? -units : units, decimals};
}

std::string Decimal::to_string() const {
  // Magnitude as unsigned so INT64_MIN does not overflow on negation.
  const bool negative = units < 0;
  std::uint64_t magnitude = negative ? std::uint64_t{0} - static_cast<std::uint64_t>(units)
                                     : static_cast<std::uint64_t>(units);
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + magnitude % 10));
    magnitude /= 10;
  } while (magnitude != 0);
  const int places = decimals < 0 ? 0 : decimals;
  if (places > 0) {
    if (digits.size() <= static_cast<std::size_t>(places)) {
      digits.insert(0, static_cast<std::size_t>(places) + 1 - digits.size(), '0');
    }
    digits.insert(digits.size() - static_cast<std::size_t>(places), 1, '.');
  }
  if (negative) digits.insert(digits.begin(), '-');
  return digits;
}

std::optional<Decimal> Decimal::rescaled(int to_decimals) const {
  if (to_decimals < decimals || to_decimals > kMaxDecimals || decimals < 0) return std::nullopt;
  const std::int64_t factor = kPow10[static_cast<std::size_t>(to_decimals - decimals)];
  if (units > std::numeric_limits<std::int64_t>::max() / factor ||
      units < std::numeric_limits<std::int64_t>::min() / factor) {
    return std::nullopt;
  }
  return Decimal{units * factor, to_decimals};
}

namespace {

// a + sign * b at the finer scale of the two; nullopt when it does not fit.
std::optional<Decimal> combine(const Decimal& a, const Decimal& b, int sign) {
  const int places = std::max(a.decimals, b.decimals);
  const auto x = a.rescaled(places);
  const auto y = b.rescaled(places);
  if (!x || !y) return std::nullopt;
  // Checked without compiler builtins (MSVC builds the Windows agent).
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  const std::int64_t u = x->units;
  const std::int64_t v = y->units;
  const bool overflow = sign < 0 ? (v < 0 && u > kMax + v) || (v > 0 && u < kMin + v)
                                 : (v > 0 && u > kMax - v) || (v < 0 && u < kMin - v);
  if (overflow) return std::nullopt;
  return Decimal{sign < 0 ? u - v : u + v, places};
}

}  // namespace

std::optional<Decimal> Decimal::plus(const Decimal& other) const {
  return combine(*this, other, 1);
}

std::optional<Decimal> Decimal::minus(const Decimal& other) const {
  return combine(*this, other, -1);
}

std::optional<Decimal> Decimal::times_pow10(int n) const {
  if (n < 0 || decimals < 0) return std::nullopt;
  if (decimals >= n) return Decimal{units, decimals - n};
  const int up = n - decimals;
  if (up >= static_cast<int>(kPow10.size())) return std::nullopt;
  const std::int64_t factor = kPow10[static_cast<std::size_t>(up)];
  if (units > std::numeric_limits<std::int64_t>::max() / factor ||
      units < std::numeric_limits<std::int64_t>::min() / factor) {
    return std::nullopt;
  }
  return Decimal{units * factor, 0};
}

Decimal Decimal::half_rounded_up() const {
  // floor(units / 2 + 1/2): up at .5 for either sign (2.5 -> 3, -2.5 -> -2). Integer division
  // truncates toward zero, which is already that for a negative value.
  return Decimal{units >= 0 ? units / 2 + units % 2 : units / 2, decimals};
}

std::strong_ordering Decimal::compare(const Decimal& other) const {
  // Portable (no __int128 on MSVC) and overflow-free: compare signs, then the magnitudes as
  // (integer part, fraction scaled to 9 places), both of which fit in uint64.
  const int sign_a = units < 0 ? -1 : (units > 0 ? 1 : 0);
  const int sign_b = other.units < 0 ? -1 : (other.units > 0 ? 1 : 0);
  if (sign_a != sign_b) return sign_a <=> sign_b;
  auto split = [](const Decimal& d) {
    const std::uint64_t magnitude = d.units < 0
                                        ? std::uint64_t{0} - static_cast<std::uint64_t>(d.units)
                                        : static_cast<std::uint64_t>(d.units);
    const int places = d.decimals < 0 ? 0 : (d.decimals > kMaxDecimals ? kMaxDecimals : d.decimals);
    const auto scale = static_cast<std::uint64_t>(kPow10[static_cast<std::size_t>(places)]);
    const auto to_nine =
        static_cast<std::uint64_t>(kPow10[static_cast<std::size_t>(kMaxDecimals - places)]);
    return std::pair{magnitude / scale, (magnitude % scale) * to_nine};
  };
  const auto magnitude_order = split(*this) <=> split(other);
  // 0 <=> an ordering reverses it (clang-tidy 14 takes that 0 for a null pointer).
  return sign_a < 0 ? 0 <=> magnitude_order : magnitude_order;  // NOLINT(modernize-use-nullptr)
}

}  // namespace weighlink::scale
