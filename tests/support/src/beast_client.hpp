#pragma once
// What the plain and the TLS clients share (http_client.cpp, tls_client.cpp): running one
// operation on a private io_context with a bound, and one HTTP request and its response over a
// connected stream.

#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "weighlink/testing/http_client.hpp"

namespace weighlink::testing::detail {

// Starts an operation with a completion callback and runs `ioc` until it completes. The error
// code it completed with. After `timeout`: with `cancel`, that is called and the operation's end
// awaited (timed_out); without, throws.
template <class Start>
boost::beast::error_code await(boost::asio::io_context& ioc, std::chrono::milliseconds timeout,
                               const std::string& what, Start&& start,
                               const std::function<void()>& cancel = {}) {
  std::optional<boost::beast::error_code> result;
  start([&result](boost::beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!result && std::chrono::steady_clock::now() < deadline) {
    ioc.run_for(std::chrono::milliseconds(10));
    if (ioc.stopped()) ioc.restart();
  }
  if (result) return *result;
  if (!cancel) throw std::runtime_error(what + " timed out");
  cancel();
  while (!result) ioc.run_one();
  return boost::asio::error::timed_out;
}

// Sends one request over the connected `stream` and reads the answer, each bounded by `timeout`.
// Throws naming the request, with `address`, when it fails.
template <class Stream>
HttpResult exchange(boost::asio::io_context& ioc, Stream& stream, const std::string& address,
                    const std::string& host, const std::string& method, const std::string& target,
                    const std::map<std::string, std::string>& headers, const std::string& body,
                    std::chrono::milliseconds timeout) {
  namespace http = boost::beast::http;
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, host);
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  boost::beast::get_lowest_layer(stream).expires_after(timeout);
  const std::string what = method + " " + target;
  auto ec = await(ioc, timeout + std::chrono::seconds(1), what,
                  [&](auto done) { http::async_write(stream, req, done); });
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  if (!ec) {
    ec = await(ioc, timeout + std::chrono::seconds(1), what,
               [&](auto done) { http::async_read(stream, buffer, parser, done); });
  }
  if (ec) throw std::runtime_error(what + " on " + address + ": " + ec.message());
  const auto res = parser.release();
  HttpResult out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  out.body = res.body();
  return out;
}

}  // namespace weighlink::testing::detail
