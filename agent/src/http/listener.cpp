// The Beast server's listeners: binding, accepting (with the connection cap and the EMFILE
// reserve), refusing, the stall sweep.
#include "http/http_session.hpp"
#include "http/live_session.hpp"
#include "http/server_impl.hpp"
#include "http/transport.hpp"
#include "weighlink/base/host_port.hpp"

namespace weighlink::agent {

Server::Impl::~Impl() {
#ifndef _WIN32
  if (reserve_fd >= 0) ::close(reserve_fd);
#endif
}

void Server::Impl::open_reserve() {
#ifndef _WIN32
  if (reserve_fd < 0) reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
#endif
}

void Server::Impl::do_accept(Listener& listener) {
  listener.acceptor->async_accept(
      asio::make_strand(ioc),
      [self = shared_from_this(), &listener](beast::error_code ec, tcp::socket socket) {
        self->on_accept(listener, ec, std::move(socket));
      });
}

void Server::Impl::on_accept(Listener& listener, beast::error_code ec, tcp::socket socket) {
  if (stopped || ec == asio::error::operation_aborted) return;
  if (ec == asio::error::no_descriptors ||
      ec == boost::system::errc::too_many_files_open_in_system ||
      ec == asio::error::no_buffer_space || ec == asio::error::no_memory) {
    return on_exhausted(listener, ec);
  }
  if (ec) return do_accept(listener);  // this one connection failed (reset before accept)
  if (auto n = accept_pause.on_accepted()) {
    spdlog::info("accepting connections again ({} accept(s) had failed for lack of descriptors)",
                 *n);
  }
  // Small messages go out at once: with Nagle on, a reading after a ping/pong exchange waited
  // for the client's delayed ACK (20-40 ms stalls measured by bench_live).
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  const int key = listener.key;
  const auto admission = connections.admit(key);
  if (admission.kind == ConnectionTable::Admission::Kind::evict) {
    auto it = http_sessions.find(admission.evict);
    auto victim = it == http_sessions.end() ? nullptr : it->second.lock();
    if (victim) {
      victim->evict();
    } else {  // already on its way out: its slot goes now
      connections.remove(admission.evict);
      http_sessions.erase(admission.evict);
    }
  }
  if (admission.kind == ConnectionTable::Admission::Kind::refuse) {
    const auto id = detail::random_id();
    std::uint64_t suppressed = 0;
    if (refusal_log.allow(std::chrono::steady_clock::now(), &suppressed)) {
      spdlog::warn(
          "[{}] connection refused with 503: {} connections open on this port, all busy "
          "(limits.max_connections){}",
          id, connections.open(key),
          suppressed ? "; " + std::to_string(suppressed) + " more refused since the last line"
                     : "");
    }
    refuse(transport(listener, std::move(socket)),
           with_retry_after(
               error_response(503, "too_many_connections",
                              "the agent has " + std::to_string(connections.max()) +
                                  " connections open on this port, all busy; retry in a moment",
                              id)));
  } else {
    const auto slot_id = connections.add(key, std::chrono::steady_clock::now());
    auto session =
        std::make_shared<HttpSession>(transport(listener, std::move(socket)), shared_from_this(),
                                      listener.endpoint, ConnectionSlot(weak_from_this(), slot_id));
    http_sessions[slot_id] = session;
    session->run();
  }
  do_accept(listener);
}

// Out of descriptors: retrying at once would spin (the listening socket stays readable), so
// accepting pauses, with one log line per episode. At each pause the reserve descriptor is given
// up for a moment to answer every waiting connection 503 (one at a time: accept, read what it
// sent so the close is not a reset, answer, close), so nothing hangs in the backlog; connections
// already open keep working.
void Server::Impl::on_exhausted(Listener& listener, const beast::error_code& ec) {
  const auto id = detail::random_id();
  if (accept_pause.on_exhausted()) {
    spdlog::warn(
        "[{}] accept paused: {} ({} connections open); accepting again every {} ms, waiting "
        "connections get 503 until some close (raise LimitNOFILE or lower "
        "limits.max_connections)",
        id, ec.message(), total_connections(), limits.accept_pause.count());
  }
#ifndef _WIN32
  if (reserve_fd >= 0) {
    ::close(reserve_fd);
    reserve_fd = -1;
    std::ostringstream out;
    out << to_beast(with_retry_after(error_response(
                        503, "too_many_open_files",
                        "the agent has run out of file descriptors; retry in a moment", id)),
                    11, false);
    const std::string answer = out.str();
    for (int i = 0; i < 256; ++i) {
      tcp::socket socket(ioc);
      beast::error_code accept_ec;
      listener.acceptor->accept(socket, accept_ec);  // non-blocking: would_block when none waits
      if (accept_ec) break;
      beast::error_code io_ec;
      if (listener.tls) {  // an answer needs a TLS handshake, which must not block here
        socket.close(io_ec);
        continue;
      }
      socket.non_blocking(true, io_ec);
      std::array<char, 4096> scratch{};
      for (int reads = 0; reads < 16; ++reads) {
        if (socket.read_some(asio::buffer(scratch), io_ec) == 0 || io_ec) break;
      }
      asio::write(socket, asio::buffer(answer), io_ec);  // small: fits the send buffer
      socket.shutdown(tcp::socket::shutdown_both, io_ec);
      socket.close(io_ec);
    }
    open_reserve();
  }
#endif
  listener.pause->expires_after(limits.accept_pause);
  listener.pause->async_wait(
      [self = shared_from_this(), &listener](const boost::system::error_code& wait_ec) {
        if (wait_ec || self->stopped) return;
        self->do_accept(listener);
      });
}

namespace {

// A connection answered without reading its request (after the TLS handshake on a TLS port):
// write, end the connection (HttpTransport::shutdown), done.
class Refusal : public std::enable_shared_from_this<Refusal> {
 public:
  Refusal(std::unique_ptr<HttpTransport> stream, std::string bytes, std::function<void()> done)
      : stream_(std::move(stream)), bytes_(std::move(bytes)), done_(std::move(done)) {}
  ~Refusal() {
    if (done_) done_();
  }
  void run() {
    stream_->expires_after(kLingerTimeout);
    stream_->async_start([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->stream_->async_write_bytes(asio::buffer(self->bytes_),
                                       [self](beast::error_code ec, std::size_t) {
                                         if (!ec) self->stream_->shutdown(kLingerTimeout, self);
                                       });
    });
  }

