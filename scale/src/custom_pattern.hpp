#pragma once
// Internal: the `custom` protocol's pattern. std::regex (ECMAScript) has no named groups, so
// "(?<weight>...)" is rewritten to a numbered group and the names are kept in a table.

#include <map>
#include <optional>
#include <regex>
#include <string>
#include <variant>

#include "weighlink/scale/parser.hpp"

namespace weighlink::scale::detail {

struct CustomPattern {
  std::regex regex;
  std::map<std::string, std::size_t, std::less<>> groups;  // name -> group number
  int decks = 0;                                           // deck1..deckN present
};

// The compiled pattern, or an error message that names the option and says what to fix.
[[nodiscard]] std::variant<CustomPattern, std::string> compile_custom_pattern(
    const ParserOptions& options);

}  // namespace weighlink::scale::detail
