#pragma once
// The backend's HTTP endpoints as pure functions: request line in, reply out. No socket here;
// http_server.cpp (Beast) does the I/O and the readiness probe.

#include <string>
#include <string_view>

#include "weighlink/service/metrics.hpp"

namespace weighlink::service {

struct HttpReply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

enum class Route { healthz, readyz, metrics, not_found, method_not_allowed };

// Routes on the path only; the query string is ignored.
[[nodiscard]] Route route(std::string_view method, std::string_view target) noexcept;

// What the readiness probe found.
struct ReadyState {
  bool saturated = false;  // the probe could not even be queued (worker pool full)
  bool database_reachable = false;
  int schema_version = 0;
  int latest_version = 0;
  std::string detail;  // why not ready (database error, pool saturated)
};

[[nodiscard]] HttpReply health_reply();
[[nodiscard]] HttpReply ready_reply(const ReadyState& state);
[[nodiscard]] HttpReply metrics_reply(const MetricsSnapshot& snapshot);
// {"error":code,"message":...,"correlation_id":...}
[[nodiscard]] HttpReply error_reply(unsigned status, std::string_view code,
                                    std::string_view message, std::string_view correlation_id);

}  // namespace weighlink::service
