#pragma once
// Minimal HTTP and WebSocket clients for integration tests, over loopback, with timeouts.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace weighlink::testing {

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// One request on a fresh connection. Adds Host: 127.0.0.1:PORT unless `headers` has "Host".
// Throws on connection failure or timeout.
HttpResult http_request(const std::string& address, const std::string& method,
                        const std::string& target,
                        const std::map<std::string, std::string>& headers = {},
                        const std::string& body = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

class WsClient {
 public:
  // Connects and completes the handshake; throws on failure (the message has the HTTP status).
  WsClient(const std::string& address, const std::string& target,
           const std::map<std::string, std::string>& headers = {});
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // The next text message, or nullopt when none arrived in time or the socket closed.
  std::optional<std::string> read(std::chrono::milliseconds timeout);
  void write(const std::string& text);
  [[nodiscard]] bool closed() const;
  // Pings received from the server (answered with pongs while read() runs).
  [[nodiscard]] std::size_t pings() const;
  // The close code the server sent (1009 too big, 1008 policy, ...), once read() saw the close.
  [[nodiscard]] std::optional<int> close_code() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weighlink::testing
