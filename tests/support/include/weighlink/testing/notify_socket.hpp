#pragma once
// A datagram socket that receives systemd service notifications (sd_notify(3)) the way systemd
// does: bound to a path (or '@name' in the abstract namespace) that is given to the process under
// test as NOTIFY_SOCKET. Linux only.

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>

namespace weighlink::testing {

class NotifySocket {
 public:
  explicit NotifySocket(std::string name) : name_(std::move(name)) {
    sockaddr_un address{};
    if (name_.empty() || name_.size() >= sizeof(address.sun_path)) {
      throw std::invalid_argument("NotifySocket: bad name " + name_);
    }
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("NotifySocket: socket() failed");
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name_.data(), name_.size());
    if (name_[0] == '@') address.sun_path[0] = '\0';
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address),
               static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size())) != 0) {
      ::close(fd_);
      throw std::runtime_error("NotifySocket: cannot bind " + name_);
    }
  }
  ~NotifySocket() {
    ::close(fd_);
    if (name_[0] == '/') ::unlink(name_.c_str());
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // What to put in NOTIFY_SOCKET.
  [[nodiscard]] const std::string& name() const { return name_; }

  // The next datagram, or "" when none came within `timeout`.
  std::string next(std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return {};
    char buffer[1024];
    const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
  }

 private:
  std::string name_;
  int fd_ = -1;
};

}  // namespace weighlink::testing
