#include "weighlink/service/http_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <exception>
#include <optional>
#include <thread>

#include "weighlink/base/host_port.hpp"
#include "weighlink/service/token.hpp"

namespace weighlink::service {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto kIoTimeout = std::chrono::seconds(10);
constexpr std::uint64_t kBodyLimit = std::uint64_t{8} * 1024;  // the endpoints take no body
constexpr std::uint32_t kHeaderLimit = 8 * 1024;

// One connection; keeps itself alive through the handlers it has pending.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<const HttpHooks> hooks)
      : stream_(std::move(socket)), hooks_(std::move(hooks)) {}

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(kIoTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return do_close();
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      keep_alive_ = false;
      return send(
          error_reply(413, "request_too_large", "request exceeds the size limit", random_hex(8)));
    }
    if (ec) return;  // timeout or reset: drop the connection
    const auto& request = parser_->get();
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    head_ = request.method() == http::verb::head;
    switch (route(request.method_string(), request.target())) {
      case Route::healthz:
        return send(health_reply());
      case Route::metrics:
        return send(metrics_reply(hooks_->metrics()));
      case Route::readyz:
        // The probe runs on a database worker; the answer comes back on this session's strand.
        hooks_->probe_ready([self = shared_from_this()](ReadyState state) {
          net::post(self->stream_.get_executor(),
                    [self, state = std::move(state)] { self->send(ready_reply(state)); });
        });
        return;
      case Route::method_not_allowed:
        return send(
            error_reply(405, "method_not_allowed", "only GET is supported here", random_hex(8)));
      case Route::not_found:
        break;
    }
    send(error_reply(404, "not_found", "no such endpoint; try /healthz, /readyz or /metrics",
                     random_hex(8)));
  }

  void send(HttpReply reply) {
    response_ = {};
    response_.version(version_);
    response_.result(reply.status);
    response_.set(http::field::server, "weighlink-backend/" WEIGHLINK_VERSION);
    response_.set(http::field::content_type, reply.content_type);
    response_.set(http::field::cache_control, "no-store");
    response_.keep_alive(keep_alive_);
    response_.body() = head_ ? std::string{} : std::move(reply.body);
    response_.prepare_payload();
    stream_.expires_after(kIoTimeout);
    http::async_write(stream_, response_,
                      beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (ec) return;
    if (!keep_alive_) return do_close();
    do_read();
  }

  void do_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::shared_ptr<const HttpHooks> hooks_;
  bool keep_alive_ = false;
  bool head_ = false;
  unsigned version_ = 11;
};

// An IP literal (or localhost) and a port, 0 for any: the HTTP listener binds, it resolves nothing.
base::Expected<tcp::endpoint> parse_endpoint(std::string_view listen) {
  auto parsed = base::parse_host_port(listen, base::PortZero::allowed);
  if (!parsed) return parsed.error();
  boost::system::error_code ec;
  const auto address = net::ip::make_address(base::loopback_literal(parsed->host), ec);
  if (ec) {
    return base::invalid_argument("'" + std::string(listen) + "': '" + parsed->host +
                                  "' is not an IP address, e.g. 127.0.0.1:8081");
  }
  return tcp::endpoint(address, parsed->port);
}

}  // namespace

struct HttpServer::Impl {
  net::io_context io{1};
  tcp::acceptor acceptor{io};
  std::shared_ptr<const HttpHooks> hooks;
  std::thread thread;
  std::string bound;

  void do_accept() {
    acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted) return;  // closed by stop()
      if (!ec) std::make_shared<Session>(std::move(socket), hooks)->run();
      do_accept();
    });
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  try {
    stop();
  } catch (const std::exception& e) {  // the process is ending: say so, never terminate
    spdlog::error("stopping the HTTP server: {}", e.what());
  }
}

base::Expected<std::unique_ptr<HttpServer>> HttpServer::start(std::string_view listen,
                                                              HttpHooks hooks) {
  auto endpoint = parse_endpoint(listen);
  if (!endpoint) {
    return base::invalid_argument("invalid HTTP listen address: " + endpoint.error().message);
  }
  auto impl = std::make_unique<Impl>();
  impl->hooks = std::make_shared<const HttpHooks>(std::move(hooks));
  beast::error_code ec;
  impl->acceptor.open(endpoint->protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(*endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return base::Error{ec,
                       "cannot listen for HTTP on " + std::string(listen) + ": " + ec.message()};
  }
  const auto local = impl->acceptor.local_endpoint();
  impl->bound = base::format_host_port(local.address().to_string(), local.port());
  impl->do_accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] {
    try {
      raw->io.run();
    } catch (const std::exception& e) {
      spdlog::critical("HTTP server thread stopped by an exception: {}", e.what());
    }
  });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

std::string HttpServer::bound_address() const { return impl_->bound; }

void HttpServer::stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  net::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
  impl_->io.stop();
  impl_->thread.join();
}

}  // namespace weighlink::service
