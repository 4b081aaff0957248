#pragma once
// The `station:` section of the agent's configuration (the weighing workstation, station.hpp).

#include <filesystem>

#include "weighlink/agent/station.hpp"

namespace YAML {
class Node;
}  // namespace YAML

namespace weighlink::agent {

// Reads `node` into `out`. Throws std::runtime_error naming the file, the key and what is wrong
// (start-up only).
void load_station(const YAML::Node& node, const std::filesystem::path& file, StationConfig& out);

}  // namespace weighlink::agent
