// The HTTP snapshot client (snapshot_http.hpp): Beast over one private io_context per shot.
#include "devices/camera/snapshot_http.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <optional>

#include "weighlink/agent/camera/http_auth.hpp"
#include "weighlink/base/hash.hpp"

namespace weighlink::agent::camera {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Starts one operation and runs the io_context until it completes (the stream's timer ends it at
// the deadline at the latest).
template <class Start>
beast::error_code run_op(asio::io_context& ioc, Start&& start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

Shot network_failure(const beast::error_code& ec, const std::string& step,
                     const std::string& where) {
  if (ec == beast::error::timeout || ec == asio::error::operation_aborted) {
    return missing_shot("deadline", "no answer from " + where + " in time (" + step + ")");
  }
  if (ec == asio::error::connection_refused) {
    return missing_shot("connection refused", where + " refused the connection");
  }
  if (ec == http::error::body_limit) {
    return missing_shot("too large", where + " sent more than max_bytes");
  }
  return missing_shot("offline", step + " " + where + ": " + ec.message());
}

class Exchange {
 public:
  Exchange(const CameraConfig& camera, std::string password,
           std::chrono::steady_clock::time_point deadline)
      : camera_(camera), password_(std::move(password)), deadline_(deadline), stream_(ioc_) {}

  Shot run() {
    auto url = boost::urls::parse_uri(camera_.url);
    if (!url) return missing_shot("offline", "cannot read the URL " + camera_.url);
    host_ = url->host();
    port_ = url->has_port() ? std::string(url->port()) : "80";
    target_ = url->encoded_target().empty() ? "/" : std::string(url->encoded_target());
    where_ = "camera " + camera_.id + " (" + host_ + ":" + port_ + ")";
    if (auto failed = connect()) return *failed;
    std::string authorization;
    const bool has_user = !camera_.username.empty();
    if (has_user && camera_.auth == "basic") {
      authorization = basic_authorization(camera_.username, password_);
    }
    http::response<http::string_body> res;
    if (auto failed = request(authorization, res)) return *failed;
    if (res.result() == http::status::unauthorized && has_user && authorization.empty()) {
      const auto offered = parse_www_authenticate(std::string(res[http::field::www_authenticate]));
      const auto* chosen = choose_challenge(offered, camera_.auth);
      if (!chosen) {
        return missing_shot("http 401", where_ + " asks for an authentication auth: " +
                                            camera_.auth + " does not answer (" +
                                            std::string(res[http::field::www_authenticate]) + ")");
      }
      if (chosen->scheme == "basic") {
        authorization = basic_authorization(camera_.username, password_);
      } else {
        auto nonce = base::random_bytes(12);
        DigestInput in{camera_.username,
                       password_,
                       "GET",
                       target_,
                       nonce ? base::to_hex(*nonce) : "0a4f113b",
                       1};
        auto value = digest_authorization(*chosen, in);
        if (!value) return missing_shot("auth", value.error().message);
        authorization = *value;
      }
      if (!res.keep_alive()) {
        beast::error_code ignored;
        stream_.socket().close(ignored);
        if (auto failed = connect()) return *failed;
      }
      res = {};
      if (auto failed = request(authorization, res)) return *failed;
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    if (res.result() != http::status::ok) {
      return missing_shot("http " + std::to_string(res.result_int()),
                          where_ + " answered " + std::to_string(res.result_int()) + " " +
                              std::string(res.reason()));
    }
    return checked_jpeg(std::move(res.body()), camera_.max_bytes);
  }

 private:
  std::optional<Shot> connect() {
    tcp::resolver resolver(ioc_);
    asio::steady_timer timer(ioc_, deadline_);
    timer.async_wait([&resolver](beast::error_code ec) {
      if (!ec) resolver.cancel();
    });
    tcp::resolver::results_type endpoints;
    auto ec = run_op(ioc_, [&](auto done) {
      resolver.async_resolve(host_, port_,
                             [&endpoints, &timer, done](beast::error_code e, auto results) {
                               timer.cancel();
                               endpoints = std::move(results);
                               done(e);
                             });
    });
    if (ec) return network_failure(ec, "resolving", where_);
    stream_.expires_at(deadline_);
    ec = run_op(ioc_, [&](auto done) { stream_.async_connect(endpoints, done); });
    if (ec) return network_failure(ec, "connecting to", where_);
    return std::nullopt;
  }

  std::optional<Shot> request(const std::string& authorization,
                              http::response<http::string_body>& res) {
    http::request<http::empty_body> req{http::verb::get, target_, 11};
    req.set(http::field::host, port_ == "80" ? host_ : host_ + ":" + port_);
    req.set(http::field::user_agent, "weighlink-agent");
    req.set(http::field::accept, "image/jpeg");
    if (!authorization.empty()) req.set(http::field::authorization, authorization);
    stream_.expires_at(deadline_);
    auto ec = run_op(ioc_, [&](auto done) { http::async_write(stream_, req, done); });
    if (ec) return network_failure(ec, "sending to", where_);
    http::response_parser<http::string_body> parser;
    // One byte more than allowed is read so that "too large" is told apart from a full image.
    parser.body_limit(camera_.max_bytes + 1);
    beast::flat_buffer buffer;
    stream_.expires_at(deadline_);
    ec = run_op(ioc_, [&](auto done) { http::async_read(stream_, buffer, parser, done); });
    if (ec) return network_failure(ec, "reading from", where_);
    res = parser.release();
    return std::nullopt;
  }

  const CameraConfig& camera_;
  std::string password_;
  std::chrono::steady_clock::time_point deadline_;
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  std::string host_, port_, target_, where_;
};

}  // namespace

Shot http_snapshot(const CameraConfig& camera, const std::string& password,
                   std::chrono::steady_clock::time_point deadline) {
  return Exchange(camera, password, deadline).run();
}

}  // namespace weighlink::agent::camera
