#pragma once
// Config `evidence` from YAML (config_yaml.cpp calls it). Throws std::runtime_error("FILE: KEY:
// what is wrong") like the rest of the file's checks.

#include <filesystem>

#include "weighlink/agent/evidence_config.hpp"

namespace YAML {
class Node;
}  // namespace YAML

namespace weighlink::agent {

void parse_evidence_config(const YAML::Node& node, const std::filesystem::path& file,
                           EvidenceConfig& out);

}  // namespace weighlink::agent
