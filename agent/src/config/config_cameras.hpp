#pragma once
// The `cameras:` and `anpr:` sections of the configuration (config_cameras.cpp), read by
// config_yaml.cpp.

#include <filesystem>

#include "weighlink/agent/config.hpp"

namespace YAML {
class Node;  // yaml-cpp stays in the config sources
}

namespace weighlink::agent {

// Reads root["cameras"] and root["anpr"] into cfg.cameras (after the scales, which camera
// `scales:` lists are checked against); throws std::runtime_error "<file>: cameras[i].<key>: <what
// is wrong>" as the rest of the configuration does.
void load_cameras(const YAML::Node& root, const std::filesystem::path& file, AgentConfig& cfg);

}  // namespace weighlink::agent
