#include "weighlink/testing/http_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <stdexcept>

#include "beast_result.hpp"
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

// Runs the io_context until `done` or the timeout; throws on timeout.
void run_until(asio::io_context& ioc, const bool& done, std::chrono::milliseconds timeout,
               const char* what) {
  ioc.restart();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    ioc.run_for(std::chrono::milliseconds(10));
    if (ioc.stopped()) ioc.restart();
  }
  if (!done) throw std::runtime_error(std::string(what) + " timed out");
}

}  // namespace

HttpResult http_request(const std::string& address, const std::string& method,
                        const std::string& target,
                        const std::map<std::string, std::string>& headers, const std::string& body,
                        std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(timeout);
  bool done = false;
  beast::error_code result_ec;
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, address);
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  stream.async_connect(endpoint_of(address), [&](beast::error_code ec) {
    if (ec) {
      result_ec = ec;
      done = true;
      return;
    }
    http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
      if (ec) {
        result_ec = ec;
        done = true;
        return;
      }
      http::async_read(stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
        result_ec = ec;
        done = true;
      });
    });
  });
  run_until(ioc, done, timeout + std::chrono::seconds(1), "HTTP request");
  if (result_ec) {
    throw std::runtime_error(method + " " + target + " on " + address + ": " + result_ec.message());
  }
  HttpResult out;
  detail::fill_result(parser.release(), out);
  return out;
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
  bool done = false;
  beast::error_code result_ec;
  impl_->ws.async_read(impl_->buffer, [&](beast::error_code ec, std::size_t) {
    result_ec = ec;
    done = true;
  });
  impl_->ioc.restart();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    impl_->ioc.run_for(std::chrono::milliseconds(10));
    if (impl_->ioc.stopped()) impl_->ioc.restart();
  }
  if (!done) {
    // Cancel the pending read; the socket stays usable for a later read? Beast cannot resume a
    // cancelled read, so the client counts as closed from here.
    beast::get_lowest_layer(impl_->ws).socket().cancel();
    while (!done) impl_->ioc.run_one();
    impl_->closed = true;
    return std::nullopt;
  }
  if (result_ec) {
    impl_->closed = true;
    if (result_ec == websocket::error::closed) impl_->close_code = impl_->ws.reason().code;
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
