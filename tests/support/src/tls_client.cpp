#include "weighlink/testing/tls_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <functional>
#include <stdexcept>

#include "beast_client.hpp"
#include "weighlink/testing/process.hpp"

namespace weighlink::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

using detail::await;

namespace {

std::shared_ptr<ssl::context> client_context(const TlsClientOptions& tls) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->load_verify_file(tls.ca_file.string());  // this CA only, not the system's
  ctx->set_verify_mode(ssl::verify_peer);
  return ctx;
}

// Connects and completes the TLS handshake, verifying the chain and the name.
void connect(asio::io_context& ioc, TlsStream& stream, const std::string& address,
             const TlsClientOptions& tls, std::chrono::milliseconds timeout) {
  auto [host, port] = split_host_port(address);
  const tcp::endpoint where(asio::ip::make_address(host), port);
  boost::system::error_code ec;
  asio::ip::make_address(tls.server_name, ec);
  if (ec) SSL_set_tlsext_host_name(stream.native_handle(), tls.server_name.c_str());  // SNI
  stream.set_verify_callback(ssl::host_name_verification(tls.server_name));
  auto& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_after(timeout);
  ec = await(ioc, timeout + std::chrono::seconds(1), "TCP connect to " + address,
             [&](auto done) { tcp_layer.async_connect(where, done); });
  if (ec) throw std::runtime_error("connect to " + address + ": " + ec.message());
  ec = await(ioc, timeout + std::chrono::seconds(1), "TLS handshake with " + address,
             [&](auto done) { stream.async_handshake(ssl::stream_base::client, done); });
  if (ec) {
    throw std::runtime_error("TLS handshake with " + address + " as " + tls.server_name + ": " +
                             ec.message());
  }
  tcp_layer.expires_never();
}

std::string peer_fingerprint(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return {};
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md.data(), &n);
  X509_free(cert);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    if (i) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string host_header(const std::string& address, const TlsClientOptions& tls) {
  return tls.server_name + address.substr(address.rfind(':'));
}

}  // namespace

HttpsResult https_request(const std::string& address, const TlsClientOptions& tls,
                          const std::string& method, const std::string& target,
                          const std::map<std::string, std::string>& headers,
                          const std::string& body, std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  auto ctx = client_context(tls);
  TlsStream stream(ioc, *ctx);
  connect(ioc, stream, address, tls, timeout);
  HttpsResult out;
  static_cast<HttpResult&>(out) = detail::exchange(ioc, stream, address, host_header(address, tls),
                                                   method, target, headers, body, timeout);
  out.peer_sha256 = peer_fingerprint(stream.native_handle());
  out.tls_version = SSL_get_version(stream.native_handle());
  return out;
}

struct WssClient::Impl {
  asio::io_context ioc;
  std::shared_ptr<ssl::context> ctx;
  std::optional<websocket::stream<TlsStream>> ws;
  beast::flat_buffer buffer;
  bool closed = false;
  std::string peer_sha256;
};

WssClient::WssClient(const std::string& address, const TlsClientOptions& tls,
                     const std::string& target, const std::map<std::string, std::string>& headers)
    : impl_(std::make_unique<Impl>()) {
  impl_->ctx = client_context(tls);
  auto& ws = impl_->ws.emplace(impl_->ioc, *impl_->ctx);
  connect(impl_->ioc, ws.next_layer(), address, tls, std::chrono::seconds(10));
  impl_->peer_sha256 = peer_fingerprint(ws.next_layer().native_handle());
  ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [k, v] : headers) req.set(k, v);
  }));
  websocket::response_type res;
  auto ec = await(impl_->ioc, std::chrono::seconds(10), "WebSocket handshake", [&](auto done) {
    ws.async_handshake(res, host_header(address, tls), target, done);
  });
  if (ec) {
    throw std::runtime_error("WebSocket handshake refused: HTTP " +
                             std::to_string(res.result_int()) + " " + res.body());
  }
}

WssClient::~WssClient() {
  beast::error_code ec;
  beast::get_lowest_layer(*impl_->ws).socket().close(ec);
}

std::optional<std::string> WssClient::read(std::chrono::milliseconds timeout) {
  if (impl_->closed) return std::nullopt;
  // Beast cannot resume a cancelled read: after a timeout the client counts as closed.
  auto ec = await(
      impl_->ioc, timeout, "WebSocket read",
      [&](auto done) { impl_->ws->async_read(impl_->buffer, done); },
      [&] { beast::get_lowest_layer(*impl_->ws).socket().cancel(); });
  if (ec) {
    impl_->closed = true;
    return std::nullopt;
  }
  std::string text = beast::buffers_to_string(impl_->buffer.data());
  impl_->buffer.consume(impl_->buffer.size());
  return text;
}

void WssClient::write(const std::string& text) {
  impl_->ws->text(true);
  auto ec = await(impl_->ioc, std::chrono::seconds(10), "WebSocket write",
                  [&](auto done) { impl_->ws->async_write(asio::buffer(text), done); });
  if (ec) throw std::runtime_error("WebSocket write: " + ec.message());
}

bool WssClient::closed() const { return impl_->closed; }

const std::string& WssClient::peer_sha256() const { return impl_->peer_sha256; }

}  // namespace weighlink::testing
