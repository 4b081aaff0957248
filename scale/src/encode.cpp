#include "weighlink/scale/encode.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>

namespace weighlink::scale {
namespace {

constexpr std::int64_t kSixDigitMax = 999'999;

std::int64_t magnitude(std::int64_t v) { return v < 0 ? -v : v; }

// The SWA decimal code for a displayed value and the six digits it sends, or nullopt when the
// value does not fit. Whole numbers that are too long for six digits use the ×10 / ×100 codes
// the way indicators drop trailing dummy zeros.
struct Scaled {
  int code;
  std::int64_t digits;
};

std::optional<Scaled> fit(const Decimal& d) {
  const std::int64_t m = magnitude(d.units);
  if (d.decimals > 0) {
    if (d.decimals > 5 || m > kSixDigitMax) return std::nullopt;
    return Scaled{2 + d.decimals, m};
  }
  if (m <= kSixDigitMax) return Scaled{2, m};
  if (m % 10 == 0 && m / 10 <= kSixDigitMax) return Scaled{1, m / 10};
  if (m % 100 == 0 && m / 100 <= kSixDigitMax) return Scaled{0, m / 100};
  return std::nullopt;
}

// The tare at the weight's decimal code (both fields share SWA); 0 when it cannot be shown.
std::int64_t tare_digits(const Decimal& tare, int code) {
  std::int64_t v = magnitude(tare.units);
  const int want_decimals = code > 2 ? code - 2 : 0;
  int have = tare.decimals;
  while (have < want_decimals) {
    v *= 10;
    ++have;
  }
  while (have > want_decimals) {
    if (v % 10 != 0) return 0;
    v /= 10;
    --have;
  }
  for (int c = code; c < 2; ++c) {
    if (v % 10 != 0) return 0;
    v /= 10;
  }
  return v <= kSixDigitMax ? v : 0;
}

void put_six(std::string& out, std::int64_t v) {
  char digits[6];
  for (int i = 5; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out.append(digits, 6);
}

}  // namespace

std::string encode_mt_continuous(const DisplayState& state, bool checksum, int increment) {
  const bool negative = state.weight.units < 0;
  auto scaled = fit(state.weight);
  const bool out_of_range = state.overload || !scaled;
  if (!scaled)
    scaled = Scaled{2 + (state.weight.decimals > 0 ? std::min(state.weight.decimals, 5) : 0),
                    kSixDigitMax};

  unsigned char increment_bits = 0x08;  // ×1
  if (increment == 2) increment_bits = 0x10;
  if (increment == 5) increment_bits = 0x18;
  const auto swa = static_cast<unsigned char>(0x20 | increment_bits | scaled->code);

  unsigned char unit_code = 0;
  bool metric = true;
  if (state.unit == "lb") {
    metric = false;
  } else if (state.unit == "g") {
    unit_code = 1;
  } else if (state.unit == "t") {
    unit_code = 2;
  } else if (state.unit == "oz") {
    unit_code = 3;
    metric = false;
  }
  unsigned char swb = 0x20;
  if (state.mode == WeighMode::net) swb |= 0x01;
  if (negative) swb |= 0x02;
  if (out_of_range) swb |= 0x04;
  if (state.motion) swb |= 0x08;
  if (metric) swb |= 0x10;
  const auto swc = static_cast<unsigned char>(0x20 | unit_code);

  std::string frame;
  frame.reserve(18);
  frame.push_back('\x02');
  frame.push_back(static_cast<char>(swa));
  frame.push_back(static_cast<char>(swb));
  frame.push_back(static_cast<char>(swc));
  put_six(frame, scaled->digits);
  put_six(frame, tare_digits(state.tare, scaled->code));
  frame.push_back('\r');
  if (checksum) {
    unsigned sum = 0;
    for (const char c : frame) sum += static_cast<unsigned char>(c) & 0x7F;
    frame.push_back(static_cast<char>((0x80 - (sum & 0x7F)) & 0x7F));
  }
  return frame;
}

std::string encode_sma(const DisplayState& state) {
  std::string frame;
  frame.reserve(20);
  frame.push_back('\n');
  std::string weight = state.weight.to_string();
  char status = ' ';
  if (state.center_zero) status = 'Z';
  if (state.overload || weight.size() > 10) {
    status = state.weight.units < 0 ? 'U' : 'O';
    weight = std::string(10, '-');  // indicators dash the digits over capacity
  }
  frame.push_back(status);
  frame.push_back('1');
  frame.push_back(state.mode == WeighMode::net ? 'N' : 'G');
  frame.push_back(state.motion ? 'M' : ' ');
  frame.push_back(' ');
  frame.append(10 - weight.size(), ' ');
  frame.append(weight);
  std::string unit = state.unit.substr(0, 3);
  unit.resize(3, ' ');
  frame.append(unit);
  frame.push_back('\r');
  return frame;
}

}  // namespace weighlink::scale
