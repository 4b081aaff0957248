#pragma once
// The invariants every parser fuzz target checks on one input: no crash (ASan/UBSan), results
// independent of how the bytes are split, skipped bytes never more than the input, every
// reading's raw frame made of input bytes in order, every byte consumed at most once.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "weighlink/scale/parser.hpp"

namespace weighlink::fuzz {

// `part` is made of bytes of `whole`, in order. Not a plain substring test: multi-line frames
// (line_parser.hpp) join their lines' raw bytes and leave out the empty line between CR and LF.
inline bool is_subsequence(std::string_view part, std::string_view whole) {
  std::size_t at = 0;
  for (const char c : part) {
    at = whole.find(c, at);
    if (at == std::string_view::npos) return false;
    ++at;
  }
  return true;
}

// The first byte of a fuzz input chooses the split point and the parser options; the rest is
// the stream. Seeds are written as a 0 byte followed by the frames.
inline void fuzz_one_parser(std::string_view protocol, const std::uint8_t* data, std::size_t size) {
  using namespace weighlink::scale;
  if (size == 0) return;
  const std::uint8_t control = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t split = input.empty() ? 0 : (std::size_t{control} * 131U) % (input.size() + 1);
  ParserOptions options;
  options.checksum = static_cast<ChecksumMode>(control % 3);
  options.decimals = (control >> 2) % 4 == 0 ? -1 : (control >> 2) % 10;
  if (protocol == "custom") {
    // With no pattern the custom parser refuses everything; fuzz it with the patterns of
    // tests/vectors/custom.vec (status/motion/unit groups, multi-deck, STX/ETX framing).
    static constexpr const char* kPatterns[] = {
        R"(^(?<status>[A-Z ]) (?<motion>[MOZ ]) ?(?<weight>[-+]?[ 0-9.]+) (?<unit>Lb|Kg)$)",
        R"((?<deck1>\d+),\s*(?<deck2>\d+),\s*(?<deck3>\d+),\s*(?<deck4>\d+))",
        R"(^(?<stable>ST|US),(?<mode>GS|NT),(?<sign>[-+])(?<weight>[0-9. ]+)$)"};
    options.custom_pattern = kPatterns[control % 3];
    if (control % 3 == 2) {
      options.custom_terminator = "\x03";
      options.custom_start = "\x02";
    }
  }

  auto whole = make_parser(protocol, options);
  auto parts = make_parser(protocol, options);
  check(whole && parts);
  std::vector<Reading> a;
  std::vector<Reading> b;
  whole->put(input, a);
  whole->finish(a);
  parts->put(input.substr(0, split), b);
  parts->put(input.substr(split), b);
  parts->finish(b);

  const auto& sa = whole->stats();
  const auto& sb = parts->stats();
  check(sa.skipped_bytes <= input.size());
  check(sa.frames == a.size());
  check(sa.frames == sb.frames && sa.bad_frames == sb.bad_frames &&
        sa.skipped_bytes == sb.skipped_bytes);
  check(a.size() == b.size());
  std::size_t raw_total = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    check(a[i].raw == b[i].raw && a[i].weight == b[i].weight && a[i].unit == b[i].unit &&
          a[i].decks == b[i].decks && a[i].stable == b[i].stable && a[i].flag == b[i].flag);
    check(!a[i].raw.empty() && is_subsequence(a[i].raw, input));
    check(a[i].weight.decimals >= 0 && a[i].weight.decimals <= 9);
    (void)a[i].weight.to_string();
    raw_total += a[i].raw.size();
  }
  // Bytes are consumed once: as frames, as skipped garbage, or as non-reading replies.
  check(raw_total + sa.skipped_bytes <= input.size());
}

}  // namespace weighlink::fuzz
