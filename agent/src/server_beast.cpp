// Boost.Beast adapter. All Beast templates are instantiated here, in one translation unit, to keep
// build times down.
#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <deque>
#include <map>
#include <set>

#include "weighlink/agent/server.hpp"

namespace weighlink::agent {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kBodyLimit = 1 << 20;  // largest request body accepted
constexpr auto kReadTimeout = std::chrono::seconds(30);
constexpr auto kSweepEvery = std::chrono::seconds(1);
constexpr std::size_t kLiveSendBuffer = 32 * 1024;

using Message = std::shared_ptr<const std::string>;

// What a listening socket serves.
enum class Endpoint {
  native,          // the local API and GET /v1/live
  truconnect_ws,   // TruConnect's socket protocol, on any path
  truconnect_http  // TruConnect's REST API under /api/v1
};

}  // namespace

class LiveSession;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& ioc, Api& api, LiveOptions options)
      : ioc(ioc), api(api), options(options), sweep_timer(ioc) {}

  asio::io_context& ioc;
  Api& api;
  LiveOptions options;
  TruConnect* truconnect = nullptr;
  std::vector<std::pair<std::unique_ptr<tcp::acceptor>, Endpoint>> acceptors;
  std::set<std::shared_ptr<LiveSession>> sessions;
  std::map<std::string, Message> latest;  // latest native reading message per scale
  asio::steady_timer sweep_timer;
  bool stopped = false;

  bool bind(const std::string& host, std::uint16_t port, Endpoint endpoint, std::string* bound,
            std::string* error);
  void do_accept(tcp::acceptor& acceptor, Endpoint endpoint);
  void sweep();
  std::size_t count(Endpoint endpoint) const;
  Message status_message() const;
};

// One WebSocket client: GET /v1/live, or a TruConnect socket client. Outgoing messages are slots,
// not a queue: a new reading of a scale replaces the unsent one, so memory per client is bounded
// and a slow client only skips readings.
class LiveSession : public std::enable_shared_from_this<LiveSession> {
 public:
  LiveSession(tcp::socket&& socket, std::weak_ptr<Server::Impl> server, Endpoint endpoint)
      : ws_(std::move(socket)), server_(std::move(server)), endpoint_(endpoint) {}

