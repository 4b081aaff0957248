// The drill's /readyz probe: one GET over the backend's one HTTP client (notify_http.cpp).
#include "drill_probes.hpp"
#include "notify_http.hpp"
#include "weighlink/base/host_port.hpp"

namespace weighlink::recovery {

HttpAnswer http_get(const std::string& address, const std::string& target,
                    std::chrono::milliseconds timeout) {
  HttpAnswer answer;
  auto parsed = base::parse_host_port(address);
  if (!parsed) {
    answer.error = "not a HOST:PORT: " + parsed.error().message;
    return answer;
  }
  NotifyTarget to;
  to.host = std::move(parsed->host);
  to.port = parsed->port;
  to.target = target;
  const auto attempt = http_get_once(to, timeout);
  answer.status = attempt.status;
  (attempt.status != 0 ? answer.body : answer.error) = attempt.detail;
  return answer;
}

}  // namespace weighlink::recovery
