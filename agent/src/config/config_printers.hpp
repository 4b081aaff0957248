#pragma once
// The `printers:` section of the configuration (config_printers.cpp), read by config_yaml.cpp.

#include <filesystem>
#include <vector>

#include "weighlink/agent/printer_config.hpp"
#include "weighlink/scale/scale_config.hpp"

namespace YAML {
class Node;
}  // namespace YAML

namespace weighlink::agent {

// Reads `node` (a list) into `out`; `scales` are the configured ones a printer may name.
// Throws std::runtime_error "<file>: printers[i].<key>: <what is wrong>".
void load_printers(const YAML::Node& node, const std::filesystem::path& file,
                   const std::vector<scale::ScaleConfig>& scales, PrintersConfig& out);

}  // namespace weighlink::agent
