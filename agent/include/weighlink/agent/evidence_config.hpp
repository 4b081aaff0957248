#pragma once
// Config `evidence` (docs/configuration.md): how long the outbox's evidence archive keeps records
// pruned from the replay set, and its disk cap. Plain data.

#include <cstdint>

namespace weighlink::agent {

struct EvidenceConfig {
  // Records pruned from the outbox are kept this long after they were created (the legal period).
  std::uint32_t retention_days = 92;
  // The archive's disk cap; the alarm is raised at 80 %.
  std::uint64_t max_archive_mb = 512;
};

}  // namespace weighlink::agent
