#pragma once
// systemd's service notifications (sd_notify(3)): READY=1 once the service serves, WATCHDOG=1 at
// least every WatchdogSec/2 while it is healthy, STOPPING=1 when it shuts down, STATUS=… for
// `systemctl status`. The protocol is one datagram to the AF_UNIX socket named in $NOTIFY_SOCKET
// (a path, or '@' for Linux's abstract namespace); written here rather than linking libsystemd,
// which the Windows build does not have. Without $NOTIFY_SOCKET (not started by systemd, or on
// Windows, where the service control manager is told instead) every call does nothing.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace weighlink::base {

class ServiceNotifier {
 public:
  // Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID once.
  ServiceNotifier();

  // True when there is a socket to tell.
  [[nodiscard]] bool enabled() const noexcept { return !socket_.empty(); }
  // How often to send watchdog(): half of WatchdogSec, when it is set for this process.
  [[nodiscard]] std::optional<std::chrono::milliseconds> watchdog_period() const noexcept {
    return watchdog_period_;
  }

  // Each returns false when the datagram could not be sent (it never throws); nothing to send
  // counts as sent.
  bool ready(std::string_view status = {});
  bool watchdog();
  bool stopping();
  bool status(std::string_view text);

 private:
  bool send(const std::string& message);

  std::string socket_;
  std::optional<std::chrono::milliseconds> watchdog_period_;
};

}  // namespace weighlink::base
