#pragma once
// One HTTP connection: requests answered through the Api (or TruConnect's REST), the upgrade to
// a live socket.

#include "http/live_session.hpp"
#include "http/server_impl.hpp"
#include "http/transport.hpp"

namespace weighlink::agent {

// Beast's request as the Api's socket-free one, and the Api's answer as Beast's.

inline HttpRequest to_request(const http::request<http::string_body>& req) {
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

inline http::response<http::string_body> to_beast(const HttpResponse& r, unsigned version,
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
    server_->api.handle(request,
                        [self = shared_from_this(), version, keep_alive](const HttpResponse& r) {
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
                   refusal->status, base::log_safe(request.header("host")),
                   base::log_safe(request.header("origin")));
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
    auto origin = normalize_origin(request.header("origin"));
    session->set_origin(origin ? std::move(*origin) : std::string());
    session->set_secure(request.secure);
    server_->sessions.insert(session);
    session->run(std::move(req), server_->options);
  }

  // TruConnect's REST API, behind the same Host and Origin checks as everything else.
  void truconnect_http(const HttpRequest& request, unsigned version, bool keep_alive) {
    if (auto refusal = server_->api.refuse(request, "truconnect_http")) {
      spdlog::warn("[{}] TruConnect REST refused ({}): Host '{}' Origin '{}'",
                   correlation_of(*refusal), refusal->status,
                   base::log_safe(request.header("host")),
                   base::log_safe(request.header("origin")));
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
        spdlog::info("[{}] TruConnect REST {} {}: {}", id, r.status, base::log_safe(target),
                     base::log_safe(r.body, 300));
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

}  // namespace weighlink::agent