 private:
  std::unique_ptr<HttpTransport> stream_;
  std::string bytes_;
  std::function<void()> done_;
};

}  // namespace

void Server::Impl::refuse(std::unique_ptr<HttpTransport> stream, const HttpResponse& res,
                          std::function<void()> done) {
  if (refusing >= kMaxRefusing) {
    stream->close();
    if (done) done();
    return;
  }
  std::ostringstream out;
  out << to_beast(res, 11, false);
  ++refusing;
  std::make_shared<Refusal>(std::move(stream), out.str(),
                            [weak = weak_from_this(), done = std::move(done)] {
                              if (auto self = weak.lock()) --self->refusing;
                              if (done) done();
                            })
      ->run();
}

std::unique_ptr<HttpTransport> Server::Impl::transport(const Listener& listener,
                                                       tcp::socket socket) const {
  if (listener.tls) {
    return std::make_unique<HttpTransportOn<TlsStream>>(std::move(socket), tls_context);
  }
  return std::make_unique<HttpTransportOn<beast::tcp_stream>>(std::move(socket), nullptr);
}

base::Expected<std::string> Server::Impl::bind(const std::string& host, std::uint16_t port,
                                               Endpoint endpoint, bool tls) {
  if (tls && !tls_context) {
    // A call out of order (set_tls_certificate() first).
    return base::Error{std::make_error_code(std::errc::operation_not_permitted),
                       "cannot listen with TLS on " + base::format_host_port(host, port) +
                           ": no certificate loaded"};
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) {
    return base::invalid_argument("listen address '" + host +
                                  "' is not an IP address (use 127.0.0.1 or ::1)");
  }
  const tcp::endpoint where(address, port);
  auto a = std::make_unique<tcp::acceptor>(ioc);
  a->open(where.protocol(), ec);
#ifdef _WIN32
  // Windows' SO_REUSEADDR lets a second program bind a port another one is listening on (both
  // then get connections): a TruConnect still running would silently share 3030. Exclusive use
  // makes the bind fail instead, as it does elsewhere.
  if (!ec) {
    a->set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_EXCLUSIVEADDRUSE>(true), ec);
  }
#else
  if (!ec) a->set_option(asio::socket_base::reuse_address(true), ec);
#endif
  if (!ec) a->bind(where, ec);
  if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
  // The synchronous accept of on_exhausted() must never block.
  if (!ec) a->non_blocking(true, ec);
  if (ec) {
    return base::Error{
        ec, "cannot listen on " + base::format_host_port(host, port) + ": " + ec.message() +
                (ec == asio::error::address_in_use
                     ? " (another program, or another weighlink-agent, uses the port; choose "
                       "another in the configuration)"
                     : "")};
  }
  const auto local = a->local_endpoint();
  auto bound = base::format_host_port(local.address().to_string(), local.port());
  open_reserve();
  auto listener = std::make_unique<Listener>();
  listener->acceptor = std::move(a);
  listener->endpoint = endpoint;
  listener->tls = tls;
  listener->key = static_cast<int>(listeners.size());
  listener->pause = std::make_unique<asio::steady_timer>(ioc);
  listeners.push_back(std::move(listener));
  do_accept(*listeners.back());
  if (listeners.size() == 1) sweep();
  return bound;
}

void Server::Impl::sweep() {
  sweep_timer.expires_after(kSweepEvery);
  sweep_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->stopped) return;
    const auto now = std::chrono::steady_clock::now();
    auto sessions = self->sessions;
    for (const auto& s : sessions) {
      if (s->stalled(now, self->options.write_stall)) {
        spdlog::warn("live client closed: it read nothing for {} ms (a stopped or stuck browser)",
                     self->options.write_stall.count());
        s->close();
      }
    }
    self->sweep();
  });
}

std::size_t Server::Impl::count(Endpoint endpoint) const {
  return static_cast<std::size_t>(
      std::count_if(sessions.begin(), sessions.end(),
                    [endpoint](const auto& s) { return s->endpoint() == endpoint; }));
}

Message Server::Impl::status_message() const {
  auto status = api.status();
  json::object msg{{"type", "status"}};
  for (auto& [k, v] : status) msg[k] = std::move(v);
  return std::make_shared<const std::string>(json::serialize(msg));
}

}  // namespace weighlink::agent
