// Boost.Beast adapter. All Beast templates are instantiated here, in one translation unit, to keep
// build times down.
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
#include "weighlink/base/host_port.hpp"
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

namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;
// Bytes read ahead of the parser per connection (a header fits, with room for a pipelined one).
constexpr std::size_t kReadBufferLimit = 64 * 1024;
constexpr auto kReadTimeout = std::chrono::seconds(30);
// After the last answer on a connection: how long its remaining request bytes are read and
// dropped, so that closing does not reset the connection before the client read the answer.
constexpr auto kLingerTimeout = std::chrono::seconds(2);
// Connections being answered 503 at the connection cap, at most; beyond, they are just closed.
constexpr std::size_t kMaxRefusing = 64;
constexpr auto kSweepEvery = std::chrono::seconds(1);
constexpr std::size_t kLiveSendBuffer = 32 * 1024;

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

}  // namespace

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

  bool bind(const std::string& host, std::uint16_t port, Endpoint endpoint, bool tls,
            std::string* bound, std::string* error);
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

namespace {

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

HttpResponse with_retry_after(HttpResponse r) {
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

// The correlation id an error answer carries (Api::refuse makes its own).
std::string correlation_of(const HttpResponse& r) {
  for (const auto& [k, v] : r.headers) {
    if (k == "X-Correlation-Id") return v;
  }
  return "-";
}

}  // namespace

// The stream under a connection, plain TCP or TLS: the sessions are written once, against these
// two interfaces, and the listener picks the implementation (docs/decisions/0006-local-tls.md).
// Handlers run on the connection's strand, like Beast's own.

// A WebSocket connection (the live socket, TruConnect's socket).
class LiveTransport {
 public:
  virtual ~LiveTransport() = default;
  virtual void configure(const websocket::stream_base::timeout& timeout,
                         std::size_t read_message_max) = 0;
  virtual void async_accept(const Request& req, DoneHandler handler) = 0;
  virtual void async_read(beast::flat_buffer& buffer, IoHandler handler) = 0;
  virtual void async_write_text(asio::const_buffer text, IoHandler handler) = 0;
  virtual void async_close(const websocket::close_reason& reason, DoneHandler handler) = 0;
  // Closes the TCP socket at once (no closing handshake).
  virtual void close_socket() = 0;
};

template <class Next>  // beast::tcp_stream or TlsStream
class LiveTransportOn final : public LiveTransport {
 public:
  // `keep` lives as long as the stream (the TLS context it uses).
  LiveTransportOn(Next&& next, std::shared_ptr<void> keep)
      : keep_(std::move(keep)), ws_(std::move(next)) {}
  void configure(const websocket::stream_base::timeout& timeout,
                 std::size_t read_message_max) override {
    ws_.set_option(timeout);
    ws_.read_message_max(read_message_max);
    // A small kernel send buffer keeps latest-wins meaningful: a slow client's backlog of stale
    // readings is at most this much, not the megabytes TCP autotuning would allow, so what it
    // does receive is recent.
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(
        asio::socket_base::send_buffer_size(static_cast<int>(kLiveSendBuffer)), ignored);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "weighlink-agent"); }));
  }
  void async_accept(const Request& req, DoneHandler handler) override {
    ws_.async_accept(req, std::move(handler));
  }
  void async_read(beast::flat_buffer& buffer, IoHandler handler) override {
    ws_.async_read(buffer, std::move(handler));
  }
  void async_write_text(asio::const_buffer text, IoHandler handler) override {
    ws_.text(true);
    ws_.async_write(text, std::move(handler));
  }
  void async_close(const websocket::close_reason& reason, DoneHandler handler) override {
    ws_.async_close(reason, std::move(handler));
  }
  void close_socket() override {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

 private:
  std::shared_ptr<void> keep_;
  websocket::stream<Next> ws_;
};

