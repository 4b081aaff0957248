#pragma once
// The alibi store's face (docs/local-api.md, "Records"; docs/outbox.md, "Evidence archive"):
// records retrieved by seq from the outbox or its evidence archive, verified one by one or as a
// whole chain, over the local API (GET /v1/records, /v1/records/{seq}, /v1/records/{seq}/verify,
// /v1/evidence) and `weighlink-agent records`.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <ostream>
#include <vector>

#include "weighlink/agent/evidence_config.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::agent {

struct AgentConfig;
struct ApiContext;
class ApiRoutes;

// The outbox options the evidence configuration sets.
void apply_evidence_options(const EvidenceConfig& config, sync::OutboxOptions& options);

// The route group, on `ctx`'s outbox, clock and io thread; `key` checks signatures. Verifying
// the whole chain runs on a thread of its own. Io thread only (destroy it before the outbox).
[[nodiscard]] std::unique_ptr<ApiRoutes> make_records_routes(const AgentConfig& config,
                                                             std::vector<unsigned char> key,
                                                             const ApiContext& ctx);

// `weighlink-agent records --from N --to M [--json]`: read-only, beside a running agent.
// Exit codes: 0 shown; 1 the outbox could not be read or no record is in the range; 2 bad usage.
struct RecordsCommand {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  bool json = false;
  bool verify = false;  // each record's verification with it
};
[[nodiscard]] int run_records_command(const AgentConfig& config, const RecordsCommand& command,
                                      std::ostream& out, std::ostream& err);

}  // namespace weighlink::agent