  template <class Body>
  void run(http::request<Body> req, const LiveOptions& options) {
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(10);
    // Beast pings at half the idle timeout when the peer sent nothing, and closes at the full
    // timeout: a client that answers pings (every browser does) is never cut.
    timeout.idle_timeout = 2 * options.ping_interval;
    timeout.keep_alive_pings = true;
    ws_.set_option(timeout);
    // Messages up to the configured limit are read; a larger one is read whole (up to a hard
    // cap) so that the close frame 1009 goes out through a clean closing handshake: closing with
    // its bytes unread would reset the connection and the browser would see 1006 instead.
    max_message_ = options.max_message;
    ws_.read_message_max(std::max<std::size_t>(4 * options.max_message, 1 << 20));
    // A small kernel send buffer keeps latest-wins meaningful: a slow client's backlog of stale
    // readings is at most this much, not the megabytes TCP autotuning would allow, so what it
    // does receive is recent.
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(
        asio::socket_base::send_buffer_size(static_cast<int>(kLiveSendBuffer)), ignored);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "weighlink-agent"); }));
    ws_.async_accept(req, beast::bind_front_handler(&LiveSession::on_accept, shared_from_this()));
  }

  [[nodiscard]] Endpoint endpoint() const { return endpoint_; }
  [[nodiscard]] const TruConnect::Client& truconnect_client() const { return client_; }

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
  void close() {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }
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
    ws_.async_read(in_, beast::bind_front_handler(&LiveSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return finish();
    if (in_.size() > max_message_) {
      in_.consume(in_.size());
      spdlog::warn("live client closed: a message over {} bytes", max_message_);
      ws_.async_close(websocket::close_reason(websocket::close_code::too_big, "message too big"),
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
    json::error_code ec;
    auto v = json::parse(text, ec);
    const json::object* o = (!ec && v.is_object()) ? &v.as_object() : nullptr;
    const json::value* type = o ? o->if_contains("type") : nullptr;
    if (!type || !type->is_string()) {
      return send_control({{"type", "error"},
                           {"error", ec ? "invalid_json" : "invalid_message"},
                           {"message", "send a JSON object with a \"type\" field"}});
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

  void send_control(json::object o) { send_text(json::serialize(o)); }

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
    ws_.text(true);
    ws_.async_write(asio::buffer(*current_),
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
    if (auto server = server_.lock()) {
      if (tc_open_ && server->truconnect) server->truconnect->close(client_);
      server->sessions.erase(shared_from_this());
    }
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::weak_ptr<Server::Impl> server_;
  Endpoint endpoint_;
  TruConnect::Client client_;
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

// One HTTP connection: read a request, answer it through the Api, repeat; upgrade to the live
// socket on GET /v1/live.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, std::shared_ptr<Server::Impl> server, Endpoint endpoint)
      : stream_(std::move(socket)), server_(std::move(server)), endpoint_(endpoint) {}

  void run() { do_read(); }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(kReadTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return shutdown();
    if (ec == http::error::body_limit) {
      return send(error_response(413, "body_too_large", "request bodies are limited to 1 MiB", "-"),
                  11, false);
    }
    if (ec == http::error::header_limit) {
      return send(
          error_response(431, "headers_too_large", "request headers are limited to 16 KiB", "-"),
          11, false);
    }
    if (ec && ec.category() == http::make_error_code(http::error::bad_field).category() &&
        ec != http::error::partial_message) {
      // A malformed request (a control character in a header, a bad request line): say so.
      return send(error_response(400, "bad_request",
                                 "the request is not valid HTTP/1.1 (" + ec.message() + ")", "-"),
                  11, false);
    }
    if (ec) return;  // timeouts and resets end the connection
    auto req = parser_->release();
    const auto request = to_request(req);
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    if (websocket::is_upgrade(req)) return upgrade(std::move(req), request);
    if (endpoint_ == Endpoint::truconnect_ws) {
      return send(error_response(426, "upgrade_required",
                                 "this port speaks TruConnect's WebSocket protocol; the REST API "
                                 "is on the other compatibility port",
                                 "-"),
                  version, false);
    }
    if (endpoint_ == Endpoint::truconnect_http)
      return truconnect_http(request, version, keep_alive);
    server_->api.handle(request, [self = shared_from_this(), version, keep_alive](HttpResponse r) {
      self->send(r, version, keep_alive);
    });
  }

  void upgrade(http::request<http::string_body> req, const HttpRequest& request) {
    if (auto refusal = server_->api.refuse(request)) {
      spdlog::warn("live socket refused ({}): Host '{}' Origin '{}'", refusal->status,
                   request.header("host"), request.header("origin"));
      return send(*refusal, req.version(), false);
    }
    if (endpoint_ == Endpoint::truconnect_http) {
      return send(error_response(404, "not_found",
                                 "TruConnect's WebSocket is on the other compatibility port", "-"),
                  req.version(), false);
    }
    if (endpoint_ == Endpoint::native && request.target != "/v1/live" &&
        request.target.rfind("/v1/live?", 0) != 0) {
      return send(error_response(404, "not_found", "the live socket is at /v1/live", "-"),
                  req.version(), false);
    }
    if (server_->count(endpoint_) >= server_->options.max_clients) {
      return send(error_response(503, "too_many_clients",
                                 "the live socket serves at most " +
                                     std::to_string(server_->options.max_clients) +
                                     " clients; close unused browser tabs",
                                 "-"),
                  req.version(), false);
    }
    stream_.expires_never();
    auto session = std::make_shared<LiveSession>(stream_.release_socket(), server_, endpoint_);
    server_->sessions.insert(session);
    session->run(std::move(req), server_->options);
  }

  // TruConnect's REST API, behind the same Host and Origin checks as everything else.
  void truconnect_http(const HttpRequest& request, unsigned version, bool keep_alive) {
    if (auto refusal = server_->api.refuse(request)) {
      return send(*refusal, version, keep_alive);
    }
    const auto origin = request.header("origin");
    auto cors = [origin](HttpResponse& r) {
      if (origin.empty()) return;
      r.headers.emplace_back("Access-Control-Allow-Origin", origin);
      r.headers.emplace_back("Vary", "Origin");
    };
    if (request.method == "OPTIONS") {
      auto r = preflight_response("GET, POST, OPTIONS", "Content-Type");
      cors(r);
      return send(r, version, keep_alive);
    }
    server_->truconnect->http(
        request, [self = shared_from_this(), version, keep_alive, cors](HttpResponse r) {
          cors(r);
          self->send(r, version, keep_alive);
        });
  }

  void send(const HttpResponse& r, unsigned version, bool keep_alive) {
    auto res =
        std::make_shared<http::response<http::string_body>>(to_beast(r, version, keep_alive));
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (!res->keep_alive()) return self->shutdown();
                        self->do_read();
                      });
  }

  void shutdown() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Server::Impl> server_;
  Endpoint endpoint_;
};

}  // namespace

void Server::Impl::do_accept(tcp::acceptor& acceptor, Endpoint endpoint) {
  acceptor.async_accept(asio::make_strand(ioc), [self = shared_from_this(), &acceptor, endpoint](
                                                    beast::error_code ec, tcp::socket socket) {
    if (self->stopped) return;
    if (!ec) {
      // Small messages go out at once: with Nagle on, a reading after a ping/pong exchange
      // waited for the client's delayed ACK (20-40 ms stalls measured by bench_live).
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<HttpSession>(std::move(socket), self, endpoint)->run();
    } else if (ec == asio::error::operation_aborted) {
      return;
    }
    self->do_accept(acceptor, endpoint);
  });
}

bool Server::Impl::bind(const std::string& host, std::uint16_t port, Endpoint endpoint,
                        std::string* bound, std::string* error) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) {
    *error = "listen address '" + host + "' is not an IP address (use 127.0.0.1 or ::1)";
    return false;
  }
  const tcp::endpoint where(address, port);
  auto a = std::make_unique<tcp::acceptor>(ioc);
  a->open(where.protocol(), ec);
  if (!ec) a->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a->bind(where, ec);
  if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message() +
             (ec == asio::error::address_in_use
                  ? " (another program, or another weighlink-agent, uses the port; choose "
                    "another in the configuration)"
                  : "");
    return false;
  }
  const auto local = a->local_endpoint();
  *bound = (local.address().is_v6() ? "[" + local.address().to_string() + "]"
                                    : local.address().to_string()) +
           ":" + std::to_string(local.port());
  acceptors.emplace_back(std::move(a), endpoint);
  do_accept(*acceptors.back().first, endpoint);
  if (acceptors.size() == 1) sweep();
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

