#pragma once
// CORS answers for browser origins the agent allows (docs/browsers.md): the preflight, with
// Chrome's Private Network Access opt-in, and the headers on actual answers. The caller has
// checked the origin; nothing here ever answers `*`. Pure.

#include <string>
#include <string_view>
#include <vector>

#include "weighlink/agent/http_types.hpp"

namespace weighlink::agent {

struct CorsPolicy {
  std::vector<std::string> methods;  // e.g. {"GET", "POST"}
  std::vector<std::string> headers;  // request headers a page may send, e.g. {"Content-Type"}
  std::vector<std::string> expose;   // response headers a page may read
  int max_age_s = 600;
};

// The local API's port and TruConnect's REST port.
[[nodiscard]] const CorsPolicy& api_cors();
[[nodiscard]] const CorsPolicy& truconnect_cors();

// The 204 answer to an OPTIONS request from the allowed `origin` (non-empty): the origin echoed,
// the policy's methods, only those requested headers (Access-Control-Request-Headers) the policy
// allows (in the policy's spelling), Max-Age, Vary on everything the answer depends on, and
// Access-Control-Allow-Private-Network: true when Access-Control-Request-Private-Network: true
// asked for it.
[[nodiscard]] HttpResponse cors_preflight(const HttpRequest& request, const std::string& origin,
                                          const CorsPolicy& policy);

// Access-Control-Allow-Origin, Vary: Origin and Access-Control-Expose-Headers on an actual answer
// to the allowed `origin` (nothing when it is empty: no browser asked).
void add_cors_headers(HttpResponse& response, const std::string& origin, const CorsPolicy& policy);

}  // namespace weighlink::agent
