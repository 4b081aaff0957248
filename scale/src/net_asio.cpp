// Boost.Asio adapter: TCP client (serial device servers such as USR-TCP232, ser2net) and UDP
// receiver. Asio rather than POSIX sockets because the agent also ships on Windows. The reader
// thread calls read() with a timeout, so each call runs a private io_context for at most that
// long (async op + run_for, cancelled on timeout): the socket never blocks stop().

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/write.hpp>
#include <set>

#include "weighlink/base/host_port.hpp"
#include "weighlink/scale/source.hpp"

namespace weighlink::scale {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

// Runs the io_context until the pending operation completes or `timeout` passes; on timeout,
// cancels it through `cancel` and lets the handler run (with operation_aborted).
template <class Cancel>
void run_with_timeout(asio::io_context& io, std::chrono::milliseconds timeout, Cancel cancel) {
  io.restart();
  io.run_for(timeout);
  if (!io.stopped()) {
    cancel();
    io.run();
  }
}

// How one async operation on a socket ended: its error and the bytes it moved.
struct Completion {
  error_code error = asio::error::would_block;
  std::size_t bytes = 0;
};

// Starts an operation with `start(handler)` and runs it for at most `timeout`; on timeout the
// socket's operations are cancelled, so the error is operation_aborted.
template <class Socket, class Start>
Completion complete_within(asio::io_context& io, Socket& socket, std::chrono::milliseconds timeout,
                           Start start) {
  Completion done;
  start([&done](const error_code& ec, std::size_t n) {
    done.error = ec;
    done.bytes = n;
  });
  run_with_timeout(io, timeout, [&socket] {
    error_code ignored;
    socket.cancel(ignored);
  });
  return done;
}

class TcpByteSource final : public ByteSource {
 public:
  TcpByteSource(std::unique_ptr<asio::io_context> io, asio::ip::tcp::socket socket,
                std::string description)
      : io_(std::move(io)), socket_(std::move(socket)), description_(std::move(description)) {}

  boost::system::result<std::size_t> read(std::span<char> buffer,
                                          std::chrono::milliseconds timeout) override {
    const auto [result, got] = complete_within(*io_, socket_, timeout, [&](auto handler) {
      socket_.async_read_some(asio::buffer(buffer.data(), buffer.size()), std::move(handler));
    });
    if (got > 0) return got;  // bytes that arrived with an error are still delivered
    if (result == asio::error::operation_aborted) return std::size_t{0};  // timeout
    if (result == asio::error::eof) {
      return make_error_code(boost::system::errc::connection_reset);  // peer closed: reconnect
    }
    if (result) return result;
    return std::size_t{0};
  }

  boost::system::result<void> write(std::string_view bytes) override {
    const error_code result =
        complete_within(*io_, socket_, std::chrono::seconds(2), [&](auto handler) {
          asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()), std::move(handler));
        }).error;
    if (result == asio::error::operation_aborted) {
      return make_error_code(boost::system::errc::timed_out);
    }
    if (result) return result;
    return {};
  }

  std::string describe() const override { return description_; }

 private:
  std::unique_ptr<asio::io_context> io_;
  asio::ip::tcp::socket socket_;
  std::string description_;
};

class UdpByteSource final : public ByteSource {
 public:
  UdpByteSource(std::unique_ptr<asio::io_context> io, asio::ip::udp::socket socket,
                std::optional<asio::ip::address> from, std::string description)
      : io_(std::move(io)),
        socket_(std::move(socket)),
        from_(std::move(from)),
        description_(std::move(description)) {}

  boost::system::result<std::size_t> read(std::span<char> buffer,
                                          std::chrono::milliseconds timeout) override {
    const auto [result, got] = complete_within(*io_, socket_, timeout, [&](auto handler) {
      socket_.async_receive_from(asio::buffer(buffer.data(), buffer.size()), sender_,
                                 std::move(handler));
    });
    if (got > 0) {
      if (!accepted(sender_)) return std::size_t{0};
      reply_to_ = sender_;
      return got;
    }
    // A datagram socket has no connection to lose; ICMP "port unreachable" echoes from our own
    // replies (connection_refused on some systems) are not a failure of the scale either.
    if (!result || result == asio::error::operation_aborted ||
        result == asio::error::connection_refused || result == asio::error::message_size) {
      return std::size_t{0};
    }
    return result;
  }

  // Polled indicators over UDP: the request goes to the sender of the last datagram taken.
  boost::system::result<void> write(std::string_view bytes) override {
    if (!reply_to_) return {};  // nobody to ask yet; the next poll will try again
    error_code ec;
    socket_.send_to(asio::buffer(bytes.data(), bytes.size()), *reply_to_, 0, ec);
    if (ec) return ec;
    return {};
  }

