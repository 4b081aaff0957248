// The drill's /readyz probe: one HTTP/1.1 GET over a plain POSIX socket with a deadline on the
// whole exchange (connect, send, read to the close). The backend's HTTP endpoints are on
// loopback; no need for Beast here.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "drill_probes.hpp"

namespace weighlink::backend {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxAnswer = 64 * 1024;

class Socket {
 public:
  Socket() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  [[nodiscard]] int fd() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events` on `fd` until `deadline`; false on timeout or error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

HttpAnswer failed(std::string error) {
  HttpAnswer answer;
  answer.error = std::move(error);
  return answer;
}

}  // namespace

HttpAnswer http_get(const std::string& address, const std::string& target,
                    std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const auto colon = address.rfind(':');
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  unsigned port = 0;
  if (colon == std::string::npos ||
      std::from_chars(address.data() + colon + 1, address.data() + address.size(), port).ec !=
          std::errc() ||
      port == 0 || port > 65535 ||
      ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &peer.sin_addr) != 1) {
    return failed("not an IPv4 HOST:PORT: " + address);
  }
  peer.sin_port = htons(static_cast<std::uint16_t>(port));
  Socket socket;
  if (socket.fd() < 0) return failed(std::string("socket: ") + std::strerror(errno));
  if (::connect(socket.fd(), reinterpret_cast<const sockaddr*>(&peer), sizeof peer) != 0) {
    if (errno != EINPROGRESS) return failed(std::string("connect: ") + std::strerror(errno));
    if (!wait_for(socket.fd(), POLLOUT, deadline)) return failed("connect: timed out");
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) return failed(std::string("connect: ") + std::strerror(error));
  }
  const std::string request =
      "GET " + target + " HTTP/1.1\r\nHost: " + address +
      "\r\nConnection: close\r\nUser-Agent: weighlink-backend drill\r\n\r\n";
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n =
        ::send(socket.fd(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(socket.fd(), POLLOUT, deadline)) return failed("send: timed out");
    } else {
      return failed(std::string("send: ") + std::strerror(errno));
    }
  }
  std::string answer;
  char buffer[4096];
  while (answer.size() < kMaxAnswer) {
    const ssize_t n = ::recv(socket.fd(), buffer, sizeof buffer, 0);
    if (n > 0) {
      answer.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait_for(socket.fd(), POLLIN, deadline)) return failed("no complete answer in time");
    } else {
      return failed(std::string("recv: ") + std::strerror(errno));
    }
  }
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
  HttpAnswer result;
  if (!answer.starts_with("HTTP/1.") || answer.size() < 12 ||
      std::from_chars(answer.data() + 9, answer.data() + 12, result.status).ec != std::errc()) {
    return failed("not an HTTP answer: " + answer.substr(0, 40));
  }
  if (const auto body = answer.find("\r\n\r\n"); body != std::string::npos) {
    result.body = answer.substr(body + 4);
  }
  return result;
}

}  // namespace weighlink::backend
