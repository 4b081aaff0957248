#pragma once
// The Beast server's shared state (Server::Impl) and what its parts share: limits, the
// connection slot and body reservation every connection holds. Internal to http/.
// Threading: the io thread; each connection's handlers on its strand.
#include <spdlog/spdlog.h>

#ifndef _WIN32
#include <fcntl.h>
#include <unistd.h>
#endif

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <deque>
#include <map>
#include <set>
#include <sstream>

#include "random_id.hpp"
#include "weighlink/agent/cors.hpp"
#include "weighlink/agent/limits.hpp"
#include "weighlink/agent/origins.hpp"
#include "weighlink/agent/server.hpp"
#include "weighlink/base/log_text.hpp"
#include "weighlink/record/exact_json.hpp"

namespace weighlink::agent {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

inline constexpr std::size_t kHeaderLimit = std::size_t{16} * 1024;
// Bytes read ahead of the parser per connection (a header fits, with room for a pipelined one).
inline constexpr std::size_t kReadBufferLimit = std::size_t{64} * 1024;
inline constexpr auto kReadTimeout = std::chrono::seconds(30);
// After the last answer on a connection: how long its remaining request bytes are read and
// dropped, so that closing does not reset the connection before the client read the answer.
inline constexpr auto kLingerTimeout = std::chrono::seconds(2);
// Connections being answered 503 at the connection cap, at most; beyond, they are just closed.
inline constexpr std::size_t kMaxRefusing = 64;
inline constexpr auto kSweepEvery = std::chrono::seconds(1);
inline constexpr std::size_t kLiveSendBuffer = std::size_t{32} * 1024;

using Message = std::shared_ptr<const std::string>;
using Request = http::request<http::string_body>;
using RequestParser = http::request_parser<http::string_body>;
using Response = http::response<http::string_body>;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using IoHandler = std::function<void(beast::error_code, std::size_t)>;
using DoneHandler = std::function<void(beast::error_code)>;

// What a listening socket serves.
enum class Endpoint {
  native,          // the local API and GET /v1/live
  truconnect_ws,   // TruConnect's socket protocol, on any path
  truconnect_http  // TruConnect's REST API under /api/v1
};

class LiveSession;
class HttpSession;
class HttpTransport;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& ioc, Api& api, LiveOptions options, ServerLimits limits)
      : ioc(ioc),
        api(api),
        options(options),
        limits(limits),
        sweep_timer(ioc),
        connections(limits.max_connections),
        body_budget(limits.max_body_in_flight) {}
  ~Impl();

  asio::io_context& ioc;
  Api& api;
  LiveOptions options;
  ServerLimits limits;
  TruConnect* truconnect = nullptr;
  struct Listener {
    std::unique_ptr<tcp::acceptor> acceptor;
    Endpoint endpoint;
    bool tls = false;                           // TLS on this port (tls_context)
    int key = 0;                                // its place in `connections`
    std::unique_ptr<asio::steady_timer> pause;  // accepting again after EMFILE
  };
  std::vector<std::unique_ptr<Listener>> listeners;
  std::set<std::shared_ptr<LiveSession>> sessions;
  std::map<std::string, Message> latest;  // latest native reading message per scale
  asio::steady_timer sweep_timer;
  bool stopped = false;
  // The certificate of the TLS listeners; replaced (not changed) on renewal, so a connection keeps
  // the context it started with and new connections get the new one.
  std::shared_ptr<ssl::context> tls_context;

  // Resources (docs/security.md, "Resources").
  ConnectionTable connections;
  std::map<ConnectionTable::Id, std::weak_ptr<HttpSession>> http_sessions;  // for eviction
  BodyBudget body_budget;
  AcceptPause accept_pause;
  std::size_t refusing = 0;
  int reserve_fd = -1;  // POSIX: closed on EMFILE to accept one connection and answer it 503
  LogLimiter refusal_log{std::chrono::seconds(10), 1};
  LogLimiter error_log{std::chrono::seconds(10), 20};

  // Listens on host:port: "HOST:PORT" with the real port, or the Error naming the address.
  [[nodiscard]] base::Expected<std::string> bind(const std::string& host, std::uint16_t port,
                                                 Endpoint endpoint, bool tls);
  void do_accept(Listener& listener);
  void on_accept(Listener& listener, beast::error_code ec, tcp::socket socket);
  void on_exhausted(Listener& listener, const beast::error_code& ec);
  // Answers `res` on `stream` (after the TLS handshake on a TLS port) and closes it, without
  // reading a request; `done` runs at the end.
  void refuse(std::unique_ptr<HttpTransport> stream, const HttpResponse& res,
              std::function<void()> done = {});
  // The stream of a connection accepted on `listener`.
  std::unique_ptr<HttpTransport> transport(const Listener& listener, tcp::socket socket) const;
  void open_reserve();
  void sweep();
  std::size_t count(Endpoint endpoint) const;
  std::size_t total_connections() const {
    std::size_t n = 0;
    for (const auto& l : listeners) n += connections.open(l->key);
    return n;
  }
  Message status_message() const;
};

// A connection's place in Server::Impl::connections, given back when it ends (an HTTP session
// that upgrades hands it to its live session).
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(std::weak_ptr<Server::Impl> server, ConnectionTable::Id id)
      : server_(std::move(server)), id_(id) {}
  ConnectionSlot(ConnectionSlot&& o) noexcept
      : server_(std::move(o.server_)), id_(std::exchange(o.id_, 0)) {}
  ConnectionSlot& operator=(ConnectionSlot&& o) noexcept {
    if (this != &o) {
      reset();
      server_ = std::move(o.server_);
      id_ = std::exchange(o.id_, 0);
    }
    return *this;
  }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot() { reset(); }

  void busy(bool b) {
    if (auto s = server_.lock(); s && id_ != 0) {
      s->connections.set_busy(id_, b, std::chrono::steady_clock::now());
    }
  }
  void reset() {
    if (id_ == 0) return;
    if (auto s = server_.lock()) {
      s->connections.remove(id_);
      s->http_sessions.erase(id_);
    }
    id_ = 0;
  }
  [[nodiscard]] ConnectionTable::Id id() const { return id_; }

 private:
  std::weak_ptr<Server::Impl> server_;
  ConnectionTable::Id id_ = 0;
};

// Request-body bytes reserved in Server::Impl::body_budget, given back when released.
class BodyReservation {
 public:
  BodyReservation() = default;
  BodyReservation(const BodyReservation&) = delete;
  BodyReservation& operator=(const BodyReservation&) = delete;
  ~BodyReservation() { release(); }
  [[nodiscard]] bool reserve(const std::shared_ptr<Server::Impl>& server, std::size_t bytes) {
    release();
    if (!server->body_budget.reserve(bytes)) return false;
    server_ = server;
    bytes_ = bytes;
    return true;
  }
  void release() {
    if (auto s = server_.lock()) s->body_budget.release(bytes_);
    server_.reset();
    bytes_ = 0;
  }

 private:
  std::weak_ptr<Server::Impl> server_;
  std::size_t bytes_ = 0;
};

inline HttpResponse with_retry_after(HttpResponse r) {
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

// The correlation id an error answer carries (Api::refuse makes its own).
inline std::string correlation_of(const HttpResponse& r) {
  for (const auto& [k, v] : r.headers) {
    if (k == "X-Correlation-Id") return v;
  }
  return "-";
}

}  // namespace weighlink::agent
