#pragma once
// The `ticket:` section of the configuration (config_ticket.cpp), read by config_yaml.cpp.

#include <filesystem>

#include "weighlink/agent/ticket.hpp"

namespace YAML {
class Node;  // yaml-cpp stays in the config sources (docs/architecture.md, "Adapters")
}

namespace weighlink::agent {

// Reads `node` into `out` and the logo's bytes; throws std::runtime_error
// "<file>: ticket.<key>: <what is wrong>" as the rest of the configuration does.
void load_ticket(const YAML::Node& node, const std::filesystem::path& file, TicketConfig& out);

}  // namespace weighlink::agent
