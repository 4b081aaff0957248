// MCGS mobile axle weigher: "=SG+0000123kR" (gross, sign, digits, 'k' for kg, one trailing
// letter R/X whose meaning is undocumented), 9600 8N1, streamed with or without CR LF between
// frames. No motion flag: the software window decides. Some units report a cumulative weight
// (AxleSession handles that). scale-protocols.md §1.13, truconnect-protocol.md §1.2-1.3.
//
// Frames are found by their shape, not by a terminator, because real streams run frames together
// ("=SG+0000060kX=SG+00000" + "70kX\r\n"). The '=' is optional, as in TruConnect's framing.

#include <string>

#include "buffered_parser.hpp"
#include "deck_frame.hpp"
#include "parsers.hpp"

namespace weighlink::scale::detail {
namespace {

constexpr std::size_t kMaxDigits = 10;

bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_letter(unsigned char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

class McgsParser final : public BufferedParser {
 public:
  explicit McgsParser(const ParserOptions& options) : BufferedParser("mcgs", options) {}

 private:
  enum class Match { need_more, mismatch, frame };
  struct Scan {
    Match match;
    std::size_t end;  // one past the frame, or the byte that did not fit
  };

  // Matches =?SG[+-]?[0-9.]{1,10}[kK][A-Za-z]? at `pos`.
  Scan scan(std::string_view b, std::size_t pos, bool at_end) const {
    std::size_t i = pos;
    auto at = [&](std::size_t k) { return static_cast<char>(low7(b[k])); };
    if (at(i) == '=') ++i;
    for (const char expected : {'S', 'G'}) {
      if (i >= b.size()) return {Match::need_more, i};
      if (at(i) != expected) return {Match::mismatch, i};
      ++i;
    }
    if (i >= b.size()) return {Match::need_more, i};
    if (at(i) == '+' || at(i) == '-') ++i;
    const std::size_t digits = i;
    while (i < b.size() && (is_digit(at(i)) || at(i) == '.') && i - digits <= kMaxDigits) ++i;
    if (i >= b.size()) return {Match::need_more, i};
    if (i == digits || i - digits > kMaxDigits) return {Match::mismatch, i};
    if (at(i) != 'k' && at(i) != 'K') return {Match::mismatch, i};
    ++i;
    if (i >= b.size()) return at_end ? Scan{Match::frame, i} : Scan{Match::need_more, i};
    if (is_letter(at(i))) ++i;
    return {Match::frame, i};
  }

  void drain(std::vector<Reading>& out, bool at_end) override {
    const std::string_view b = buffer_;
    std::size_t pos = 0;
    while (pos < b.size()) {
      const unsigned char c = low7(b[pos]);
      if (c != '=' && c != 'S') {
        // CR/LF between frames are framing, not garbage.
        if (c != '\r' && c != '\n') ++stats_.skipped_bytes;
        ++pos;
        continue;
      }
      const Scan s = scan(b, pos, at_end);
      if (s.match == Match::need_more) {
        if (!at_end) break;
        stats_.skipped_bytes += b.size() - pos;
        pos = b.size();
        break;
      }
      if (s.match == Match::mismatch) {
        // A frame start that does not go on as one. A lone 'S' in text is noise; '=' or "SG"
        // followed by the wrong bytes is a torn frame. The byte that did not fit may start the
        // next frame, so scanning resumes there.
        const std::size_t end = std::max(s.end, pos + 1);
        if (c == '=' || end - pos >= 2) ++stats_.bad_frames;
        stats_.skipped_bytes += end - pos;
        pos = end;
        continue;
      }
      const std::string_view frame = b.substr(pos, s.end - pos);
      if (!decode(frame, out)) {
        ++stats_.bad_frames;
        stats_.skipped_bytes += frame.size();
      }
      pos = s.end;
    }
    buffer_.erase(0, pos);
  }

  bool decode(std::string_view frame, std::vector<Reading>& out) {
    std::string text;
    for (const char ch : frame) text.push_back(static_cast<char>(low7(ch)));
    std::size_t i = text[0] == '=' ? 3 : 2;  // past "=SG"
    const std::size_t k = text.find_first_of("kK", i);
    const auto weight = Decimal::parse(std::string_view(text).substr(i, k - i));
    if (!weight) return false;
    Reading r;
    r.protocol = "mcgs";
    r.weight = implied_decimals(*weight, options_);
    r.unit = "kg";  // the 'k' is the only unit this format sends
    r.mode = WeighMode::gross;
    r.stable = false;
    r.stable_source = StableSource::software;
    r.raw.assign(frame);
    out.push_back(std::move(r));
    ++stats_.frames;
    return true;
  }
};

}  // namespace

std::unique_ptr<Parser> make_mcgs_parser(const ParserOptions& options) {
  return std::make_unique<McgsParser>(options);
}

}  // namespace weighlink::scale::detail
