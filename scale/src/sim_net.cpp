// POSIX socket adapter for the integrator tools (see sim_net.hpp).
#include "sim_net.hpp"

#include "weighlink/base/host_port.hpp"

#if !defined(_WIN32)

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>
#include <vector>

namespace weighlink::scale::detail {
namespace {

boost::system::error_code last_error() {
  return boost::system::error_code(errno, boost::system::system_category());
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

std::string format_address(const sockaddr_storage& addr) {
  char host[NI_MAXHOST] = {};
  char serv[NI_MAXSERV] = {};
  ::getnameinfo(reinterpret_cast<const sockaddr*>(&addr), sizeof addr, host, sizeof host, serv,
                sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
  unsigned port = 0;
  std::from_chars(serv, serv + std::strlen(serv), port);
  return base::format_host_port(host, static_cast<std::uint16_t>(port));
}

struct AddrInfo {
  addrinfo* list = nullptr;
  ~AddrInfo() {
    if (list) ::freeaddrinfo(list);
  }
};

boost::system::result<void> resolve(const std::string& host, std::uint16_t port, bool passive,
                                    AddrInfo& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  const std::string service = std::to_string(port);
  const int rc =
      ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &out.list);
  if (rc != 0) return make_error_code(boost::system::errc::address_not_available);
  return {};
}

// Resolves HOST:PORT and tries its addresses in turn: a socket of the address's family, handed to
// `use(fd, address)`, which readies it and returns no error when it is ready. The first socket
// ready, or the last error.
template <class Use>
boost::system::result<std::pair<Fd, const addrinfo*>> first_ready_socket(const std::string& host,
                                                                         std::uint16_t port,
                                                                         bool passive, AddrInfo& ai,
                                                                         Use use) {
  if (auto r = resolve(host, port, passive, ai); !r) return r.error();
  boost::system::error_code error = make_error_code(boost::system::errc::address_not_available);
  for (const addrinfo* a = ai.list; a; a = a->ai_next) {
    Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (fd.get() < 0) {
      error = last_error();
      continue;
    }
    error = use(fd, *a);
    if (!error) return std::pair<Fd, const addrinfo*>(std::move(fd), a);
  }
  return error;
}

class TcpSink final : public FrameSink {
 public:
  explicit TcpSink(Fd listener) : listener_(std::move(listener)) {}

  boost::system::result<void> broadcast(std::string_view bytes) override {
    accept_new();
    for (auto& c : clients_) send_to(c, bytes);
    drop_closed();
    return {};
  }

  boost::system::result<void> answer(
      const std::function<std::string(std::string& inbox)>& reply) override {
    accept_new();
    for (auto& c : clients_) {
      char buf[512];
      while (c.fd.get() >= 0) {
        const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
        if (n > 0) {
          c.inbox.append(buf, static_cast<std::size_t>(n));
          continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) c.fd.reset();
        break;
      }
      if (c.fd.get() < 0 || c.inbox.empty()) continue;
      const std::string out = answer_inbox(c.inbox, reply);
      if (!out.empty()) send_to(c, out);
    }
    drop_closed();
    return {};
  }

  int readers() const override { return static_cast<int>(clients_.size()); }

 private:
  struct Client {
    Fd fd;
    std::string inbox;
  };

  void accept_new() {
    while (true) {
      const int fd = ::accept(listener_.get(), nullptr, nullptr);
      if (fd < 0) return;
      set_nonblocking(fd);
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      clients_.push_back(Client{Fd(fd), {}});
    }
  }

  static void send_to(Client& c, std::string_view bytes) {
    if (c.fd.get() < 0) return;
    const ssize_t n = ::send(c.fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) c.fd.reset();
    // A short write drops the rest of the frame: the client is too slow, as on a real line.
  }

  void drop_closed() {
    std::erase_if(clients_, [](const Client& c) { return c.fd.get() < 0; });
  }

  Fd listener_;
  std::vector<Client> clients_;
};

class TcpClientSource final : public ByteSource {
 public:
  TcpClientSource(Fd fd, std::string peer) : fd_(std::move(fd)), peer_(std::move(peer)) {}

  boost::system::result<std::size_t> read(std::span<char> buffer,
                                          std::chrono::milliseconds timeout) override {
    pollfd p{fd_.get(), POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (rc < 0)
      return errno == EINTR ? boost::system::result<std::size_t>(std::size_t{0})
                            : boost::system::result<std::size_t>(last_error());
    if (rc == 0) return std::size_t{0};
    const ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), 0);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n == 0) return make_error_code(boost::system::errc::connection_reset);
    if (errno == EAGAIN || errno == EINTR) return std::size_t{0};
    return last_error();
  }

  boost::system::result<void> write(std::string_view bytes) override {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return last_error();
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
  }

  std::string describe() const override { return "tcp " + peer_; }

 private:
  Fd fd_;
  std::string peer_;
};

}  // namespace

boost::system::result<std::unique_ptr<FrameSink>> listen_tcp(const std::string& host,
                                                             std::uint16_t port,
                                                             std::string& bound) {
  AddrInfo ai;
  auto listening = first_ready_socket(
      host, port, /*passive=*/true, ai,
      [](const Fd& fd, const addrinfo& a) -> boost::system::error_code {
        const int one = 1;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd.get(), a.ai_addr, a.ai_addrlen) != 0 || ::listen(fd.get(), 16) != 0)
          return last_error();
        return {};
      });
  if (!listening) return listening.error();
  Fd fd = std::move(listening->first);
  set_nonblocking(fd.get());
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  bound = format_address(addr);
  return std::unique_ptr<FrameSink>(std::make_unique<TcpSink>(std::move(fd)));
}

boost::system::result<std::unique_ptr<ByteSource>> connect_tcp(const std::string& host,
                                                               std::uint16_t port,
                                                               std::chrono::milliseconds timeout) {
  AddrInfo ai;
  auto connected = first_ready_socket(
      host, port, /*passive=*/false, ai,
      [timeout](const Fd& fd, const addrinfo& a) -> boost::system::error_code {
        set_nonblocking(fd.get());
        if (::connect(fd.get(), a.ai_addr, a.ai_addrlen) == 0) return {};
        if (errno != EINPROGRESS) return last_error();
        pollfd p{fd.get(), POLLOUT, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0)
          return make_error_code(boost::system::errc::timed_out);
        int so_error = 0;
        socklen_t len = sizeof so_error;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
        return boost::system::error_code(so_error, boost::system::system_category());
      });
  if (!connected) return connected.error();
  auto& [fd, a] = *connected;
  sockaddr_storage addr{};
  std::memcpy(&addr, a->ai_addr, a->ai_addrlen);
  return std::unique_ptr<ByteSource>(
      std::make_unique<TcpClientSource>(std::move(fd), format_address(addr)));
}

}  // namespace weighlink::scale::detail

#endif  // !_WIN32
