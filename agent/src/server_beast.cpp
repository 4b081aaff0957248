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

constexpr std::size_t kBodyLimit = 1 << 20;        // largest request body accepted
constexpr std::size_t kWsMessageLimit = 64 << 10;  // largest client message on the live socket
constexpr auto kReadTimeout = std::chrono::seconds(30);

using Message = std::shared_ptr<const std::string>;

}  // namespace

class LiveSession;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& ioc, Api& api) : ioc(ioc), acceptor(ioc), api(api) {}

  asio::io_context& ioc;
  tcp::acceptor acceptor;
  Api& api;
  std::set<std::shared_ptr<LiveSession>> sessions;
  std::map<std::string, Message> latest;  // latest reading message per scale
  bool stopped = false;

  void do_accept();
  Message status_message() const;
};

// One WebSocket client of GET /v1/live. Outgoing messages are slots, not a queue: a new reading
// of a scale replaces the unsent one, so memory per client is bounded and a slow client only
// skips readings.
class LiveSession : public std::enable_shared_from_this<LiveSession> {
 public:
  LiveSession(tcp::socket&& socket, std::weak_ptr<Server::Impl> server)
      : ws_(std::move(socket)), server_(std::move(server)) {}

  template <class Body>
  void run(http::request<Body> req) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(kWsMessageLimit);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "weighlink-agent"); }));
    ws_.async_accept(req, beast::bind_front_handler(&LiveSession::on_accept, shared_from_this()));
  }

  void send_reading(const std::string& scale, Message msg) {
    if (!subscribed(scale)) return;
    readings_[scale] = std::move(msg);
    write_next();
  }
  void send_status(Message msg) {
    status_ = std::move(msg);
    write_next();
  }
  void close() {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
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
    json::array ids;
    for (const auto& s : server->api.context().live->scales()) ids.push_back(json::string(s.id));
    control_.push_back(std::make_shared<const std::string>(
        json::serialize(json::object{{"type", "hello"},
                                     {"protocol", 1},
                                     {"station_id", server->api.context().station_id},
                                     {"agent_version", server->api.context().agent_version},
                                     {"scales", std::move(ids)}})));
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
    const std::string text = beast::buffers_to_string(in_.data());
    in_.consume(in_.size());
    handle_client_message(text);
    do_read();
  }

  void handle_client_message(const std::string& text) {
    json::error_code ec;
    auto v = json::parse(text, ec);
    const json::object* o = (!ec && v.is_object()) ? &v.as_object() : nullptr;
    const json::value* type = o ? o->if_contains("type") : nullptr;
    if (!type || !type->is_string()) {
      return send_control({{"type", "error"},
                           {"error", "invalid_message"},
                           {"message", "send a JSON object with a \"type\" field"}});
    }
    if (type->as_string() == "ping") {
      json::object pong{{"type", "pong"}};
      if (const auto* id = o->if_contains("id")) pong["id"] = *id;
      return send_control(std::move(pong));
    }
    if (type->as_string() == "subscribe") {
      const auto* list = o->if_contains("scales");
      if (!list || !list->is_array()) {
        return send_control({{"type", "error"},
                             {"error", "invalid_subscribe"},
                             {"message", "\"scales\" must be a list of scale ids ([] for all)"}});
      }
      subscription_.clear();
      for (const auto& s : list->as_array()) {
        if (s.is_string()) subscription_.insert(std::string(s.as_string()));
      }
      readings_.clear();
      if (auto server = server_.lock()) {
        for (const auto& [scale, msg] : server->latest) {
          if (subscribed(scale)) readings_[scale] = msg;
        }
      }
      send_control({{"type", "subscribed"}, {"scales", list->as_array()}});
      return;
    }
    send_control({{"type", "error"},
                  {"error", "unknown_type"},
                  {"message", "unknown message type; use subscribe or ping"}});
  }

  void send_control(json::object o) {
    // Control answers are few and small (one per client message), so a queue is bounded by the
    // client's own sending, which the read side paces.
    if (control_.size() >= 64) return close();
    control_.push_back(std::make_shared<const std::string>(json::serialize(o)));
    write_next();
  }

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
    if (auto server = server_.lock()) server->sessions.erase(shared_from_this());
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::weak_ptr<Server::Impl> server_;
  beast::flat_buffer in_;
  std::deque<Message> control_;
  Message status_;
  std::map<std::string, Message> readings_;
  Message current_;
  std::set<std::string> subscription_;  // empty: every scale
  bool accepted_ = false;
  bool writing_ = false;
  bool closed_ = false;
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
  HttpSession(tcp::socket&& socket, std::shared_ptr<Server::Impl> server)
      : stream_(std::move(socket)), server_(std::move(server)) {}

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
    if (ec) return;  // timeouts and resets end the connection
    auto req = parser_->release();
    const auto request = to_request(req);
    if (websocket::is_upgrade(req)) {
      if (auto refusal = server_->api.refuse(request)) {
        return send(*refusal, req.version(), false);
      }
      if (request.target != "/v1/live" && request.target.rfind("/v1/live?", 0) != 0) {
        return send(error_response(404, "not_found", "the live socket is at /v1/live", "-"),
                    req.version(), false);
      }
      stream_.expires_never();
      auto session = std::make_shared<LiveSession>(stream_.release_socket(), server_);
      server_->sessions.insert(session);
      session->run(std::move(req));
      return;
    }
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    server_->api.handle(request, [self = shared_from_this(), version, keep_alive](HttpResponse r) {
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
};

}  // namespace

