#pragma once
// The HTTP and WebSocket adapter (Boost.Beast): accepts connections, turns requests into
// HttpRequest for the Api (and the TruConnect layer on its own ports), and fans live readings out
// to WebSocket clients, latest-wins per client so a slow browser never slows the scale reader or
// the other clients.
// Threading: every member runs on the io_context's single thread.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "weighlink/agent/api.hpp"
#include "weighlink/agent/config.hpp"
#include "weighlink/agent/truconnect.hpp"
#include "weighlink/base/error.hpp"
#include "weighlink/scale/reading.hpp"

namespace weighlink::agent {

class Server {
 public:
  Server(boost::asio::io_context& ioc, Api& api, LiveOptions options = {},
         ServerLimits limits = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting: "HOST:PORT" with the real port, or the Error (the socket's code;
  // invalid_argument for a host that is not an IP address) naming the address.
  [[nodiscard]] base::Expected<std::string> listen(const std::string& host, std::uint16_t port);
  // TruConnect compatibility: the layer that its WebSocket (any path) and REST ports serve.
  void set_truconnect(TruConnect& tc);
  // Binds TruConnect's WebSocket port (`websocket`) or its REST port, from the config of the
  // layer given to set_truconnect(). May be called again after a failure (the port was taken).
  [[nodiscard]] base::Expected<std::string> listen_truconnect(bool websocket);
  // TLS (docs/local-tls.md): the certificate chain and its key (PEM files) of the TLS listeners.
  // Called again (a renewed certificate), new connections get the new one and open ones keep
  // theirs. The Error when the files do not load; the previous certificate stays.
  [[nodiscard]] base::Expected<void> set_tls_certificate(const std::filesystem::path& cert_file,
                                                         const std::filesystem::path& key_file);
  // The same as listen() and listen_truconnect(), over TLS (TLS 1.2 or newer), on `host:port` and
  // on the TruConnect config's wss/https addresses; set_tls_certificate() first.
  [[nodiscard]] base::Expected<std::string> listen_tls(const std::string& host, std::uint16_t port);
  struct TruConnectTlsBound {
    std::string wss;    // "HOST:PORT"
    std::string https;  // "HOST:PORT"
  };
  [[nodiscard]] base::Expected<TruConnectTlsBound> listen_truconnect_tls(TruConnect& tc);
  void publish_reading(const scale::Reading& reading);
  void publish_status();
  // Closes every live and TruConnect socket a browser page of `origin` (normalized) opened: the
  // operator revoked it.
  void close_origin(const std::string& origin);
  [[nodiscard]] std::size_t live_clients() const;
  // Connections open now on all listeners (HTTP and live), and request-body bytes reserved.
  [[nodiscard]] std::size_t connections() const;
  [[nodiscard]] std::size_t body_bytes_in_flight() const;
  void stop();

  struct Impl;  // the Beast adapter's state; defined in server_beast.cpp

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace weighlink::agent
