// Encoders for mt-sics, cardinal-sb400 (and SB-200), rice-lake, rinstrum FMT_1..5, ad-stgs,
// xk3190-tf0, xk3190-a12e and yaohua-reverse: the bytes those indicators send for a display state.
// Each mirrors the layout its parser documents; tests round-trip them through the parsers.

#include <algorithm>
#include <string>

#include "fixed_width.hpp"
#include "weighlink/scale/encode.hpp"

namespace weighlink::scale {
namespace {

using detail::kEtx;
using detail::kStx;
using detail::magnitude_field;

bool negative(const DisplayState& s) { return s.weight.units < 0; }
char sign_char(const DisplayState& s) { return negative(s) ? '-' : ' '; }
char gross_net(const DisplayState& s) { return s.mode == WeighMode::net ? 'N' : 'G'; }

std::string right(std::string_view text, std::size_t width) {
  if (text.size() >= width) return std::string(text.substr(0, width));
  return std::string(width - text.size(), ' ') + std::string(text);
}

std::string xor_suffix(std::string_view covered) {
  const unsigned char x = detail::xor_of(covered);
  return {detail::nibble_char(x >> 4U), detail::nibble_char(x & 0x0FU)};
}

// The magnitude in `width` characters, or `width` spaces when it does not fit (over range).
std::string field_or_blank(const DisplayState& s, std::size_t width, char fill, bool& fits) {
  const auto f = magnitude_field(s.weight, width, fill);
  fits = f.has_value();
  return f ? *f : std::string(width, ' ');
}

// The magnitude in at most `max_digits` digits and `max_decimals` places: formats with no
// over-range flag show the largest value they can, and drop decimals they cannot show.
Decimal clamped(const Decimal& w, int max_digits, int max_decimals) {
  Decimal m{w.units < 0 ? -w.units : w.units, std::max(w.decimals, 0)};
  while (m.decimals > max_decimals) {
    m.units /= 10;
    --m.decimals;
  }
  std::int64_t limit = 1;
  for (int i = 0; i < max_digits; ++i) limit *= 10;
  m.units = std::min(m.units, limit - 1);
  return m;
}

}  // namespace

std::string encode_mt_sics(const DisplayState& state) {
  const std::string weight = state.weight.to_string();
  if (state.overload || weight.size() > 10) return negative(state) ? "S -\r\n" : "S +\r\n";
  return std::string("S ") + (state.motion ? 'D' : 'S') + ' ' + right(weight, 10) + ' ' +
         state.unit + "\r\n";
}

namespace {

std::string cardinal_unit(std::string_view unit) {
  if (unit == "t" || unit == "g") return std::string(unit) + ' ';
  return std::string(unit.substr(0, 2));
}

std::string cardinal_weight(const DisplayState& s, bool& fits) {
  // Six digits, plus the decimal point when the display has one.
  return field_or_blank(s, s.weight.decimals > 0 ? 7 : 6, '0', fits);
}

}  // namespace

std::string encode_cardinal_sb400(const DisplayState& state) {
  bool fits = false;
  const std::string weight = cardinal_weight(state, fits);
  std::string status = "  ";
  if (state.overload || !fits) {
    status = negative(state) ? "BZ" : "OC";
  } else if (state.motion) {
    status = "MO";
  } else if (state.center_zero) {
    status = "CZ";
  }
  return sign_char(state) + weight + cardinal_unit(state.unit) + gross_net(state) + status + '\r';
}

std::string encode_cardinal_sb200(const DisplayState& state) {
  bool fits = false;
  const std::string weight = cardinal_weight(state, fits);
  char status = ' ';
  if (state.overload || !fits) {
    status = 'O';
  } else if (state.motion) {
    status = 'M';
  }
  return std::string(1, '\r') + sign_char(state) + weight + status + cardinal_unit(state.unit) +
         gross_net(state) + kEtx;
}

std::string encode_rice_lake(const DisplayState& state) {
  bool fits = false;
  const std::string weight = field_or_blank(state, 7, ' ', fits);
  char status = ' ';
  if (state.overload || !fits) {
    status = 'O';
  } else if (state.motion) {
    status = 'M';
  } else if (state.center_zero) {
    status = 'Z';
  }
  std::string frame(1, kStx);
  frame += sign_char(state);
  frame += weight;
  frame += detail::letter_from_unit(state.unit);
  frame += gross_net(state);
  frame += status;
  frame += "\r\n";
  return frame;
}

std::string encode_rinstrum_format(const DisplayState& state, int format) {
  bool fits = false;
  const std::string weight7 = field_or_blank(state, 7, ' ', fits);
  const bool out_of_range = state.overload || !fits;
  const char range = negative(state) ? 'U' : 'O';
  std::string frame;
  switch (format) {
    case 1: {
      char status = gross_net(state);
      if (out_of_range) {
        status = range;
      } else if (state.motion) {
        status = 'M';
      }
      frame = std::string(1, kStx) + sign_char(state) + weight7 + status + kEtx;
      break;
    }
    case 3: {
      std::string signed_weight = state.weight.to_string();
      if (out_of_range || signed_weight.size() > 8) signed_weight.clear();
      frame = std::string(1, kStx) + right(signed_weight, 8) + gross_net(state) +
              (state.motion ? 'M' : 'S') + (out_of_range ? range : 'I') +
              (state.center_zero ? 'Z' : ' ') + "  " + kEtx;
      break;
    }
    case 4: {
      std::string header = state.motion ? "US" : "ST";
      if (out_of_range) header = "OL";
      frame = header + (state.mode == WeighMode::net ? "NT" : "GR") + sign_char(state) + weight7 +
              right(state.unit, 2) + "\r\n";
      break;
    }
    case 5: {
      char status = state.motion ? 'M' : ' ';
      if (out_of_range) status = 'O';
      frame = sign_char(state) + weight7 + detail::letter_from_unit(state.unit) + gross_net(state) +
              status + "\r\n";
      break;
    }
    default: {  // FMT_2, the R320 default
      const char s1 = out_of_range ? range : gross_net(state);
      // The units are blanked while the weight is unstable, as the manual describes.
      const std::string units = state.motion ? "   " : right(state.unit, 3);
      frame = std::string(1, kStx) + sign_char(state) + weight7 + s1 + (state.motion ? 'M' : ' ') +
              (state.center_zero ? 'Z' : ' ') + '-' + units + kEtx;
      break;
    }
  }
  return frame;
}

std::string encode_rinstrum(const DisplayState& state) { return encode_rinstrum_format(state, 2); }

std::string encode_ad_stgs(const DisplayState& state) {
  bool fits = false;
  const std::string weight = field_or_blank(state, 7, '0', fits);
  std::string header = state.motion ? "US" : "ST";
  if (state.overload || !fits) header = negative(state) ? "UL" : "OL";
  return header + ',' + (state.mode == WeighMode::net ? "NT" : "GS") + ',' +
         (negative(state) ? '-' : '+') + weight + state.unit + "\r\n";
}

std::string encode_xk3190_tf0(const DisplayState& state) {
  const Decimal w = clamped(state.weight, 6, 4);
  std::string body(1, negative(state) ? '-' : '+');
  const std::string digits = std::to_string(w.units);
  body += std::string(6 - digits.size(), '0') + digits;
  body += static_cast<char>('0' + w.decimals);
  return std::string(1, kStx) + body + xor_suffix(body) + kEtx;
}

std::string encode_xk3190_a12e(const DisplayState& state) {
  std::string body;
  const auto field = negative(state) ? magnitude_field(state.weight, 6, '0')
                                     : magnitude_field(state.weight, 7, '0');
  if (state.overload || !field) {
    body = std::string(9, ' ') + (negative(state) ? "LO" : "OL");
  } else {
    std::string unit = state.unit.substr(0, 2);
    unit.resize(2, ' ');
    body = std::string("W") + gross_net(state) + (negative(state) ? "-" : "") + *field + unit;
  }
  return body + xor_suffix(body) + "\r\n";
}

std::string encode_yaohua_reverse(const DisplayState& state) {
  auto field = magnitude_field(state.weight, 7, '0');
  if (!field) {
    const Decimal w = clamped(state.weight, 6, 5);
    field = magnitude_field(w.decimals > 0 ? w : clamped(state.weight, 7, 0), 7, '0');
  }
  std::string frame = "=";
  frame.append(field->rbegin(), field->rend());
  frame += negative(state) ? '-' : '0';
  return frame;
}

}  // namespace weighlink::scale
