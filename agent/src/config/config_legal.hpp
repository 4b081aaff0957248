#pragma once
// The legal-metrology keys of the configuration file (config_legal.cpp).

#include <filesystem>

#include "weighlink/agent/legal_config.hpp"

namespace YAML {
class Node;
}  // namespace YAML

namespace weighlink::agent {

// scales[].zero_return (true or false) and scales[].zero_band (a decimal weight, 0 or more).
// Throws std::runtime_error "FILE: scales[i].KEY: what is wrong" like the rest of the file.
void load_legal(const YAML::Node& root, const std::filesystem::path& file, LegalConfig& out);

}  // namespace weighlink::agent
