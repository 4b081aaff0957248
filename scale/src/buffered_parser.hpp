#pragma once
// Internal base for formats decoded from a byte buffer (fixed-length frames, start-byte frames,
// frames recognised by shape): put() appends and drains; finish() drains once more with
// `at_end` and counts whatever is left as skipped bytes. Sans-I/O, not thread-safe.

#include <string>
#include <string_view>
#include <vector>

#include "parsers.hpp"
#include "weighlink/scale/parser.hpp"

namespace weighlink::scale::detail {

class BufferedParser : public Parser {
 public:
  void put(std::string_view bytes, std::vector<Reading>& out) final {
    buffer_.append(bytes);
    drain(out, /*at_end=*/false);
  }
  void finish(std::vector<Reading>& out) final {
    drain(out, /*at_end=*/true);
    stats_.skipped_bytes += buffer_.size();
    buffer_.clear();
  }
  [[nodiscard]] const ParserStats& stats() const final { return stats_; }
  [[nodiscard]] std::string_view protocol() const final { return protocol_; }

 protected:
  BufferedParser(std::string_view protocol, const ParserOptions& options)
      : options_(options), protocol_(protocol) {}

  // Decodes every complete frame at the front of buffer_ and erases what it consumed. Decisions
  // must depend only on the buffered bytes (and `at_end`), so every split decodes alike.
  virtual void drain(std::vector<Reading>& out, bool at_end) = 0;

  // A reading with protocol, unit (from options) and defaults filled in; `source`: see
  // new_reading() (parsers.hpp).
  [[nodiscard]] Reading make_reading(StableSource source) const {
    return new_reading(protocol_, options_, source);
  }
  // Appends a decoded frame's reading with its raw bytes, and counts the frame.
  void emit(Reading r, std::string_view raw, std::vector<Reading>& out) {
    append_reading(std::move(r), raw, out);
    ++stats_.frames;
  }

  ParserOptions options_;
  ParserStats stats_;
  std::string buffer_;

 private:
  std::string_view protocol_;  // a string literal of the registry
};

}  // namespace weighlink::scale::detail
