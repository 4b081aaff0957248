#pragma once
// The link to the backend as configured (backends, backend_tls, the station token): the replay
// worker, or none when the agent runs offline.

#include <memory>

#include "weighlink/agent/config.hpp"
#include "weighlink/sync/outbox.hpp"
#include "weighlink/sync/replay.hpp"

namespace weighlink::agent {

struct Uplink {
  std::unique_ptr<sync::ReplayWorker> replay;  // null: offline
  bool plaintext_remote = false;               // a plaintext link to another machine (warned about)
  int exit_code = 0;  // not 0: the configuration is unusable (logged); stop with it
};

// Logs what it warns about or refuses; the worker is created, not started.
[[nodiscard]] Uplink make_uplink(const AgentConfig& config, sync::Outbox& outbox);

}  // namespace weighlink::agent
