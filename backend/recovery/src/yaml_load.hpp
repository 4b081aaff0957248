#pragma once
// Internal to weighlink::recovery: YAML text to a node, a parse error said with its source and
// line (the soft-FK allowlist, verify-backup's --checks).

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>

#include "weighlink/base/error.hpp"

namespace weighlink::recovery {

[[nodiscard]] inline base::Expected<YAML::Node> load_yaml(std::string_view text,
                                                          const std::string& source) {
  try {
    // In place: a YAML::Node converts from anything, an Error too.
    return base::Expected<YAML::Node>(boost::system::in_place_value, YAML::Load(std::string(text)));
  } catch (const YAML::Exception& e) {
    return base::Expected<YAML::Node>(
        boost::system::in_place_error,
        base::invalid_argument(source + ": not valid YAML (line " +
                               std::to_string(e.mark.line + 1) + "): " + e.msg));
  }
}

}  // namespace weighlink::recovery
