#pragma once
// Internal: the factories the registry dispatches to. One parser class per protocol, each in its
// own source file; nothing here does I/O.

#include <memory>

#include "weighlink/scale/parser.hpp"

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

// Parity-stripped value of a byte: 7E1 indicators read as 8N1 set bit 7 (scale-protocols.md §0.1).
[[nodiscard]] constexpr unsigned char low7(char c) {
  return static_cast<unsigned char>(static_cast<unsigned char>(c) & 0x7F);
}

}  // namespace weighlink::scale::detail
