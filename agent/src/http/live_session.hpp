#pragma once
// One WebSocket client (GET /v1/live, or a TruConnect socket client), latest-wins slots.

#include "http/server_impl.hpp"
#include "http/transport.hpp"

namespace weighlink::agent {

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
    json::object hello{{"type", "hello"},
                       {"protocol", 1},
                       {"station_id", ctx.station_id},
                       {"agent_version", ctx.agent_version},
                       {"scales", std::move(ids)},
                       {"ping_interval_ms", server->options.ping_interval.count()}};
    if (!ctx.software.empty()) hello["software"] = ctx.software;
    send_control(hello);
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
    auto parsed = record::parse_exact(text);
    auto& v = parsed.value;
    const json::object* o =
        (!parsed.refusal && record::is_json_object(v)) ? &v.as_object() : nullptr;
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
      return send_control(pong);
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

  void send_control(const json::object& o) { send_text(record::serialize_exact(o)); }

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

}  // namespace weighlink::agent
