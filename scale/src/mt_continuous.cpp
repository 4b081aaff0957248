// Mettler Toledo standard continuous output: STX SWA SWB SWC W6 T6 CR [CHK]
// (scale-protocols.md §1.1). Sans-I/O: bytes in, readings out.

#include <cstdint>
#include <string>

#include "buffered_parser.hpp"
#include "parsers.hpp"

namespace weighlink::scale::detail {
namespace {

constexpr unsigned char kStx = 0x02;
constexpr unsigned char kCr = 0x0D;
constexpr std::size_t kBodySize = 17;  // STX .. CR
constexpr std::size_t kCheckedSize = kBodySize + 1;
// Consecutive checksum failures (with the next frame's STX right behind the CR) after which an
// auto-detected "with checksum" lock is dropped and learned again: one unlucky garbage byte that
// happened to verify must not turn every later frame into a bad frame.
constexpr int kRelearnAfterMisses = 3;

bool body_is_valid(std::string_view f) {
  if (low7(f[16]) != kCr) return false;
  for (std::size_t i = 4; i < 16; ++i) {
    const unsigned char c = low7(f[i]);
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool checksum_ok(std::string_view body, char chk) {
  unsigned sum = 0;
  for (const char c : body) sum += low7(c);
  return ((sum + low7(chk)) & 0x7F) == 0;
}

std::int64_t six_digits(std::string_view f, std::size_t at) {
  std::int64_t v = 0;
  for (std::size_t i = at; i < at + 6; ++i) v = v * 10 + (low7(f[i]) - '0');
  return v;
}

// SWA bits 0-2: multiplier 10^(2 - code). Codes 0..2 scale whole numbers up (the indicator drops
// trailing dummy zeros), codes 3..7 place a decimal point.
Decimal scaled(std::int64_t digits, int code) {
  if (code <= 2) {
    std::int64_t v = digits;
    for (int i = code; i < 2; ++i) v *= 10;
    return Decimal{v, 0};
  }
  return Decimal{digits, code - 2};
}

class MtContinuousParser final : public BufferedParser {
 public:
  explicit MtContinuousParser(const ParserOptions& options)
      : BufferedParser("mt-continuous", options) {}

 private:
  enum class Lock { unknown, with_checksum, without_checksum };

  bool expects_checksum() const {
    return options_.checksum == ChecksumMode::required ||
           (options_.checksum == ChecksumMode::auto_detect && lock_ == Lock::with_checksum);
  }
  bool expects_no_checksum() const {
    return options_.checksum == ChecksumMode::absent ||
           (options_.checksum == ChecksumMode::auto_detect && lock_ == Lock::without_checksum);
  }

  // Every decision depends only on the bytes buffered so far, so any split of the input gives
  // the same readings and the same stats.
  void drain(std::vector<Reading>& out, bool at_end) override {
    std::size_t pos = 0;
    const std::string_view buf = buffer_;
    while (true) {
      std::size_t stx = pos;
      while (stx < buf.size() && low7(buf[stx]) != kStx) ++stx;
      stats_.skipped_bytes += stx - pos;
      pos = stx;
      const std::size_t available = buf.size() - pos;
      if (available < kBodySize) break;

      const std::string_view body = buf.substr(pos, kBodySize);
      if (!body_is_valid(body)) {
        // Cut short by the next STX, corrupted, or a stray 0x02: drop this start byte and resync
        // on the next STX (the rest of the refused frame is skipped by the hunt above).
        refuse(pos);
        continue;
      }
      if (expects_no_checksum()) {
        decode(body, out);
        pos += kBodySize;
        continue;
      }
      if (available < kCheckedSize) {
        if (at_end && options_.checksum == ChecksumMode::auto_detect && lock_ == Lock::unknown) {
          decode(body, out);  // the last frame of a capture, nothing after it to learn from
          pos += kBodySize;
          continue;
        }
        break;  // wait for the byte after CR
      }
      const char next = buf[pos + kBodySize];
      const bool verifies = checksum_ok(body, next);
      if (expects_checksum()) {
        if (verifies) {
          misses_ = 0;
          decode(buf.substr(pos, kCheckedSize), out);
          pos += kCheckedSize;
        } else {
          if (options_.checksum == ChecksumMode::auto_detect && low7(next) == kStx &&
              ++misses_ >= kRelearnAfterMisses) {
            lock_ = Lock::unknown;
            misses_ = 0;
          }
          refuse(pos);
        }
        continue;
      }
      // Auto-detect, not yet locked.
      if (verifies && low7(next) != kStx) {
        lock_ = Lock::with_checksum;
        decode(buf.substr(pos, kCheckedSize), out);
        pos += kCheckedSize;
      } else if (!verifies && low7(next) == kStx) {
        lock_ = Lock::without_checksum;
        decode(body, out);
        pos += kBodySize;
      } else {
        // Ambiguous (a checksum that happens to equal STX) or a stray byte after CR: the body
        // itself is valid, so decode it, and learn from a later frame.
        decode(body, out);
        pos += kBodySize;
      }
    }
    buffer_.erase(0, pos);
  }

  void refuse(std::size_t& pos) {
    ++stats_.bad_frames;
    ++stats_.skipped_bytes;
    ++pos;
  }

  void decode(std::string_view frame, std::vector<Reading>& out) {
    const int code = low7(frame[1]) & 0x07;
    const unsigned char swb = low7(frame[2]);
    const unsigned char swc = low7(frame[3]);
    const bool net = (swb & 0x01) != 0;
    const bool negative = (swb & 0x02) != 0;
    const bool out_of_range = (swb & 0x04) != 0;
    const bool motion = (swb & 0x08) != 0;
    const bool kg = (swb & 0x10) != 0;

    Reading r = make_reading(StableSource::indicator);
    r.weight = scaled(six_digits(frame, 4), code);
    if (negative) r.weight.units = -r.weight.units;
    r.tare = scaled(six_digits(frame, 10), code);
    r.mode = net ? WeighMode::net : WeighMode::gross;
    switch (swc & 0x07) {
      case 1:
        r.unit = "g";
        break;
      case 2:
        r.unit = "t";
        break;
      case 3:
        r.unit = "oz";
        break;
      default:
        r.unit = kg ? "kg" : "lb";
        break;
    }
    r.stable = !motion;
    r.overload = out_of_range && !negative;
    r.underload = out_of_range && negative;
    emit(std::move(r), frame, out);
  }

  Lock lock_ = Lock::unknown;
  int misses_ = 0;
};

}  // namespace

std::unique_ptr<Parser> make_mt_continuous_parser(const ParserOptions& options) {
  return std::make_unique<MtContinuousParser>(options);
}

}  // namespace weighlink::scale::detail
