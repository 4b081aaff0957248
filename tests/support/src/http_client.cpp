#include "weighlink/testing/http_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <stdexcept>

#include "beast_client.hpp"
#include "weighlink/testing/process.hpp"

namespace weighlink::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

tcp::endpoint endpoint_of(const std::string& address) {
  auto [host, port] = split_host_port(address);
  return {asio::ip::make_address(host), port};
}

}  // namespace

HttpResult http_request(const std::string& address, const std::string& method,
                        const std::string& target,
                        const std::map<std::string, std::string>& headers, const std::string& body,
                        std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(timeout);
  const auto ec =
      detail::await(ioc, timeout + std::chrono::seconds(1), "HTTP request",
                    [&](auto done) { stream.async_connect(endpoint_of(address), done); });
  if (ec) throw std::runtime_error(method + " " + target + " on " + address + ": " + ec.message());
  return detail::exchange(ioc, stream, address, address, method, target, headers, body, timeout);
}

struct WsClient::Impl {
  asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  bool closed = false;
  std::size_t pings = 0;
  std::optional<int> close_code;
};

WsClient::WsClient(const std::string& address, const std::string& target,
                   const std::map<std::string, std::string>& headers)
    : impl_(std::make_unique<Impl>()) {
  auto& ws = impl_->ws;
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(10));
  beast::get_lowest_layer(ws).connect(endpoint_of(address));
  beast::get_lowest_layer(ws).expires_never();
  ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [k, v] : headers) req.set(k, v);
  }));
  ws.control_callback([impl = impl_.get()](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::ping) ++impl->pings;
  });
  websocket::response_type res;
  beast::error_code ec;
  ws.handshake(res, address, target, ec);
  if (ec) {
    throw std::runtime_error("WebSocket handshake refused: HTTP " +
                             std::to_string(res.result_int()) + " " + res.body());
  }
}

WsClient::~WsClient() {
  beast::error_code ec;
  beast::get_lowest_layer(impl_->ws).socket().close(ec);
}

std::optional<std::string> WsClient::read(std::chrono::milliseconds timeout) {
  if (impl_->closed) return std::nullopt;
  // Beast cannot resume a cancelled read: after a timeout the client counts as closed.
  const auto ec = detail::await(
      impl_->ioc, timeout, "WebSocket read",
      [&](auto done) { impl_->ws.async_read(impl_->buffer, done); },
      [&] { beast::get_lowest_layer(impl_->ws).socket().cancel(); });
  if (ec) {
    impl_->closed = true;
    if (ec == websocket::error::closed) impl_->close_code = impl_->ws.reason().code;
    return std::nullopt;
  }
  std::string text = beast::buffers_to_string(impl_->buffer.data());
  impl_->buffer.consume(impl_->buffer.size());
  return text;
}

void WsClient::write(const std::string& text) {
  impl_->ws.text(true);
  impl_->ws.write(asio::buffer(text));
}

bool WsClient::closed() const { return impl_->closed; }

std::size_t WsClient::pings() const { return impl_->pings; }

std::optional<int> WsClient::close_code() const { return impl_->close_code; }

}  // namespace weighlink::testing
