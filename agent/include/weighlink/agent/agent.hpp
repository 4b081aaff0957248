#pragma once
// The station daemon: wires the scale readers, the outbox, the replay worker, the API and the
// server together and runs them until a stop signal.

#include <memory>
#include <string>

#include "weighlink/agent/config.hpp"
#include "weighlink/agent/service_host.hpp"

namespace weighlink::agent {

class Agent {
 public:
  // Runs the agent until SIGINT or SIGTERM, or until `host` asks it to stop. Returns the process
  // exit code: 0 after a clean stop, 1 when it could not start (the reason is logged as one
  // line). `host` is told when it is ready and stopping, and fed its watchdog; nullptr: systemd's
  // notify socket when there is one (make_notify_host).
  static int run(const AgentConfig& config, ServiceHost* host = nullptr);
};

// Where the outbox and the station key live for a configuration.
[[nodiscard]] std::filesystem::path outbox_path(const AgentConfig& config);
[[nodiscard]] std::filesystem::path station_key_path(const AgentConfig& config);

}  // namespace weighlink::agent