void Server::Impl::do_accept() {
  acceptor.async_accept(asio::make_strand(ioc),
                        [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                          if (self->stopped) return;
                          if (!ec) {
                            std::make_shared<HttpSession>(std::move(socket), self)->run();
                          } else if (ec == asio::error::operation_aborted) {
                            return;
                          }
                          self->do_accept();
                        });
}

Message Server::Impl::status_message() const {
  auto status = api.status();
  json::object msg{{"type", "status"}};
  for (auto& [k, v] : status) msg[k] = std::move(v);
  return std::make_shared<const std::string>(json::serialize(msg));
}

Server::Server(asio::io_context& ioc, Api& api) : impl_(std::make_shared<Impl>(ioc, api)) {}

Server::~Server() { stop(); }

bool Server::listen(const std::string& host, std::uint16_t port, std::string* bound,
                    std::string* error) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) {
    *error = "listen address '" + host + "' is not an IP address (use 127.0.0.1 or ::1)";
    return false;
  }
  const tcp::endpoint endpoint(address, port);
  auto& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message() +
             (ec == asio::error::address_in_use
                  ? " (another program, or another weighlink-agent, uses the port; choose "
                    "another with --listen)"
                  : "");
    return false;
  }
  const auto local = a.local_endpoint();
  *bound = (local.address().is_v6() ? "[" + local.address().to_string() + "]"
                                    : local.address().to_string()) +
           ":" + std::to_string(local.port());
  impl_->do_accept();
  return true;
}

void Server::publish_reading(const scale::Reading& reading) {
  auto body = scale::to_json(reading, true);
  json::object msg{{"type", "reading"}};
  for (auto& [k, v] : body) msg[k] = std::move(v);
  auto shared = std::make_shared<const std::string>(json::serialize(msg));
  impl_->latest[reading.scale] = shared;
  // Copy: a failed write may remove a session while we iterate.
  auto sessions = impl_->sessions;
  for (const auto& s : sessions) s->send_reading(reading.scale, shared);
}

void Server::publish_status() {
  if (impl_->sessions.empty()) return;
  auto msg = impl_->status_message();
  auto sessions = impl_->sessions;
  for (const auto& s : sessions) s->send_status(msg);
}

std::size_t Server::live_clients() const { return impl_->sessions.size(); }

void Server::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  beast::error_code ec;
  impl_->acceptor.close(ec);
  auto sessions = impl_->sessions;
  for (const auto& s : sessions) s->close();
  impl_->sessions.clear();
}

}  // namespace weighlink::agent
