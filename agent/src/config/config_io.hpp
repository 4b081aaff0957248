#pragma once
// The `io:` section of the configuration (config_io.cpp): Modbus TCP modules, lanes, policy.

#include <filesystem>

#include "weighlink/agent/config.hpp"

namespace YAML {
class Node;
}  // namespace YAML

namespace weighlink::agent {

// Reads `root["io"]` (absent: nothing configured) into config.io, checking each lane's scale
// against config.scales (read before). Throws std::runtime_error "FILE: io.KEY: what is wrong".
void load_io(const YAML::Node& root, const std::filesystem::path& file, AgentConfig& config);

}  // namespace weighlink::agent