// An HTTP connection, until it upgrades to a WebSocket.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // The TLS handshake (bounded by the expiry set before); a plain connection is ready at once.
  virtual void async_start(DoneHandler handler) = 0;
  virtual void expires_after(std::chrono::steady_clock::duration d) = 0;
  virtual void expires_never() = 0;
  virtual void async_read_header(beast::flat_buffer& buffer, RequestParser& parser,
                                 IoHandler handler) = 0;
  virtual void async_read(beast::flat_buffer& buffer, RequestParser& parser, IoHandler handler) = 0;
  virtual void async_write(Response& res, IoHandler handler) = 0;
  virtual void async_write_bytes(asio::const_buffer bytes, IoHandler handler) = 0;
  // After the last answer: plain sends FIN, then reads and drops what the client still sends
  // until it closes or `linger` passes, so the close does not reset the connection under its
  // answer; TLS sends close_notify and waits as long for the client's. `owner` is kept alive
  // meanwhile.
  virtual void shutdown(std::chrono::steady_clock::duration linger,
                        std::shared_ptr<void> owner) = 0;
  virtual void close() = 0;
  // The stream, moved into a WebSocket stream (the upgrade).
  virtual std::unique_ptr<LiveTransport> into_live() = 0;
  // TLS: the page that connected is served over https, and is told the wss/https addresses.
  [[nodiscard]] virtual bool secure() const = 0;
};

template <class Stream>  // beast::tcp_stream or TlsStream
class HttpTransportOn final : public HttpTransport {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  [[nodiscard]] bool secure() const override { return kTls; }
  // `context`: the TLS context (null for plain), kept as long as the stream that uses it.
  HttpTransportOn(tcp::socket socket, std::shared_ptr<ssl::context> context)
      : context_(std::move(context)), stream_(make_stream(std::move(socket), context_.get())) {}
  void async_start(DoneHandler handler) override {
    if constexpr (kTls) {
      stream_.async_handshake(ssl::stream_base::server, std::move(handler));
    } else {
      handler({});
    }
  }
  void expires_after(std::chrono::steady_clock::duration d) override {
    beast::get_lowest_layer(stream_).expires_after(d);
  }
  void expires_never() override { beast::get_lowest_layer(stream_).expires_never(); }
  void async_read_header(beast::flat_buffer& buffer, RequestParser& parser,
                         IoHandler handler) override {
    http::async_read_header(stream_, buffer, parser, std::move(handler));
  }
  void async_read(beast::flat_buffer& buffer, RequestParser& parser, IoHandler handler) override {
    http::async_read(stream_, buffer, parser, std::move(handler));
  }
  void async_write(Response& res, IoHandler handler) override {
    http::async_write(stream_, res, std::move(handler));
  }
  void async_write_bytes(asio::const_buffer bytes, IoHandler handler) override {
    asio::async_write(stream_, bytes, std::move(handler));
  }
  void shutdown(std::chrono::steady_clock::duration linger, std::shared_ptr<void> owner) override {
    if constexpr (kTls) {
      expires_after(linger);
      stream_.async_shutdown([owner = std::move(owner)](beast::error_code) {});
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return;
      expires_after(linger);
      drain(std::move(owner));
    }
  }
  void close() override {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().close(ec);
  }
  std::unique_ptr<LiveTransport> into_live() override {
    return std::make_unique<LiveTransportOn<Stream>>(std::move(stream_), context_);
  }

 private:
  static Stream make_stream(tcp::socket socket, ssl::context* context) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *context);
    } else {
      return Stream(std::move(socket));
    }
  }
  void drain(std::shared_ptr<void> owner) {
    stream_.async_read_some(asio::buffer(drain_),
                            [this, owner = std::move(owner)](beast::error_code ec, std::size_t) {
                              if (!ec) drain(owner);
                            });
  }
  std::shared_ptr<ssl::context> context_;
  Stream stream_;
  std::array<char, 4096> drain_{};
};

