#include "weighlink/base/service_notify.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#ifndef _WIN32
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#endif

namespace weighlink::base {
namespace {

#ifndef _WIN32
std::optional<unsigned long long> env_number(const char* name) {
  const char* text = std::getenv(name);
  if (!text || !*text) return std::nullopt;
  char* end = nullptr;
  const auto value = std::strtoull(text, &end, 10);
  if (*end != '\0') return std::nullopt;
  return value;
}
#endif

}  // namespace

ServiceNotifier::ServiceNotifier() {
#ifndef _WIN32
  if (const char* path = std::getenv("NOTIFY_SOCKET"); path && (path[0] == '/' || path[0] == '@')) {
    socket_ = path;
  }
  const auto usec = env_number("WATCHDOG_USEC");
  const auto pid = env_number("WATCHDOG_PID");
  // WATCHDOG_PID, when set, names the process the watchdog is for (not a child that inherited
  // the environment).
  if (usec && *usec > 0 && (!pid || *pid == static_cast<unsigned long long>(::getpid()))) {
    watchdog_period_ = std::chrono::milliseconds(std::max<unsigned long long>(*usec / 2000, 1));
  }
#endif
}

bool ServiceNotifier::ready(std::string_view status) {
  std::string message = "READY=1";
  if (!status.empty()) message.append("\nSTATUS=").append(status);
  return send(message);
}

bool ServiceNotifier::watchdog() { return send("WATCHDOG=1"); }

bool ServiceNotifier::stopping() { return send("STOPPING=1"); }

bool ServiceNotifier::status(std::string_view text) { return send("STATUS=" + std::string(text)); }

bool ServiceNotifier::send(const std::string& message) {
  if (socket_.empty()) return true;
#ifdef _WIN32
  (void)message;  // Windows: the service control manager is told through ServiceHost instead
  return true;
#else
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof(address.sun_path)) return false;
  std::memcpy(address.sun_path, socket_.data(), socket_.size());
  if (socket_[0] == '@') address.sun_path[0] = '\0';  // the abstract namespace
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const auto sent = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(&address), length);
  ::close(fd);
  return sent == static_cast<ssize_t>(message.size());
#endif
}

}  // namespace weighlink::base
