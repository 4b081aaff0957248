// SMA / SCP-01 standard reply: LF s r n m f <weight:10> <unit:3> CR (scale-protocols.md §1.3).
// Sans-I/O: bytes in, readings out.

#include <string>

#include "buffered_parser.hpp"
#include "line_parser.hpp"
#include "parsers.hpp"

namespace weighlink::scale::detail {
namespace {

constexpr unsigned char kLf = 0x0A;
constexpr unsigned char kCr = 0x0D;
constexpr std::size_t kFrameSize = 20;  // LF .. CR

bool printable(unsigned char c) { return c >= 0x20 && c <= 0x7E; }

class SmaParser final : public BufferedParser {
 public:
  explicit SmaParser(const ParserOptions& options) : BufferedParser("sma", options) {}

 private:
  enum class Outcome { reading, not_a_reading, bad };

  void drain(std::vector<Reading>& out, bool /*at_end*/) override {
    std::size_t pos = 0;
    const std::string_view buf = buffer_;
    while (true) {
      std::size_t lf = pos;
      while (lf < buf.size() && low7(buf[lf]) != kLf) ++lf;
      stats_.skipped_bytes += lf - pos;
      pos = lf;
      if (pos >= buf.size()) break;

      // Look for the CR within one frame length; a LF before it means the frame was cut short.
      std::size_t i = pos + 1;
      bool cut_short = false;
      bool complete = false;
      for (; i < buf.size() && i < pos + kFrameSize; ++i) {
        const unsigned char c = low7(buf[i]);
        if (c == kLf) {
          cut_short = true;
          break;
        }
        if (c == kCr) {
          complete = true;
          break;
        }
      }
      if (cut_short) {
        ++stats_.bad_frames;
        stats_.skipped_bytes += i - pos;
        pos = i;
        continue;
      }
      if (!complete) {
        if (i >= pos + kFrameSize) {  // no CR where one must be: too long
          ++stats_.bad_frames;
          ++stats_.skipped_bytes;
          ++pos;
          continue;
        }
        break;  // need more bytes
      }
      const std::string_view frame = buf.substr(pos, i + 1 - pos);
      if (decode(frame, out) == Outcome::bad) {
        ++stats_.bad_frames;
        stats_.skipped_bytes += frame.size();
      }
      pos = i + 1;
    }
    buffer_.erase(0, pos);
  }

  Outcome decode(std::string_view frame, std::vector<Reading>& out) {
    if (frame.size() == 3) {
      // "<LF>?<CR>" unknown command, "<LF>!<CR>" communication error: replies to a host command,
      // not weights and not line noise.
      const unsigned char c = low7(frame[1]);
      return c == '?' || c == '!' ? Outcome::not_a_reading : Outcome::bad;
    }
    if (frame.size() != kFrameSize) return Outcome::bad;

    std::string text(frame.size(), '\0');
    for (std::size_t k = 0; k < frame.size(); ++k) text[k] = static_cast<char>(low7(frame[k]));
    for (std::size_t k = 1; k + 1 < text.size(); ++k) {
      if (!printable(static_cast<unsigned char>(text[k]))) return Outcome::bad;
    }
    const char status = text[1];
    const char mode = text[3];
    const char motion = text[4];
    const std::string_view weight_field = std::string_view(text).substr(6, 10);
    const std::string_view unit_field = std::string_view(text).substr(16, 3);

    Reading r = make_reading(StableSource::indicator);
    switch (status) {
      case ' ':
        break;
      case 'Z':
        r.center_zero = true;
        break;
      case 'O':
        r.overload = true;
        break;
      case 'U':
        r.underload = true;
        break;
      case 'E':  // zero error
      case 'T':  // tare error
      case 'e':  // Cardinal: weight not displayed
        // A well-formed frame that carries no weight: no reading, so the scale goes stale
        // rather than showing a number the indicator itself does not display.
        return Outcome::not_a_reading;
      default:
        return Outcome::bad;
    }
    bool tare_display = false;
    switch (mode) {
      case 'G':
      case 'g':  // high-resolution gross
        r.mode = WeighMode::gross;
        break;
      case 'N':
      case 'n':  // high-resolution net
        r.mode = WeighMode::net;
        break;
      case 'T':
        tare_display = true;
        break;
      default:
        return Outcome::bad;
    }
    if (motion != 'M' && motion != ' ') return Outcome::bad;

    auto weight = Decimal::parse(weight_field);
    if (!weight) {
      // Over/under capacity displays often blank or dash the digits; keep the flag, weight 0.
      if (!r.overload && !r.underload) return Outcome::bad;
      weight = Decimal{0, options_.decimals > 0 ? options_.decimals : 0};
    }
    r.weight = *weight;

    if (std::string unit = normalize_unit(unit_field); !unit.empty()) r.unit = std::move(unit);

    if (tare_display) {
      // The indicator is showing the stored tare, not the load. Report it as the tare and never
      // as stable, so a capture cannot bind a tare value as a gross weight.
      r.mode = WeighMode::gross;
      r.tare = r.weight;
      r.stable = false;
    } else {
      r.stable = motion != 'M';
    }
    emit(std::move(r), frame, out);
    return Outcome::reading;
  }
};

}  // namespace

std::unique_ptr<Parser> make_sma_parser(const ParserOptions& options) {
  return std::make_unique<SmaParser>(options);
}

}  // namespace weighlink::scale::detail
