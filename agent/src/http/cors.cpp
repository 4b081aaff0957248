#include "weighlink/agent/cors.hpp"

#include <algorithm>
#include <cctype>

namespace weighlink::agent {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

}  // namespace

const CorsPolicy& api_cors() {
  static const CorsPolicy kPolicy{{"GET", "POST", "DELETE"},
                                  {"Content-Type", "Idempotency-Key", "Accept"},
                                  {"X-Correlation-Id", "Idempotent-Replayed"},
                                  600};
  return kPolicy;
}

const CorsPolicy& truconnect_cors() {
  static const CorsPolicy kPolicy{
      {"GET", "POST"}, {"Content-Type", "Accept"}, {"X-Correlation-Id"}, 600};
  return kPolicy;
}

HttpResponse cors_preflight(const HttpRequest& request, const std::string& origin,
                            const CorsPolicy& policy) {
  HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  r.headers = {{"Access-Control-Allow-Origin", origin},
               {"Access-Control-Allow-Methods", join(policy.methods)},
               {"Access-Control-Max-Age", std::to_string(policy.max_age_s)},
               {"Vary",
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
                "Access-Control-Request-Private-Network"}};
  std::vector<std::string> granted;
  const auto requested = request.header("access-control-request-headers");
  std::string_view rest = requested;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto name = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    for (const auto& allowed : policy.headers) {
      if (iequals(name, allowed) &&
          std::find(granted.begin(), granted.end(), allowed) == granted.end()) {
        granted.push_back(allowed);
      }
    }
  }
  if (!granted.empty()) r.headers.emplace_back("Access-Control-Allow-Headers", join(granted));
  if (iequals(trim(request.header("access-control-request-private-network")), "true")) {
    r.headers.emplace_back("Access-Control-Allow-Private-Network", "true");
  }
  return r;
}

void add_cors_headers(HttpResponse& response, const std::string& origin, const CorsPolicy& policy) {
  if (origin.empty()) return;
  response.headers.emplace_back("Access-Control-Allow-Origin", origin);
  response.headers.emplace_back("Vary", "Origin");
  if (!policy.expose.empty()) {
    response.headers.emplace_back("Access-Control-Expose-Headers", join(policy.expose));
  }
}

}  // namespace weighlink::agent
