// The ANPR intake's listener (anpr_listener.hpp): Beast sessions on a private io_context.
#include "devices/camera/anpr_listener.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <thread>

#include "weighlink/base/base64.hpp"
#include "weighlink/base/credential_files.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/base/host_port.hpp"

namespace weighlink::agent::camera {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

constexpr std::chrono::seconds kSessionTimeout{10};

struct Allowed {
  AnprCameraConfig config;
  std::string token;  // empty: none asked
};

struct Answer {
  http::status status;
  json::object body;
};

Answer refuse(http::status status, const std::string& code, const std::string& message) {
  return {status, json::object{{"error", code}, {"message", message}}};
}

bool token_ok(const Allowed& a, std::string_view authorization) {
  if (a.token.empty()) return true;
  if (authorization.starts_with("Bearer ")) {
    return base::constant_time_equal(authorization.substr(7), a.token);
  }
  if (authorization.starts_with("Basic ")) {
    auto decoded = base::base64_decode(authorization.substr(6));
    if (!decoded) return false;
    const auto colon = decoded->find(':');
    return colon != std::string::npos &&
           base::constant_time_equal(std::string_view(*decoded).substr(colon + 1), a.token);
  }
  return false;
}

}  // namespace

struct AnprListener::Impl {
  AnprConfig config;
  std::vector<Allowed> allowed;
  std::function<void(PlatePush)> on_plate;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::thread thread;

  // Pure of sockets: the answer to one request from `source`.
  Answer answer(const std::string& source, const http::request<http::string_body>& req) {
    if (req.method() != http::verb::post) {
      return refuse(http::status::method_not_allowed, "method_not_allowed",
                    "push plate events with POST");
    }
    std::vector<const Allowed*> from;
    for (const auto& a : allowed) {
      if (a.config.source_ip == source) from.push_back(&a);
    }
    if (from.empty()) {
      return refuse(http::status::forbidden, "unknown_source",
                    source + " is not a configured ANPR camera (anpr.cameras[].source_ip)");
    }
    const std::string authorization(req[http::field::authorization]);
    std::erase_if(from, [&](const Allowed* a) { return !token_ok(*a, authorization); });
    if (from.empty()) {
      return refuse(http::status::unauthorized, "unauthorized",
                    "the camera's token (anpr.cameras[].token_file) is missing or wrong");
    }
    auto event = parse_plate_event(std::string(req[http::field::content_type]), req.body());
    if (!event) return refuse(http::status::bad_request, "invalid_event", event.error().message);
    // Several cameras behind one address: the one it names itself.
    const Allowed* camera = from.front();
    for (const auto* a : from) {
      if (a->config.id == event->camera) camera = a;
    }
    const std::string plate = event->plate;
    on_plate(PlatePush{camera->config.id, camera->config.scale, std::move(*event)});
    return {http::status::ok,
            json::object{{"accepted", true}, {"plate", plate}, {"camera", camera->config.id}}};
  }

  void do_accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;  // closed: stopping
      session(std::move(socket));
      do_accept();
    });
  }

  void session(tcp::socket socket) {
    struct Session {
      beast::tcp_stream stream;
      beast::flat_buffer buffer;
      http::request_parser<http::string_body> parser;
      http::response<http::string_body> res;
      explicit Session(tcp::socket s) : stream(std::move(s)) {}
    };
    auto s = std::make_shared<Session>(std::move(socket));
    beast::error_code ec;
    const auto remote = s->stream.socket().remote_endpoint(ec);
    auto address = remote.address();
    // A dual-stack listener ([::]) sees IPv4 cameras as ::ffff:a.b.c.d: compared as a.b.c.d.
    if (!ec && address.is_v6() && address.to_v6().is_v4_mapped()) {
      address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    }
    const auto source = ec ? std::string() : address.to_string();
    s->parser.body_limit(kMaxPlateEventBytes);
    s->stream.expires_after(kSessionTimeout);
    http::async_read(
        s->stream, s->buffer, s->parser, [this, s, source](beast::error_code ec, std::size_t) {
          Answer a = ec == http::error::body_limit
                         ? refuse(http::status::payload_too_large, "too_large",
                                  "a plate event is at most 8 MiB")
                     : ec ? refuse(http::status::bad_request, "bad_request", ec.message())
                          : answer(source, s->parser.get());
          if (a.status != http::status::ok) {
            spdlog::warn("ANPR push from {} refused: {}", source,
                         json::serialize(a.body.at("message")));
          }
          s->res = {a.status, 11};
          s->res.set(http::field::content_type, "application/json");
          s->res.body() = json::serialize(a.body);
          s->res.keep_alive(false);
          s->res.prepare_payload();
          http::async_write(s->stream, s->res, [s](beast::error_code, std::size_t) {
            beast::error_code ignored;
            s->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
          });
        });
  }
};

AnprListener::AnprListener(const AnprConfig& config, std::function<void(PlatePush)> on_plate)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = config;
  impl_->on_plate = std::move(on_plate);
  for (const auto& c : config.cameras) {
    Allowed a{c, {}};
    if (!c.token_file.empty()) {
      auto token = base::read_token_file(c.token_file);
      // Checked readable at load; unreadable since: no push of it is taken.
      a.token = token ? *token : base::to_hex(*base::random_bytes(32));
      if (!token) spdlog::error("ANPR camera {}: {}", c.id, token.error().message);
    }
    impl_->allowed.push_back(std::move(a));
  }
}

AnprListener::~AnprListener() { stop(); }

base::Expected<std::string> AnprListener::start() {
  auto hp = base::parse_host_port(impl_->config.listen, base::PortZero::allowed);
  if (!hp) return hp.error();
  beast::error_code ec;
  const auto address = asio::ip::make_address(base::loopback_literal(hp->host), ec);
  if (ec) return base::invalid_argument("anpr.listen: '" + hp->host + "' is not an IP address");
  const tcp::endpoint endpoint(address, hp->port);
  auto& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return base::Error{
        ec, "cannot listen on anpr.listen " + impl_->config.listen + ": " + ec.message()};
  }
  const auto bound = a.local_endpoint();
  impl_->do_accept();
  impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
  return base::format_host_port(bound.address().to_string(), bound.port());
}

void AnprListener::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->ioc.stop();
  impl_->thread.join();
}

}  // namespace weighlink::agent::camera
