#include "weighlink/agent/security.hpp"

#include <algorithm>
#include <cctype>

namespace weighlink::agent {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "Localhost:8420" -> "localhost"; "[::1]:8420" -> "[::1]".
std::string host_name(std::string_view host_header) {
  std::string h = lower(host_header);
  if (!h.empty() && h.front() == '[') {
    const auto close = h.find(']');
    return close == std::string::npos ? h : h.substr(0, close + 1);
  }
  const auto colon = h.find(':');
  return colon == std::string::npos ? h : h.substr(0, colon);
}

}  // namespace

bool host_allowed(std::string_view host_header, const SecurityPolicy& policy) {
  const auto name = host_name(host_header);
  if (name == "localhost" || name == "127.0.0.1" || name == "[::1]") return true;
  return std::any_of(policy.allowed_hosts.begin(), policy.allowed_hosts.end(),
                     [&](const std::string& h) { return lower(h) == name; });
}

bool is_own_origin(std::string_view origin, std::string_view host_header) {
  const auto o = lower(origin);
  const auto own = lower(host_header);
  return !own.empty() && (o == "http://" + own || o == "https://" + own);
}

bool origin_allowed(std::string_view origin, std::string_view host_header,
                    const SecurityPolicy& policy) {
  if (origin.empty()) return true;
  const auto o = lower(origin);
  if (is_own_origin(origin, host_header)) return true;
  return std::any_of(policy.allowed_origins.begin(), policy.allowed_origins.end(),
                     [&](const std::string& a) { return lower(a) == o; });
}

}  // namespace weighlink::agent
