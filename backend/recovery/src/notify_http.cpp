// The backend's one HTTP client: one request (the notification's POST, the drill's GET) over
// Boost.Beast (http) or Beast over OpenSSL (https). The steps run one after the other on an
// io_context of their own, as asynchronous operations so that the tcp_stream's deadline bounds
// each of them (Beast's synchronous calls have no timeout).
#include "notify_http.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <optional>

#include "weighlink/base/host_port.hpp"

namespace weighlink::recovery {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kBodyLimit =
    std::size_t{64} * 1024;  // of the answer: only its start is reported
constexpr std::size_t kExcerpt = 200;

// Starts an asynchronous operation and runs the io_context until its handler ran.
template <class Start>
beast::error_code step(asio::io_context& ioc, Start&& start) {
  beast::error_code result;
  bool done = false;
  start([&](beast::error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  ioc.restart();
  while (!done && ioc.run_one() > 0) {
  }
  return result;
}

std::string excerpt(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, kExcerpt)) {
    out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c);
  }
  if (body.size() > kExcerpt) out += "...";
  return out;
}

bool is_ip(const std::string& host) {
  beast::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

class HttpTransport final : public NotifyTransport {
 public:
  HttpTransport(NotifyTarget target, const NotifyPolicy& policy)
      : target_(std::move(target)),
        connect_timeout_(policy.connect_timeout),
        attempt_timeout_(policy.attempt_timeout) {}

  // https: the system's trust store, the policy's CA file, peer verification.
  base::Expected<void> init_tls(const NotifyPolicy& policy) {
    tls_.emplace(ssl::context::tls_client);
    beast::error_code ec;
    tls_->set_default_verify_paths(ec);
    if (!ec && !policy.ca_file.empty()) tls_->load_verify_file(policy.ca_file.string(), ec);
    if (!ec) tls_->set_verify_mode(ssl::verify_peer, ec);
    if (ec) {
      return base::Error{
          ec, "cannot set up TLS for the notification (" + ec.message() + ")" +
                  (policy.ca_file.empty() ? std::string()
                                          : "; check the CA file " + policy.ca_file.string())};
    }
    return {};
  }

  NotifyAttempt post(const std::string& json_body) override {
    return send(http::verb::post, json_body);
  }

  // One request: POST with a JSON body, or GET with none.
  NotifyAttempt send(http::verb verb, const std::string& body) {
    const auto started = Clock::now();
    NotifyAttempt attempt =
        tls_ ? exchange_tls(verb, body, started) : exchange_plain(verb, body, started);
    attempt.elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
    return attempt;
  }

 private:
  NotifyAttempt exchange_plain(http::verb verb, const std::string& body,
                               Clock::time_point started) {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    NotifyAttempt attempt;
    if (!connect(ioc, stream, started, attempt)) return attempt;
    exchange(ioc, stream, verb, body, attempt);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return attempt;
  }

  NotifyAttempt exchange_tls(http::verb verb, const std::string& body, Clock::time_point started) {
    asio::io_context ioc;
    beast::ssl_stream<beast::tcp_stream> stream(ioc, *tls_);
    NotifyAttempt attempt;
    if (!connect(ioc, beast::get_lowest_layer(stream), started, attempt)) return attempt;
    SSL* native = stream.native_handle();
    // SNI for names only (RFC 6066 forbids addresses); the certificate must match the host.
    const bool ip = is_ip(target_.host);
    const bool named =
        ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), target_.host.c_str()) == 1
           : SSL_set_tlsext_host_name(native, target_.host.c_str()) == 1 &&
                 SSL_set1_host(native, target_.host.c_str()) == 1;
    if (!named) {
      attempt.error = NotifyError::tls;
      attempt.detail = "cannot set the TLS server name " + target_.host;
      return attempt;
    }
    const auto ec = step(ioc, [&](auto handler) {
      stream.async_handshake(ssl::stream_base::client, std::move(handler));
    });
    if (ec) {
      const long verify = SSL_get_verify_result(native);
      if (verify != X509_V_OK) {
        attempt.error = NotifyError::tls_verify;
        attempt.detail = std::string("certificate of ") + target_.host +
                         " not accepted: " + X509_verify_cert_error_string(verify);
      } else {
        attempt.error = ec == beast::error::timeout ? NotifyError::timeout : NotifyError::tls;
        attempt.detail = "TLS handshake: " + ec.message();
      }
      return attempt;
    }
    exchange(ioc, stream, verb, body, attempt);
    return attempt;  // no TLS close_notify: the answer is in, and servers often just close
  }

  // Resolves and connects within the connect timeout (and the attempt's).
  bool connect(asio::io_context& ioc, beast::tcp_stream& stream, Clock::time_point started,
               NotifyAttempt& attempt) {
    const auto deadline = std::min(started + connect_timeout_, started + attempt_timeout_);
    tcp::resolver resolver(ioc);
    asio::steady_timer timer(ioc, deadline);
    bool timed_out = false;
    timer.async_wait([&](beast::error_code ec) {
      if (!ec) {
        timed_out = true;
        resolver.cancel();
      }
    });
    tcp::resolver::results_type endpoints;
    auto ec = step(ioc, [&](auto handler) {
      resolver.async_resolve(
          target_.host, std::to_string(target_.port),
          [&endpoints, handler](beast::error_code e, tcp::resolver::results_type r) mutable {
            endpoints = std::move(r);
            handler(e);
          });
    });
    // Run the timer's handler now (cancelled, or expired just after the answer): it refers to
    // this frame's resolver.
    timer.cancel();
    ioc.restart();
    ioc.poll();
    if (ec) {
      attempt.error = timed_out ? NotifyError::timeout : NotifyError::resolve;
      attempt.detail =
          "cannot resolve " + target_.host + ": " + (timed_out ? "timed out" : ec.message());
      return false;
    }
    stream.expires_at(deadline);
    ec = step(ioc, [&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
    if (ec) {
      attempt.error = ec == beast::error::timeout             ? NotifyError::timeout
                      : ec == asio::error::connection_refused ? NotifyError::refused
                                                              : NotifyError::connect;
      attempt.detail = "cannot connect to " + target_.endpoint() + ": " +
                       (ec == beast::error::timeout
                            ? "no answer within " + std::to_string(connect_timeout_.count()) + " ms"
                            : ec.message());
      return false;
    }
    stream.expires_at(started + attempt_timeout_);
    return true;
  }

  // Writes the request and reads the answer, within the attempt's deadline.
  template <class Stream>
  void exchange(asio::io_context& ioc, Stream& stream, http::verb verb, const std::string& body,
                NotifyAttempt& attempt) {
    http::request<http::string_body> request{verb, target_.target, 11};
    const bool default_port = target_.port == (target_.tls ? 443 : 80);
    const auto host = base::format_host_port(target_.host, target_.port);
    request.set(http::field::host, default_port ? host.substr(0, host.rfind(':')) : host);
    request.set(http::field::user_agent, "weighlink-backend/" WEIGHLINK_VERSION);
    if (verb == http::verb::post) request.set(http::field::content_type, "application/json");
    if (!target_.authorization.empty()) {
      request.set(http::field::authorization, target_.authorization);
    }
    request.keep_alive(false);
    request.body() = body;
    request.prepare_payload();
    auto ec =
        step(ioc, [&](auto handler) { http::async_write(stream, request, std::move(handler)); });
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    if (!ec) {
      ec = step(
          ioc, [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
    }
    // An answer too long to keep, or cut after its header, still has its status.
    if (!ec || (parser.is_header_done() &&
                (ec == http::error::body_limit || ec == http::error::partial_message))) {
      attempt.status = static_cast<int>(parser.get().result_int());
      attempt.detail = excerpt(parser.get().body());
      return;
    }
    attempt.error = ec == beast::error::timeout ? NotifyError::timeout : NotifyError::io;
    attempt.detail =
        (ec == beast::error::timeout
             ? "no complete answer within " + std::to_string(attempt_timeout_.count()) + " ms"
             : ec.message()) +
        " from " + target_.endpoint();
  }

  NotifyTarget target_;
  milliseconds connect_timeout_;
  milliseconds attempt_timeout_;
  std::optional<ssl::context> tls_;
};

}  // namespace

base::Expected<std::unique_ptr<NotifyTransport>> make_http_transport(const NotifyTarget& target,
                                                                     const NotifyPolicy& policy) {
  auto transport = std::make_unique<HttpTransport>(target, policy);
  if (target.tls) {
    if (auto tls = transport->init_tls(policy); !tls) return tls.error();
  }
  return std::unique_ptr<NotifyTransport>(std::move(transport));
}

NotifyAttempt http_get_once(const NotifyTarget& target, std::chrono::milliseconds timeout) {
  NotifyPolicy policy;
  policy.connect_timeout = timeout;
  policy.attempt_timeout = timeout;
  NotifyTarget plain = target;
  plain.tls = false;
  return HttpTransport(std::move(plain), policy).send(http::verb::get, {});
}

}  // namespace weighlink::recovery
