// weighlink::agent::Server (server.hpp) over Boost.Beast: its public side.
#include "weighlink/agent/server.hpp"

#include <spdlog/spdlog.h>

#include <exception>

#include "http/http_session.hpp"
#include "http/live_session.hpp"
#include "http/server_impl.hpp"

namespace weighlink::agent {

Server::Server(asio::io_context& ioc, Api& api, LiveOptions options, ServerLimits limits)
    : impl_(std::make_shared<Impl>(ioc, api, options, limits)) {}

Server::~Server() {
  try {
    stop();
  } catch (const std::exception& e) {  // a timer that cannot be cancelled; the process is ending
    spdlog::error("stopping the HTTP server: {}", e.what());
  }
}

base::Expected<std::string> Server::listen(const std::string& host, std::uint16_t port) {
  return impl_->bind(host, port, Endpoint::native, false);
}

void Server::set_truconnect(TruConnect& tc) { impl_->truconnect = &tc; }

base::Expected<std::string> Server::listen_truconnect(bool websocket) {
  const auto& c = impl_->truconnect->config();
  auto bound = websocket ? impl_->bind(c.ws_host, c.ws_port, Endpoint::truconnect_ws, false)
                         : impl_->bind(c.http_host, c.http_port, Endpoint::truconnect_http, false);
  if (!bound) {
    return base::Error{bound.error().code,
                       "TruConnect compatibility: " + std::move(bound.error().message)};
  }
  return bound;
}

base::Expected<void> Server::set_tls_certificate(const std::filesystem::path& cert_file,
                                                 const std::filesystem::path& key_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  beast::error_code ec;
  // TLS 1.2 and 1.3 only; the ECDHE suites OpenSSL offers by default for an ECDSA key.
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  if (!ec) ctx->use_certificate_chain_file(cert_file.string(), ec);
  if (ec) {
    return base::Error{
        ec, cert_file.string() + ": cannot load the server certificate: " + ec.message()};
  }
  ctx->use_private_key_file(key_file.string(), ssl::context::pem, ec);
  if (ec) {
    return base::Error{
        ec, key_file.string() + ": cannot load the server certificate's key: " + ec.message()};
  }
  impl_->tls_context = std::move(ctx);
  return {};
}

base::Expected<std::string> Server::listen_tls(const std::string& host, std::uint16_t port) {
  return impl_->bind(host, port, Endpoint::native, true);
}

base::Expected<Server::TruConnectTlsBound> Server::listen_truconnect_tls(TruConnect& tc) {
  impl_->truconnect = &tc;
  const auto& c = tc.config();
  auto wss = impl_->bind(c.wss_host, c.wss_port, Endpoint::truconnect_ws, true);
  auto https = wss ? impl_->bind(c.https_host, c.https_port, Endpoint::truconnect_http, true)
                   : base::Expected<std::string>(wss.error());
  if (!https) {
    return base::Error{https.error().code,
                       "TruConnect compatibility over TLS: " + std::move(https.error().message)};
  }
  return TruConnectTlsBound{std::move(*wss), std::move(*https)};
}

void Server::publish_reading(const scale::Reading& reading) {
  auto body = scale::to_json(reading, true);
  json::object msg{{"type", "reading"}};
  for (auto& [k, v] : body) msg[k] = std::move(v);
  auto shared = std::make_shared<const std::string>(json::serialize(msg));
  impl_->latest[reading.scale] = shared;
  // TruConnect frames are built at most once per reading and mode, only when a client wants one.
  TruConnect* tc = impl_->truconnect && impl_->truconnect->scale_id() == reading.scale
                       ? impl_->truconnect
                       : nullptr;
  Message tc_mobile;
  Message tc_multideck;
  // No copy of the set per reading: sending only starts async writes, and a session leaves the
  // set in a completion handler, never inside send_reading().
  for (const auto& s : impl_->sessions) {
    if (s->endpoint() == Endpoint::native) {
      s->send_reading(reading.scale, shared);
      continue;
    }
    if (!tc || !s->truconnect_client().registered) continue;
    const bool multi = s->truconnect_client().mode == "multideck";
    auto& slot = multi ? tc_multideck : tc_mobile;
    if (!slot) {
      slot =
          std::make_shared<const std::string>(tc->weight_message(multi ? "multideck" : "mobile"));
    }
    s->send_reading(reading.scale, slot);
  }
}

void Server::publish_status() {
  if (impl_->sessions.empty()) return;
  Message msg;
  for (const auto& s : impl_->sessions) {
    if (s->endpoint() != Endpoint::native) continue;
    if (!msg) msg = impl_->status_message();
    s->send_status(msg);
  }
}

void Server::close_origin(const std::string& origin) {
  auto sessions = impl_->sessions;
  for (const auto& s : sessions) {
    if (!origin.empty() && s->origin() == origin) s->close();
  }
}

std::size_t Server::live_clients() const { return impl_->sessions.size(); }

std::size_t Server::connections() const { return impl_->total_connections(); }

std::size_t Server::body_bytes_in_flight() const { return impl_->body_budget.in_use(); }

void Server::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  beast::error_code ec;
  impl_->sweep_timer.cancel();
  for (auto& l : impl_->listeners) {
    l->acceptor->close(ec);
    l->pause->cancel();
  }
  auto sessions = impl_->sessions;
  for (const auto& s : sessions) s->close();
  impl_->sessions.clear();
}

}  // namespace weighlink::agent
