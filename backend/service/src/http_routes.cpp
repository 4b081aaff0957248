#include "weighlink/service/http_routes.hpp"

#include <boost/json.hpp>

namespace weighlink::service {

Route route(std::string_view method, std::string_view target) noexcept {
  const std::string_view path = target.substr(0, target.find('?'));
  Route found = Route::not_found;
  if (path == "/healthz") {
    found = Route::healthz;
  } else if (path == "/readyz") {
    found = Route::readyz;
  } else if (path == "/metrics") {
    found = Route::metrics;
  }
  if (found != Route::not_found && method != "GET" && method != "HEAD") {
    return Route::method_not_allowed;
  }
  return found;
}

HttpReply health_reply() { return {200, "application/json", R"({"status":"ok"})"}; }

HttpReply ready_reply(const ReadyState& state) {
  boost::json::object body;
  body["schema_version"] = state.schema_version;
  body["latest_schema_version"] = state.latest_version;
  body["database"] = state.database_reachable ? "reachable" : "unreachable";
  unsigned status = 200;
  if (state.saturated) {
    status = 503;
    body["status"] = "unavailable";
    body["reason"] = "worker pool saturated: the backend is overloaded; retry shortly";
  } else if (!state.database_reachable) {
    status = 503;
    body["status"] = "unavailable";
    body["reason"] = "database unreachable: " + state.detail;
  } else if (state.schema_version < state.latest_version) {
    status = 503;
    body["status"] = "unavailable";
    body["reason"] = "schema at version " + std::to_string(state.schema_version) +
                     ", this binary needs " + std::to_string(state.latest_version) +
                     ": run `weighlink-backend migrate --dsn ...`";
  } else {
    body["status"] = "ready";
  }
  return {status, "application/json", boost::json::serialize(body)};
}

HttpReply metrics_reply(const MetricsSnapshot& snapshot) {
  return {200, "text/plain; version=0.0.4; charset=utf-8", render_prometheus(snapshot)};
}

HttpReply error_reply(unsigned status, std::string_view code, std::string_view message,
                      std::string_view correlation_id) {
  boost::json::object body;
  body["error"] = code;
  body["message"] = message;
  body["correlation_id"] = correlation_id;
  return {status, "application/json", boost::json::serialize(body)};
}

}  // namespace weighlink::service
