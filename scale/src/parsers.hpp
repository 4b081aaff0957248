#pragma once
// Internal: the factories the registry dispatches to. One parser class per protocol, each in its
// own source file; nothing here does I/O.

#include <memory>

#include "weighlink/scale/parser.hpp"

namespace weighlink::scale::detail {

[[nodiscard]] std::unique_ptr<Parser> make_mt_continuous_parser(const ParserOptions& options);
[[nodiscard]] std::unique_ptr<Parser> make_sma_parser(const ParserOptions& options);

// Parity-stripped value of a byte: 7E1 indicators read as 8N1 set bit 7 (scale-protocols.md §0.1).
[[nodiscard]] constexpr unsigned char low7(char c) {
  return static_cast<unsigned char>(static_cast<unsigned char>(c) & 0x7F);
}

}  // namespace weighlink::scale::detail
