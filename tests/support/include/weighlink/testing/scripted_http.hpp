#pragma once
// A loopback HTTP (or HTTPS) server for integration tests that answers from a script: the n-th
// request gets the n-th response (the last one repeats), each after its own delay, on a connection
// that is closed afterwards. It records every request it read, with the time it arrived.
//
// For clients under test that must cope with a failing endpoint: a webhook answering 503, 502,
// then 200; a WebDAV server that only answers 503; a server slower than the client's timeout.
//
// Threading: one I/O thread of its own (Boost.Asio); every public member is thread-safe. The
// destructor stops the thread (delayed answers are dropped) and joins it.

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace weighlink::testing {

struct ScriptedResponse {
  int status = 200;
  std::string body;
  std::chrono::milliseconds delay{0};  // after the request was read
  std::string content_type = "text/plain";
};

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::chrono::steady_clock::time_point at;
};

class ScriptedHttpServer {
 public:
  // Plain HTTP on 127.0.0.1:0. `script` must not be empty.
  explicit ScriptedHttpServer(std::vector<ScriptedResponse> script);
  // HTTPS with a PEM certificate and key (e.g. from TlsCa::server).
  ScriptedHttpServer(std::vector<ScriptedResponse> script, const std::filesystem::path& cert,
                     const std::filesystem::path& key);
  ~ScriptedHttpServer();
  ScriptedHttpServer(const ScriptedHttpServer&) = delete;
  ScriptedHttpServer& operator=(const ScriptedHttpServer&) = delete;

  [[nodiscard]] std::string address() const;  // "127.0.0.1:PORT"
  [[nodiscard]] std::vector<ReceivedRequest> requests() const;
  [[nodiscard]] std::size_t connections() const;  // accepted, TLS handshakes failed included
  // Responses written so far (their delay over): a client that returned before this grew had
  // given up before any answer was sent.
  [[nodiscard]] std::size_t answered() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weighlink::testing
