#pragma once
// HTTPS and WSS clients for integration tests, as a browser that trusts one CA file only: the
// server's chain must verify against `ca_file`, and its certificate must name `server_name` (a
// DNS name, sent as SNI, or an IP address). Loopback, with timeouts.

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "weighlink/testing/http_client.hpp"

namespace weighlink::testing {

struct TlsClientOptions {
  std::filesystem::path ca_file;
  std::string server_name = "127.0.0.1";
};

struct HttpsResult : HttpResult {
  std::string peer_sha256;  // the server certificate's fingerprint, "AB:CD:..."
  std::string tls_version;  // "TLSv1.3"
};

// One request on a fresh connection. Host is server_name:PORT unless `headers` has "Host".
// Throws on connection, handshake (verification) failure or timeout; the message says which.
HttpsResult https_request(const std::string& address, const TlsClientOptions& tls,
                          const std::string& method, const std::string& target,
                          const std::map<std::string, std::string>& headers = {},
                          const std::string& body = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A WebSocket over TLS, with WsClient's reading interface.
class WssClient {
 public:
  // Connects, verifies, completes the handshake; throws on failure.
  WssClient(const std::string& address, const TlsClientOptions& tls, const std::string& target,
            const std::map<std::string, std::string>& headers = {});
  ~WssClient();
  WssClient(const WssClient&) = delete;
  WssClient& operator=(const WssClient&) = delete;

  // The next text message, or nullopt when none arrived in time or the socket closed.
  std::optional<std::string> read(std::chrono::milliseconds timeout);
  void write(const std::string& text);
  [[nodiscard]] bool closed() const;
  [[nodiscard]] const std::string& peer_sha256() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weighlink::testing