// One WebSocket client: GET /v1/live, or a TruConnect socket client. Outgoing messages are slots,
// not a queue: a new reading of a scale replaces the unsent one, so memory per client is bounded
// and a slow client only skips readings.
class LiveSession : public std::enable_shared_from_this<LiveSession> {
 public:
  LiveSession(std::unique_ptr<LiveTransport> ws, std::weak_ptr<Server::Impl> server,
              Endpoint endpoint, ConnectionSlot slot)
      : ws_(std::move(ws)),
        server_(std::move(server)),
        endpoint_(endpoint),
        slot_(std::move(slot)) {
    slot_.busy(true);  // a live socket is never idle: it is not closed to make room
  }

  template <class Body>
  void run(http::request<Body> req, const LiveOptions& options) {
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(10);
    // Beast pings at half the idle timeout when the peer sent nothing, and closes at the full
    // timeout: a client that answers pings (every browser does) is never cut.
    timeout.idle_timeout = 2 * options.ping_interval;
    timeout.keep_alive_pings = true;
    // Messages up to the configured limit are read; a larger one is read whole (up to a hard
    // cap) so that the close frame 1009 goes out through a clean closing handshake: closing with
    // its bytes unread would reset the connection and the browser would see 1006 instead.
    max_message_ = options.max_message;
    ws_->configure(timeout, std::max<std::size_t>(4 * options.max_message, 1 << 20));
    ws_->async_accept(req, beast::bind_front_handler(&LiveSession::on_accept, shared_from_this()));
  }

  [[nodiscard]] Endpoint endpoint() const { return endpoint_; }
  [[nodiscard]] const TruConnect::Client& truconnect_client() const { return client_; }
  // The browser origin that opened the socket (normalized; empty: none), for closing the sockets
  // of an origin the operator revokes.
  void set_origin(std::string origin) { origin_ = std::move(origin); }
  // Connected over TLS (TruConnect's `connected` names the wss/https addresses then).
  void set_secure(bool secure) { client_.secure = secure; }
  [[nodiscard]] const std::string& origin() const { return origin_; }

  void send_reading(const std::string& scale, Message msg) {
    if (!subscribed(scale)) return;
    readings_[scale] = std::move(msg);
    write_next();
  }
  void send_status(Message msg) {
    status_ = std::move(msg);
    write_next();
  }
  void send_text(std::string text) {
    // Answers to the client's own messages: few, since the read side paces them, and bounded.
    if (control_.size() >= 64) return close();
    control_.push_back(std::make_shared<const std::string>(std::move(text)));
    write_next();
  }
  void close() { ws_->close_socket(); }
  // True when a message has been waiting in the socket for longer than `limit`.
  [[nodiscard]] bool stalled(std::chrono::steady_clock::time_point now,
                             std::chrono::milliseconds limit) const {
    return writing_ && now - write_started_ > limit;
  }

 private:
  bool subscribed(const std::string& scale) const {
    return subscription_.empty() || subscription_.contains(scale);
  }

  void on_accept(beast::error_code ec) {
    if (ec) return finish();
    accepted_ = true;
    auto server = server_.lock();
    if (!server) return;
    if (endpoint_ == Endpoint::truconnect_ws) {
      tc_open_ = true;
      send_text(server->truconnect->open(client_));
      do_read();
      return;
    }
    const auto& ctx = server->api.context();
    json::array ids;
    for (const auto& s : ctx.live->scales()) ids.push_back(json::string(s.id));
    send_control({{"type", "hello"},
                  {"protocol", 1},
                  {"station_id", ctx.station_id},
                  {"agent_version", ctx.agent_version},
                  {"scales", std::move(ids)},
                  {"ping_interval_ms", server->options.ping_interval.count()}});
    status_ = server->status_message();
    for (const auto& [scale, msg] : server->latest) readings_[scale] = msg;
    write_next();
    do_read();
  }