  std::string describe() const override { return description_; }

 private:
  // Datagrams from anyone but the configured sender are dropped and counted: one log line per
  // new sender address (up to kMaxSenders of them, then one line a minute), never one per
  // datagram, so a flood cannot fill the log.
  bool accepted(const asio::ip::udp::endpoint& sender) {
    if (!from_ || sender.address() == *from_) return true;
    ++dropped_;
    const auto now = std::chrono::steady_clock::now();
    const bool is_new = senders_.size() < kMaxSenders && senders_.insert(sender.address()).second;
    if (is_new || (senders_.size() >= kMaxSenders && now - last_overflow_log_ > kOverflowEvery)) {
      if (!is_new) last_overflow_log_ = now;
      spdlog::warn(
          "{}: dropped a datagram from {}, not the configured sender {} ({} dropped so far); "
          "further ones from it are counted, not logged",
          description_, sender.address().to_string(), from_->to_string(), dropped_);
    }
    return false;
  }

  static constexpr std::size_t kMaxSenders = 64;
  static constexpr auto kOverflowEvery = std::chrono::minutes(1);
  std::unique_ptr<asio::io_context> io_;
  asio::ip::udp::socket socket_;
  std::optional<asio::ip::address> from_;
  asio::ip::udp::endpoint sender_;
  std::optional<asio::ip::udp::endpoint> reply_to_;
  std::set<asio::ip::address> senders_;
  std::uint64_t dropped_ = 0;
  std::chrono::steady_clock::time_point last_overflow_log_{};
  std::string description_;
};

}  // namespace

boost::system::result<std::unique_ptr<ByteSource>> open_tcp(
    const TcpSource& source, std::chrono::milliseconds connect_timeout) {
  auto io = std::make_unique<asio::io_context>(1);
  asio::ip::tcp::resolver resolver(*io);
  asio::ip::tcp::socket socket(*io);
  error_code result = asio::error::would_block;
  bool resolved = false;
  // Resolving and connecting share one deadline: a site's DNS can hang as well as a device.
  resolver.async_resolve(
      source.host, std::to_string(source.port),
      [&](const error_code& ec, const asio::ip::tcp::resolver::results_type& endpoints) {
        if (ec) {
          result = ec;
          return;
        }
        resolved = true;
        asio::async_connect(
            socket, endpoints,
            [&](const error_code& cec, const asio::ip::tcp::endpoint&) { result = cec; });
      });
  run_with_timeout(*io, connect_timeout, [&] {
    resolver.cancel();
    error_code ignored;
    socket.close(ignored);
  });
  if (result == asio::error::operation_aborted ||
      (result == asio::error::bad_descriptor && resolved)) {
    return make_error_code(boost::system::errc::timed_out);
  }
  if (result) return result;
  error_code ignored;
  // A device server that reboots leaves a half-open connection; keepalive (plus the reader's
  // silence limit) finds it.
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  std::string description = "tcp " + base::format_host_port(source.host, source.port);
  return std::unique_ptr<ByteSource>(
      std::make_unique<TcpByteSource>(std::move(io), std::move(socket), std::move(description)));
}

boost::system::result<std::unique_ptr<ByteSource>> open_udp(const UdpSource& source) {
  auto io = std::make_unique<asio::io_context>(1);
  error_code ec;
  const auto address = asio::ip::make_address(source.host, ec);
  if (ec) return ec;
  std::optional<asio::ip::address> from;
  if (!source.from.empty()) {
    from = asio::ip::make_address(source.from, ec);
    if (ec) return ec;
    // An IPv4 sender reaches an IPv6 socket as ::ffff:a.b.c.d.
    if (from->is_v4() && address.is_v6()) {
      from = asio::ip::make_address_v6(asio::ip::v4_mapped, from->to_v4());
    }
  }
  asio::ip::udp::socket socket(*io);
  const asio::ip::udp::endpoint endpoint(address, source.port);
  socket.open(endpoint.protocol(), ec);
  if (ec) return ec;
  // A restarted agent must be able to bind again at once.
  socket.set_option(asio::socket_base::reuse_address(true), ec);
  socket.bind(endpoint, ec);
  if (ec) return ec;
  std::string description = "udp " + base::format_host_port(source.host, source.port) +
                            (source.from.empty() ? "" : " from " + source.from);
  return std::unique_ptr<ByteSource>(std::make_unique<UdpByteSource>(
      std::move(io), std::move(socket), std::move(from), std::move(description)));
}

}  // namespace weighlink::scale
