#pragma once
// A small HTTP/1.1 server (Boost.Beast) for /healthz, /readyz and /metrics, with a read timeout
// and a body limit on every request. Runs its own io_context on one thread.
//
// Threading: start/stop from the owning thread; the probe callbacks run on the server thread and
// may complete from any thread.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "weighlink/base/error.hpp"
#include "weighlink/service/http_routes.hpp"

namespace weighlink::service {

struct HttpHooks {
  // Starts a readiness probe; calls `done` exactly once, from any thread.
  std::function<void(std::function<void(ReadyState)> done)> probe_ready;
  std::function<MetricsSnapshot()> metrics;
};

class HttpServer {
 public:
  // Binds `listen` ("HOST:PORT", port 0 = any free port) and starts serving. Errors:
  // invalid_argument when `listen` is not an IP literal (or localhost) and a port, "invalid HTTP
  // listen address: ..."; the socket's own error when it cannot bind, "cannot listen for HTTP on
  // HOST:PORT: ...".
  [[nodiscard]] static base::Expected<std::unique_ptr<HttpServer>> start(std::string_view listen,
                                                                         HttpHooks hooks);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "HOST:PORT" actually bound.
  [[nodiscard]] std::string bound_address() const;
  // Stops accepting, closes connections, joins the thread. Idempotent.
  void stop();

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weighlink::service