  void do_read() {
    ws_->async_read(in_, beast::bind_front_handler(&LiveSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return finish();
    if (in_.size() > max_message_) {
      in_.consume(in_.size());
      spdlog::warn("live client closed: a message over {} bytes", max_message_);
      ws_->async_close(websocket::close_reason(websocket::close_code::too_big, "message too big"),
                       [self = shared_from_this()](beast::error_code) { self->finish(); });
      return;
    }
    const std::string text = beast::buffers_to_string(in_.data());
    in_.consume(in_.size());
    if (endpoint_ == Endpoint::truconnect_ws) {
      auto server = server_.lock();
      if (!server) return;
      // Replies may come later (captures wait for a stable reading), after the client left.
      server->truconnect->on_message(client_, text, [weak = weak_from_this()](std::string reply) {
        if (auto self = weak.lock()) self->send_text(std::move(reply));
      });
    } else {
      handle_client_message(text);
    }
    do_read();
  }

  void handle_client_message(const std::string& text) {
    // Read exactly: a ping's id comes back as the client wrote it (sync/exact_json.hpp).
    auto parsed = sync::parse_exact(text);
    auto& v = parsed.value;
    const json::object* o = (!parsed.refusal && sync::is_json_object(v)) ? &v.as_object() : nullptr;
    const json::value* type = o ? o->if_contains("type") : nullptr;
    if (!type || !type->is_string()) {
      return send_control(
          {{"type", "error"},
           {"error", parsed.refusal ? parsed.refusal->code : "invalid_message"},
           {"message", parsed.refusal ? parsed.refusal->message
                                      : "send a JSON object with a \"type\" field"}});
    }
    if (type->as_string() == "ping") {
      json::object pong{{"type", "pong"}};
      if (const auto* id = o->if_contains("id")) pong["id"] = *id;
      return send_control(std::move(pong));
    }
    if (type->as_string() == "subscribe") {
      const auto* list = o->if_contains("scales");
      bool valid = list && list->is_array();
      if (valid) {
        for (const auto& s : list->as_array()) valid = valid && s.is_string();
      }
      if (!valid) {
        return send_control({{"type", "error"},
                             {"error", "invalid_subscribe"},
                             {"message", "\"scales\" must be a list of scale ids ([] for all)"}});
      }
      auto server = server_.lock();
      if (!server) return;
      json::array unknown;
      for (const auto& s : list->as_array()) {
        if (!server->api.context().live->find(std::string(s.as_string()))) unknown.push_back(s);
      }
      if (!unknown.empty()) {
        return send_control({{"type", "error"},
                             {"error", "unknown_scale"},
                             {"message", "no such scale on this agent"},
                             {"scales", std::move(unknown)}});
      }
      subscription_.clear();
      for (const auto& s : list->as_array()) subscription_.insert(std::string(s.as_string()));
      readings_.clear();
      for (const auto& [scale, msg] : server->latest) {
        if (subscribed(scale)) readings_[scale] = msg;
      }
      send_control({{"type", "subscribed"}, {"scales", list->as_array()}});
      return;
    }
    send_control({{"type", "error"},
                  {"error", "unknown_type"},
                  {"message", "unknown message type; use subscribe or ping"}});
  }

  void send_control(json::object o) { send_text(sync::serialize_exact(o)); }

  void write_next() {
    // Before the handshake completes the stream must not be written: readings published
    // meanwhile wait in their slots.
    if (!accepted_ || writing_ || closed_) return;
    Message next;
    if (!control_.empty()) {
      next = std::move(control_.front());
      control_.pop_front();
    } else if (status_) {
      next = std::move(status_);
      status_.reset();
    } else if (!readings_.empty()) {
      auto it = readings_.begin();
      next = std::move(it->second);
      readings_.erase(it);
    } else {
      return;
    }
    writing_ = true;
    write_started_ = std::chrono::steady_clock::now();
    current_ = std::move(next);
    ws_->async_write_text(asio::buffer(*current_),
                          beast::bind_front_handler(&LiveSession::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    current_.reset();
    if (ec) return finish();
    write_next();
  }

  void finish() {
    if (closed_) return;
    closed_ = true;
    slot_.reset();
    if (auto server = server_.lock()) {
      if (tc_open_ && server->truconnect) server->truconnect->close(client_);
      server->sessions.erase(shared_from_this());
    }
  }

  std::unique_ptr<LiveTransport> ws_;
  std::weak_ptr<Server::Impl> server_;
  Endpoint endpoint_;
  ConnectionSlot slot_;
  TruConnect::Client client_;
  std::string origin_;
  beast::flat_buffer in_;
  std::deque<Message> control_;
  Message status_;
  std::map<std::string, Message> readings_;
  Message current_;
  std::set<std::string> subscription_;  // empty: every scale
  std::chrono::steady_clock::time_point write_started_{};
  std::size_t max_message_ = 0;
  bool accepted_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool tc_open_ = false;
};

namespace {

HttpRequest to_request(const http::request<http::string_body>& req) {
  HttpRequest out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  for (const auto& field : req) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(field.value());
  }
  out.body = req.body();
  return out;
}

http::response<http::string_body> to_beast(const HttpResponse& r, unsigned version,
                                           bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "weighlink-agent");
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  for (const auto& [k, v] : r.headers) res.set(k, v);
  res.body() = r.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

}  // namespace

// One HTTP connection: read a request, answer it through the Api, repeat; upgrade to the live
// socket on GET /v1/live. The header is read first (a limit and a timeout), then the body only
// once its size fits what is left of the body budget.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(std::unique_ptr<HttpTransport> stream, std::shared_ptr<Server::Impl> server,
              Endpoint endpoint, ConnectionSlot slot)
      : stream_(std::move(stream)),
        buffer_(kReadBufferLimit),
        server_(std::move(server)),
        endpoint_(endpoint),
        slot_(std::move(slot)) {}

  void run() {
    stream_->expires_after(kReadTimeout);  // the TLS handshake's
    stream_->async_start([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->do_read();
    });
  }

  // Closed to make room for a new connection (it was idle: no request under way).
  void evict() {
    slot_.reset();
    stream_->close();
  }

 private:
  void do_read() {
    body_.release();
    slot_.busy(false);
    parser_.emplace();
    parser_->body_limit(server_->limits.max_request_body);
    parser_->header_limit(kHeaderLimit);
    stream_->expires_after(kReadTimeout);
    stream_->async_read_header(
        buffer_, *parser_, beast::bind_front_handler(&HttpSession::on_header, shared_from_this()));
  }

  // Errors of the request's framing, answered here (the Api never sees the request).
  bool framing_error(const beast::error_code& ec) {
    if (ec == http::error::body_limit) {
      fail(413, "body_too_large",
           "request bodies are limited to " + std::to_string(server_->limits.max_request_body) +
               " bytes (limits.max_request_body_bytes)");
      return true;
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      fail(431, "headers_too_large",
           "request headers are limited to " + std::to_string(kHeaderLimit / 1024) + " KiB");
      return true;
    }
    if (ec && ec.category() == http::make_error_code(http::error::bad_field).category() &&
        ec != http::error::partial_message && ec != http::error::end_of_stream) {
      // A malformed request (a control character in a header, a bad request line): say so.
      fail(400, "bad_request", "the request is not valid HTTP/1.1 (" + ec.message() + ")");
      return true;
    }
    return false;
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return shutdown();
    if (framing_error(ec)) return;
    if (ec) return;  // timeouts and resets end the connection
    slot_.busy(true);
    // The body's bytes are reserved before any is read: its Content-Length, or the per-request
    // limit when it comes chunked.
    std::size_t body_bytes = 0;
    if (const auto length = parser_->content_length()) {
      body_bytes = static_cast<std::size_t>(*length);
    } else if (parser_->chunked()) {
      body_bytes = server_->limits.max_request_body;
    }
    if (body_bytes > 0 && !body_.reserve(server_, body_bytes)) {
      return fail(503, "server_busy",
                  "the agent is receiving too many request bodies at once (limits."
                  "max_body_bytes_in_flight = " +
                      std::to_string(server_->limits.max_body_in_flight) +
                      " bytes); retry in a moment",
                  true);
    }
    stream_->async_read(buffer_, *parser_,
                        beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (framing_error(ec)) return;
    if (ec) return;  // timeouts and resets end the connection
    auto req = parser_->release();
    auto request = to_request(req);
    request.secure = stream_->secure();
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    if (websocket::is_upgrade(req)) return upgrade(std::move(req), request);
    if (endpoint_ == Endpoint::truconnect_ws) {
      return fail(426, "upgrade_required",
                  "this port speaks TruConnect's WebSocket protocol; the REST API is on the "
                  "other compatibility port");
    }
    if (endpoint_ == Endpoint::truconnect_http)
      return truconnect_http(request, version, keep_alive);
    server_->api.handle(request, [self = shared_from_this(), version, keep_alive](HttpResponse r) {
      self->send(r, version, keep_alive);
    });
  }

  // An error answer of this layer: a correlation id of its own, in the body, the
  // X-Correlation-Id header and the log line (rate-limited: these come in floods); then close.
  void fail(int status, const std::string& code, const std::string& message,
            bool retry_after = false) {
    const auto id = detail::random_id();
    std::uint64_t suppressed = 0;
    if (server_->error_log.allow(std::chrono::steady_clock::now(), &suppressed)) {
      spdlog::warn("[{}] {} {}: {}{}", id, status, code, message,
                   suppressed ? " (" + std::to_string(suppressed) + " more not logged)" : "");
    }
    auto r = error_response(status, code, message, id);
    if (retry_after) r = with_retry_after(std::move(r));
    send(r, parser_ && parser_->is_header_done() ? parser_->get().version() : 11, false);
  }

  void upgrade(http::request<http::string_body> req, const HttpRequest& request) {
    const char* surface = endpoint_ == Endpoint::native          ? "live"
                          : endpoint_ == Endpoint::truconnect_ws ? "truconnect_ws"
                                                                 : "truconnect_http";
    if (auto refusal = server_->api.refuse(request, surface)) {
      spdlog::warn("[{}] live socket refused ({}): Host '{}' Origin '{}'", correlation_of(*refusal),
                   refusal->status, sync::log_safe(request.header("host")),
                   sync::log_safe(request.header("origin")));
      return send(*refusal, req.version(), false);
    }
    if (endpoint_ == Endpoint::truconnect_http) {
      return fail(404, "not_found", "TruConnect's WebSocket is on the other compatibility port");
    }
    if (endpoint_ == Endpoint::native && request.target != "/v1/live" &&
        request.target.rfind("/v1/live?", 0) != 0) {
      return fail(404, "not_found", "the live socket is at /v1/live");
    }
    if (server_->count(endpoint_) >= server_->options.max_clients) {
      return fail(503, "too_many_clients",
                  "the live socket serves at most " + std::to_string(server_->options.max_clients) +
                      " clients; close unused browser tabs",
                  true);
    }
    body_.release();
    stream_->expires_never();
    auto session =
        std::make_shared<LiveSession>(stream_->into_live(), server_, endpoint_, std::move(slot_));
    std::string ignored;
    session->set_origin(normalize_origin(request.header("origin"), &ignored).value_or(""));
    session->set_secure(request.secure);
    server_->sessions.insert(session);
    session->run(std::move(req), server_->options);
  }

  // TruConnect's REST API, behind the same Host and Origin checks as everything else.
  void truconnect_http(const HttpRequest& request, unsigned version, bool keep_alive) {
    if (auto refusal = server_->api.refuse(request, "truconnect_http")) {
      spdlog::warn("[{}] TruConnect REST refused ({}): Host '{}' Origin '{}'",
                   correlation_of(*refusal), refusal->status,
                   sync::log_safe(request.header("host")),
                   sync::log_safe(request.header("origin")));
      return send(*refusal, version, keep_alive);
    }
    const auto origin = request.header("origin");
    auto cors = [origin](HttpResponse& r) { add_cors_headers(r, origin, truconnect_cors()); };
    if (request.method == "OPTIONS") {
      auto r = origin.empty() ? HttpResponse{204, "", "", {{"Allow", "GET, POST, OPTIONS"}}}
                              : cors_preflight(request, origin, truconnect_cors());
      return send(r, version, keep_alive);
    }
    // TruConnect's own answer shapes, plus a correlation id like every other answer: in
    // X-Correlation-Id, and in an error's JSON body and its log line.
    const auto id = detail::random_id();
    server_->truconnect->http(request, [self = shared_from_this(), version, keep_alive, cors, id,
                                        target = request.target](HttpResponse r) {
      cors(r);
      r.headers.emplace_back("X-Correlation-Id", id);
      if (r.status >= 400) {
        if (!r.body.empty() && r.body.back() == '}' && r.body.size() > 2) {
          r.body.insert(r.body.size() - 1, ",\"correlation_id\":\"" + id + "\"");
        }
        spdlog::info("[{}] TruConnect REST {} {}: {}", id, r.status, sync::log_safe(target),
                     sync::log_safe(r.body, 300));
      }
      self->send(r, version, keep_alive);
    });
  }

  void send(const HttpResponse& r, unsigned version, bool keep_alive) {
    auto res =
        std::make_shared<http::response<http::string_body>>(to_beast(r, version, keep_alive));
    stream_->expires_after(kReadTimeout);  // a client that reads nothing does not hold the slot
    stream_->async_write(*res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec) return;
      if (!res->keep_alive()) return self->shutdown();
      self->do_read();
    });
  }

