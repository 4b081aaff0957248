#pragma once
// The operator's commands on a station's outbox (docs/outbox.md): `weighlink-agent outbox
// list|show|retry|export` and `weighlink-agent verify-evidence`. They open the outbox file
// directly (SQLite WAL lets them run beside the agent: reads see a consistent snapshot, a retry
// waits for the agent's current commit) and never create or upgrade it.
//
// Exit codes: 0 done; 1 the outbox or the key could not be read, or nothing matched; 2 bad usage;
// 3 (verify-evidence) the evidence chain is broken.

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "weighlink/agent/config.hpp"

namespace weighlink::agent {

struct OutboxCommand {
  std::string action;                // list | show | retry | discard | export
  std::optional<std::string> state;  // list: pending | acknowledged | dead | discarded
  std::uint64_t after = 0;           // list: rows with seq above
  std::size_t limit = 100;           // list
  bool json = false;                 // list: one JSON object per line
  std::vector<std::string> targets;  // show/retry/discard: idempotency keys or seqs
  std::string reason;                // discard: why (kept with the row)
  bool all_dead = false;             // retry every dead mutation
  std::string out_file;              // export: the file (default stdout)
};

[[nodiscard]] int run_outbox_command(const AgentConfig& config, const OutboxCommand& command,
                                     std::ostream& out, std::ostream& err);

struct VerifyEvidenceCommand {
  std::string export_file;  // verify an export instead of the outbox
  bool json = false;
};

[[nodiscard]] int run_verify_evidence(const AgentConfig& config,
                                      const VerifyEvidenceCommand& command, std::ostream& out,
                                      std::ostream& err);

// `weighlink-agent origins list [--json] | allow ORIGIN | deny ORIGIN | revoke ORIGIN |
// preset [--name NAME] ORIGINS...`
// (docs/security.md, "Origin pairing"): the origins that may use this station, from the
// configuration, the drop-in folder and <data_dir>/origins.db, which the command writes; a
// running agent applies a change at its next request (PRAGMA data_version), no restart.
// Exit codes: 0 done; 1 the store could not be used, or the origin cannot be changed here (a
// configured or preset one, or nothing to revoke); 2 bad usage (a malformed origin, a bad
// drop-in line).
struct OriginsCommand {
  std::string action;  // list | allow | deny | revoke | preset
  std::string origin;  // allow, deny, revoke
  bool json = false;   // list: the /v1/origins document
  // preset (what the installers run): the origins (each argument may hold several, separated by
  // commas or spaces) written to <origins_dir>/<name>.conf, atomically; none removes the file.
  std::vector<std::string> origins;
  std::string name = "installer";
};

[[nodiscard]] int run_origins_command(const AgentConfig& config, const OriginsCommand& command,
                                      std::ostream& out, std::ostream& err);

}  // namespace weighlink::agent
