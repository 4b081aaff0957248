#include "fixed_width.hpp"

namespace weighlink::scale::detail {

bool is_weight_field(std::string_view field) {
  bool seen_digit = false;
  bool seen_point = false;
  for (const char c : field) {
    if (c == ' ') {
      if (seen_digit || seen_point) return false;
    } else if (c == '.') {
      if (seen_point) return false;
      seen_point = true;
    } else if (c >= '0' && c <= '9') {
      seen_digit = true;
    } else {
      return false;
    }
  }
  return seen_digit;
}

std::optional<Decimal> signed_field(char sign, std::string_view digits) {
  if (sign != '-' && sign != '+' && sign != ' ' && sign != '0') return std::nullopt;
  if (!is_weight_field(digits)) return std::nullopt;
  auto d = Decimal::parse(digits);
  if (d && sign == '-') d->units = -d->units;
  return d;
}

std::optional<std::string> unit_from_letter(char letter) {
  switch (letter) {
    case 'L':
    case 'l':
      return "lb";
    case 'K':
    case 'k':
      return "kg";
    case 'T':
    case 't':
      return "t";
    case 'G':
    case 'g':
      return "g";
    case 'O':
    case 'o':
      return "oz";
    default:
      return std::nullopt;
  }
}

char letter_from_unit(std::string_view unit) {
  if (unit == "lb") return 'L';
  if (unit == "kg") return 'K';
  if (unit == "t") return 'T';
  if (unit == "g") return 'G';
  if (unit == "oz") return 'O';
  return ' ';
}

std::optional<std::string> magnitude_field(const Decimal& weight, std::size_t width, char fill) {
  std::string text =
      Decimal{weight.units < 0 ? -weight.units : weight.units, weight.decimals}.to_string();
  if (text.size() > width) return std::nullopt;
  return std::string(width - text.size(), fill) + text;
}

}  // namespace weighlink::scale::detail