  // The last answer is out: end the connection without resetting it under its answer.
  void shutdown() {
    body_.release();
    slot_.busy(false);
    parser_.reset();
    buffer_.clear();
    stream_->shutdown(kLingerTimeout, shared_from_this());
  }

  std::unique_ptr<HttpTransport> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Server::Impl> server_;
  Endpoint endpoint_;
  ConnectionSlot slot_;
  BodyReservation body_;
};

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

bool Server::Impl::bind(const std::string& host, std::uint16_t port, Endpoint endpoint, bool tls,
                        std::string* bound, std::string* error) {
  if (tls && !tls_context) {
    *error = "cannot listen with TLS on " + base::format_host_port(host, port) +
             ": no certificate loaded";
    return false;
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) {
    *error = "listen address '" + host + "' is not an IP address (use 127.0.0.1 or ::1)";
    return false;
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
    *error = "cannot listen on " + base::format_host_port(host, port) + ": " + ec.message() +
             (ec == asio::error::address_in_use
                  ? " (another program, or another weighlink-agent, uses the port; choose "
                    "another in the configuration)"
                  : "");
    return false;
  }
  const auto local = a->local_endpoint();
  *bound = base::format_host_port(local.address().to_string(), local.port());
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
  return true;
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

Server::Server(asio::io_context& ioc, Api& api, LiveOptions options, ServerLimits limits)
    : impl_(std::make_shared<Impl>(ioc, api, options, limits)) {}

Server::~Server() { stop(); }

bool Server::listen(const std::string& host, std::uint16_t port, std::string* bound,
                    std::string* error) {
  return impl_->bind(host, port, Endpoint::native, false, bound, error);
}

void Server::set_truconnect(TruConnect& tc) { impl_->truconnect = &tc; }

bool Server::listen_truconnect(bool websocket, std::string* bound, std::string* error) {
  const auto& c = impl_->truconnect->config();
  const bool ok =
      websocket
          ? impl_->bind(c.ws_host, c.ws_port, Endpoint::truconnect_ws, false, bound, error)
          : impl_->bind(c.http_host, c.http_port, Endpoint::truconnect_http, false, bound, error);
  if (!ok) *error = "TruConnect compatibility: " + *error;
  return ok;
}

bool Server::set_tls_certificate(const std::filesystem::path& cert_file,
                                 const std::filesystem::path& key_file, std::string* error) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  beast::error_code ec;
  // TLS 1.2 and 1.3 only; the ECDHE suites OpenSSL offers by default for an ECDSA key.
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  if (!ec) ctx->use_certificate_chain_file(cert_file.string(), ec);
  if (ec) {
    *error = cert_file.string() + ": cannot load the server certificate: " + ec.message();
    return false;
  }
  ctx->use_private_key_file(key_file.string(), ssl::context::pem, ec);
  if (ec) {
    *error = key_file.string() + ": cannot load the server certificate's key: " + ec.message();
    return false;
  }
  impl_->tls_context = std::move(ctx);
  return true;
}

