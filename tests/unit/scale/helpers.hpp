#pragma once
// Shared helpers for the scale unit tests: hex frames, independent checksum, split feeding.

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vector_file.hpp"  // hex()
#include "weighlink/scale/parser.hpp"

namespace weighlink::scale::test {

// The Toledo checksum written from the manual's wording (two's complement of the 7-bit sum),
// independently of the parser's verification.
inline char toledo_checksum(std::string_view body) {
  int sum = 0;
  for (const char c : body) sum += static_cast<unsigned char>(c) & 0x7F;
  return static_cast<char>((-sum) & 0x7F);
}

// Sets bit 7 as even parity would (a 7E1 line read as 8N1).
inline std::string with_even_parity(std::string_view bytes) {
  std::string out(bytes);
  for (char& c : out) {
    auto b = static_cast<unsigned char>(c & 0x7F);
    int ones = 0;
    for (unsigned v = b; v != 0; v >>= 1) ones += static_cast<int>(v & 1U);
    if (ones % 2 == 1) b |= 0x80;
    c = static_cast<char>(b);
  }
  return out;
}

inline std::string with_bit7(std::string_view bytes) {
  std::string out(bytes);
  for (char& c : out) c = static_cast<char>(static_cast<unsigned char>(c) | 0x80);
  return out;
}

struct Decoded {
  std::vector<Reading> readings;
  ParserStats stats;
};

// Feeds `chunks` in order, then finish().
inline Decoded decode_chunks(std::string_view protocol, const std::vector<std::string_view>& chunks,
                             const ParserOptions& options = {}) {
  auto parser = make_parser(protocol, options);
  REQUIRE(parser);
  Decoded d;
  for (const auto chunk : chunks) parser->put(chunk, d.readings);
  parser->finish(d.readings);
  d.stats = parser->stats();
  return d;
}

inline Decoded decode(std::string_view protocol, std::string_view bytes,
                      const ParserOptions& options = {}) {
  return decode_chunks(protocol, {bytes}, options);
}

inline bool same(const Reading& a, const Reading& b) {
  return a.protocol == b.protocol && a.weight == b.weight && a.unit == b.unit && a.mode == b.mode &&
         a.tare == b.tare && a.stable == b.stable && a.stable_source == b.stable_source &&
         a.overload == b.overload && a.underload == b.underload && a.center_zero == b.center_zero &&
         a.stale == b.stale && a.decks == b.decks && a.raw == b.raw;
}

// Decodes `bytes` whole, split in two at every boundary, and one byte at a time; every way must
// give the same readings and stats. Returns the whole-input result.
inline Decoded decode_every_split(std::string_view protocol, std::string_view bytes,
                                  const ParserOptions& options = {}) {
  Decoded whole = decode(protocol, bytes, options);
  auto check = [&](const Decoded& d, const std::string& how) {
    INFO(how);
    REQUIRE(d.readings.size() == whole.readings.size());
    for (std::size_t i = 0; i < d.readings.size(); ++i)
      CHECK(same(d.readings[i], whole.readings[i]));
    CHECK(d.stats.frames == whole.stats.frames);
    CHECK(d.stats.bad_frames == whole.stats.bad_frames);
    CHECK(d.stats.skipped_bytes == whole.stats.skipped_bytes);
  };
  for (std::size_t at = 0; at <= bytes.size(); ++at) {
    check(decode_chunks(protocol, {bytes.substr(0, at), bytes.substr(at)}, options),
          "split at " + std::to_string(at));
  }
  std::vector<std::string_view> singles;
  for (std::size_t i = 0; i < bytes.size(); ++i) singles.push_back(bytes.substr(i, 1));
  check(decode_chunks(protocol, singles, options), "one byte at a time");
  return whole;
}

}  // namespace weighlink::scale::test
