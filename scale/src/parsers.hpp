#pragma once
// Internal: the factories the registry dispatches to. One parser class per protocol, each in its
// own source file; nothing here does I/O.

#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "weighlink/scale/parser.hpp"
#include "weighlink/scale/reading.hpp"

namespace weighlink::scale::detail {

[[nodiscard]] std::unique_ptr<Parser> make_mt_continuous_parser(const ParserOptions& options);
[[nodiscard]] std::unique_ptr<Parser> make_sma_parser(const ParserOptions& options);
// Group A (docs/protocols/group-a.md).
[[nodiscard]] std::unique_ptr<Parser> make_mt_sics_parser(const ParserOptions& options);
[[nodiscard]] std::unique_ptr<Parser> make_cardinal_sb400_parser(const ParserOptions& options);
[[nodiscard]] std::unique_ptr<Parser> make_rice_lake_parser(const ParserOptions& options);
[[nodiscard]] std::unique_ptr<Parser> make_rinstrum_parser(const ParserOptions& options);
[[nodiscard]] std::unique_ptr<Parser> make_ad_stgs_parser(const ParserOptions& options);
[[nodiscard]] std::unique_ptr<Parser> make_xk3190_tf0_parser(const ParserOptions& options);
[[nodiscard]] std::unique_ptr<Parser> make_xk3190_a12e_parser(const ParserOptions& options);
[[nodiscard]] std::unique_ptr<Parser> make_yaohua_reverse_parser(const ParserOptions& options);
// Group B (docs/protocols/group-b.md).
[[nodiscard]] std::unique_ptr<Parser> make_zm_parser(const ParserOptions& options);
[[nodiscard]] std::unique_ptr<Parser> make_cardinal_deck_parser(const ParserOptions& options);
[[nodiscard]] std::unique_ptr<Parser> make_i1310_parser(const ParserOptions& options);
[[nodiscard]] std::unique_ptr<Parser> make_mcgs_parser(const ParserOptions& options);
[[nodiscard]] std::unique_ptr<Parser> make_giropes_parser(const ParserOptions& options);
[[nodiscard]] std::unique_ptr<Parser> make_custom_parser(const ParserOptions& options);

// A reading of `protocol` in the configured unit. `source` says who judges stability: the
// indicator's motion flag, or (formats without one) the reader's software window, whose readings
// leave the parser not stable.
[[nodiscard]] inline Reading new_reading(std::string_view protocol, const ParserOptions& options,
                                         StableSource source) {
  Reading r;
  r.protocol = protocol;
  r.unit = options.unit;
  r.stable = false;
  r.stable_source = source;
  return r;
}

// Appends `r` with the bytes it was decoded from (Reading::raw).
inline void append_reading(Reading r, std::string_view raw, std::vector<Reading>& out) {
  r.raw.assign(raw);
  out.push_back(std::move(r));
}

// ASCII classes of frame bytes (no locale: indicators send ASCII whatever the host's locale).
[[nodiscard]] constexpr bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
[[nodiscard]] constexpr bool is_letter(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// Parity-stripped value of a byte: 7E1 indicators read as 8N1 set bit 7 (scale-protocols.md §0.1).
[[nodiscard]] constexpr unsigned char low7(char c) {
  return static_cast<unsigned char>(static_cast<unsigned char>(c) & 0x7F);
}

}  // namespace weighlink::scale::detail