bool Server::listen_tls(const std::string& host, std::uint16_t port, std::string* bound,
                        std::string* error) {
  return impl_->bind(host, port, Endpoint::native, true, bound, error);
}

bool Server::listen_truconnect_tls(TruConnect& tc, std::string* wss_bound, std::string* https_bound,
                                   std::string* error) {
  impl_->truconnect = &tc;
  const auto& c = tc.config();
  if (!impl_->bind(c.wss_host, c.wss_port, Endpoint::truconnect_ws, true, wss_bound, error) ||
      !impl_->bind(c.https_host, c.https_port, Endpoint::truconnect_http, true, https_bound,
                   error)) {
    *error = "TruConnect compatibility over TLS: " + *error;
    return false;
  }
  return true;
}

void Server::publish_reading(const scale::Reading& reading) {
  auto body = scale::to_json(reading, true);
  json::object msg{{"type", "reading"}};
  for (auto& [k, v] : body) msg[k] = std::move(v);
  auto shared = std::make_shared<const std::string>(json::serialize(msg));
  impl_->latest[reading.scale] = shared;
  // TruConnect frames are built at most once per reading and mode, only when a client wants one.
  TruConnect* tc = impl_->truconnect && impl_->truconnect->scale_id() == reading.scale
                       ? impl_->truconnect
                       : nullptr;
  Message tc_mobile;
  Message tc_multideck;
  // No copy of the set per reading: sending only starts async writes, and a session leaves the
  // set in a completion handler, never inside send_reading().
  for (const auto& s : impl_->sessions) {
    if (s->endpoint() == Endpoint::native) {
      s->send_reading(reading.scale, shared);
      continue;
    }
    if (!tc || !s->truconnect_client().registered) continue;
    const bool multi = s->truconnect_client().mode == "multideck";
    auto& slot = multi ? tc_multideck : tc_mobile;
    if (!slot) {
      slot =
          std::make_shared<const std::string>(tc->weight_message(multi ? "multideck" : "mobile"));
    }
    s->send_reading(reading.scale, slot);
  }
}

void Server::publish_status() {
  if (impl_->sessions.empty()) return;
  Message msg;
  for (const auto& s : impl_->sessions) {
    if (s->endpoint() != Endpoint::native) continue;
    if (!msg) msg = impl_->status_message();
    s->send_status(msg);
  }
}

void Server::close_origin(const std::string& origin) {
  auto sessions = impl_->sessions;
  for (const auto& s : sessions) {
    if (!origin.empty() && s->origin() == origin) s->close();
  }
}

std::size_t Server::live_clients() const { return impl_->sessions.size(); }

std::size_t Server::connections() const { return impl_->total_connections(); }

std::size_t Server::body_bytes_in_flight() const { return impl_->body_budget.in_use(); }

void Server::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  beast::error_code ec;
  impl_->sweep_timer.cancel();
  for (auto& l : impl_->listeners) {
    l->acceptor->close(ec);
    l->pause->cancel();
  }
  auto sessions = impl_->sessions;
  for (const auto& s : sessions) s->close();
  impl_->sessions.clear();
}

}  // namespace weighlink::agent
