#pragma once
// The `displays:` section of the configuration (config_displays.cpp), read by config_yaml.cpp.

#include <filesystem>
#include <vector>

#include "weighlink/agent/display_config.hpp"
#include "weighlink/scale/scale_config.hpp"

namespace YAML {
class Node;  // yaml-cpp stays in the config sources (docs/architecture.md, "Adapters")
}

namespace weighlink::agent {

// Reads `node` (a list) into `out`, checking each display's scale against `scales`; throws
// std::runtime_error "<file>: displays[i].<key>: <what is wrong>" as the rest of the
// configuration does.
void load_displays(const YAML::Node& node, const std::filesystem::path& file,
                   const std::vector<scale::ScaleConfig>& scales, DisplaysConfig& out);

}  // namespace weighlink::agent
