// The "=" reversed-digit stream (scale-protocols.md §1.7; Yaohua XK3190-A26 continuous format 1,
// A23P format 2, Keli and many East African / Asian weighbridge indicators), 9 bytes, repeated
// with no terminator:
//   '=' <7 characters of the displayed weight, '.' included, least significant first> <sign>
// Sign: '0' positive, '-' negative; the A22 manual says '1' for negative and is accepted too.
// "=000.3000" is 3.000, "=00.1000-" is -1.00, "=04523000" is 32540. No status, no unit: the unit
// comes from ParserOptions::unit, stability from the reader's software window.

#include <string>

#include "buffered_parser.hpp"
#include "fixed_width.hpp"
#include "parsers.hpp"

namespace weighlink::scale::detail {
namespace {

constexpr std::size_t kFrameSize = 9;

class YaohuaReverseParser final : public BufferedParser {
 public:
  explicit YaohuaReverseParser(const ParserOptions& options)
      : BufferedParser("yaohua-reverse", options) {}

 private:
  // Decisions depend only on the bytes buffered so far, so every split of the input decodes
  // alike. Without a terminator, a frame is judged as soon as its 9 bytes are in.
  void drain(std::vector<Reading>& out, bool /*at_end*/) override {
    std::size_t pos = 0;
    const std::string_view buf = buffer_;
    while (true) {
      std::size_t start = pos;
      while (start < buf.size() && low7(buf[start]) != '=') ++start;
      stats_.skipped_bytes += start - pos;
      pos = start;
      if (buf.size() - pos < kFrameSize) break;
      const std::string_view frame = buf.substr(pos, kFrameSize);
      if (decode(frame, out)) {
        pos += kFrameSize;
      } else {
        // Torn or not this format: drop the '=' and hunt for the next one.
        ++stats_.bad_frames;
        ++stats_.skipped_bytes;
        ++pos;
      }
    }
    buffer_.erase(0, pos);
  }

  bool decode(std::string_view frame, std::vector<Reading>& out) {
    std::string digits(7, ' ');
    for (std::size_t i = 0; i < 7; ++i) digits[6 - i] = static_cast<char>(low7(frame[1 + i]));
    const char sign = static_cast<char>(low7(frame[8]));
    if (sign != '0' && sign != '-' && sign != '1') return false;
    auto weight = signed_field(' ', digits);
    if (!weight) return false;
    if (sign != '0') weight->units = -weight->units;
    Reading r = make_reading(StableSource::software);
    r.weight = *weight;
    emit(std::move(r), frame, out);
    return true;
  }
};

}  // namespace

std::unique_ptr<Parser> make_yaohua_reverse_parser(const ParserOptions& options) {
  return std::make_unique<YaohuaReverseParser>(options);
}

}  // namespace weighlink::scale::detail