Server::Server(asio::io_context& ioc, Api& api, LiveOptions options)
    : impl_(std::make_shared<Impl>(ioc, api, options)) {}

Server::~Server() { stop(); }

bool Server::listen(const std::string& host, std::uint16_t port, std::string* bound,
                    std::string* error) {
  return impl_->bind(host, port, Endpoint::native, bound, error);
}

bool Server::listen_truconnect(TruConnect& tc, std::string* ws_bound, std::string* http_bound,
                               std::string* error) {
  impl_->truconnect = &tc;
  const auto& c = tc.config();
  if (!impl_->bind(c.ws_host, c.ws_port, Endpoint::truconnect_ws, ws_bound, error)) {
    *error = "TruConnect compatibility: " + *error;
    return false;
  }
  if (!impl_->bind(c.http_host, c.http_port, Endpoint::truconnect_http, http_bound, error)) {
    *error = "TruConnect compatibility: " + *error;
    return false;
  }
  auto port_of = [](const std::string& b) { return b.substr(b.rfind(':') + 1); };
  tc.set_endpoints("ws://localhost:" + port_of(*ws_bound),
                   "http://localhost:" + port_of(*http_bound) + "/api/v1");
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

std::size_t Server::live_clients() const { return impl_->sessions.size(); }

void Server::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  beast::error_code ec;
  impl_->sweep_timer.cancel();
  for (auto& [a, endpoint] : impl_->acceptors) a->close(ec);
  auto sessions = impl_->sessions;
  for (const auto& s : sessions) s->close();
  impl_->sessions.clear();
}

}  // namespace weighlink::agent
