// Config `evidence` (config_records.hpp; docs/configuration.md).
#include "config/config_records.hpp"

#include <yaml-cpp/yaml.h>

#include <stdexcept>
#include <string>

#include "config/config_checks.hpp"

namespace weighlink::agent {
namespace {

using config_checks::fail;

std::uint64_t whole_number(const YAML::Node& node, const std::filesystem::path& file,
                           const std::string& key, std::uint64_t min, std::uint64_t max,
                           const std::string& unit) {
  const auto range =
      "a whole number of " + unit + " from " + std::to_string(min) + " to " + std::to_string(max);
  std::uint64_t v = 0;
  try {
    v = node.as<std::uint64_t>();
  } catch (const YAML::Exception&) {
    fail(file, key, "expected " + range);
  }
  if (v < min || v > max) fail(file, key, "must be " + range + ", not " + std::to_string(v));
  return v;
}

}  // namespace

void parse_evidence_config(const YAML::Node& node, const std::filesystem::path& file,
                           EvidenceConfig& out) {
  if (!node.IsMap()) fail(file, "evidence", "expected a mapping (retention_days, max_archive_mb)");
  for (const auto& kv : node) {
    const auto key = kv.first.as<std::string>();
    if (key == "retention_days") {
      // Ten years at most; 0 keeps nothing past pruning (not for legal use).
      out.retention_days = static_cast<std::uint32_t>(
          whole_number(kv.second, file, "evidence.retention_days", 0, 3650, "days"));
    } else if (key == "max_archive_mb") {
      out.max_archive_mb =
          whole_number(kv.second, file, "evidence.max_archive_mb", 1, 1'048'576, "MiB");
    } else {
      fail(file, "evidence." + key,
           "unknown key (known keys here: max_archive_mb, retention_days)");
    }
  }
}

}  // namespace weighlink::agent
