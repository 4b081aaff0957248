// validate_options(): configuration checks a config loader runs before make_parser(), so a bad
// setting is a start-up error naming the key rather than a parser that silently refuses frames.
#include <string>
#include <variant>

#include "custom_pattern.hpp"
#include "weighlink/scale/parser.hpp"

namespace weighlink::scale {

std::optional<std::string> validate_options(std::string_view protocol_id,
                                            const ParserOptions& options) {
  bool known = false;
  for (const auto& p : protocols()) known = known || p.id == protocol_id;
  if (!known)
    return "protocol: unknown id '" + std::string(protocol_id) +
           "'; `weighlink-scale protocols` lists the ids this build decodes";
  if (options.decimals < -1 || options.decimals > 9)
    return "decimals: " + std::to_string(options.decimals) +
           " is out of range; use -1 (from the frame) or 0..9";
  if (options.deck_count < 0 || options.deck_count > 16)
    return "deck_count: " + std::to_string(options.deck_count) +
           " is out of range; use 0 (from the format) or 1..16";
  if (protocol_id == "custom") {
    auto compiled = detail::compile_custom_pattern(options);
    if (auto* error = std::get_if<std::string>(&compiled)) return std::move(*error);
  }
  return std::nullopt;
}

}  // namespace weighlink::scale
