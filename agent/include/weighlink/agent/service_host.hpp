#pragma once
// What runs the agent as a service: systemd (sd_notify: ready, watchdog, stopping; stop comes as
// SIGTERM) or the Windows service control manager (SetServiceStatus; stop comes as a control
// request). Agent::run talks to this seam only (docs/install-windows.md, docs/install-linux.md).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace weighlink::agent {

class ServiceHost {
 public:
  virtual ~ServiceHost() = default;
  // The agent serves (its listeners are open and its ready file written).
  virtual void ready(const std::string& status) = 0;
  // The agent is shutting down.
  virtual void stopping() = 0;
  // How often to call watchdog() while healthy; nullopt: never.
  [[nodiscard]] virtual std::optional<std::chrono::milliseconds> watchdog_period() const = 0;
  virtual void watchdog() = 0;
  // Gives the host what stops the agent. A host whose stop request is not a signal (the Windows
  // service control manager) calls it, from any thread; POSIX hosts rely on SIGTERM.
  virtual void set_stop(std::function<void()> stop) = 0;
};

// systemd's notify socket when $NOTIFY_SOCKET is set; otherwise every call does nothing.
[[nodiscard]] std::unique_ptr<ServiceHost> make_notify_host();

}  // namespace weighlink::agent
