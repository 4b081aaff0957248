#pragma once
// Request checks against DNS rebinding and cross-site use of the local API (SPEC §4). Pure.

#include <string>
#include <string_view>
#include <vector>

namespace weighlink::agent {

struct SecurityPolicy {
  std::vector<std::string> allowed_origins;  // e.g. "https://truload.example.org"
  std::vector<std::string> allowed_hosts;    // extra host names besides the loopback ones
};

// The Host header names this machine: localhost, 127.0.0.1, [::1] (any port) or a configured name.
[[nodiscard]] bool host_allowed(std::string_view host_header, const SecurityPolicy& policy);

// The Origin is the agent's own page: http:// or https:// and the same host and port as Host.
[[nodiscard]] bool is_own_origin(std::string_view origin, std::string_view host_header);

// An Origin header, when present, is the agent's own page (same host as Host) or in the allowlist.
// Requests without Origin come from non-browser clients and pass.
[[nodiscard]] bool origin_allowed(std::string_view origin, std::string_view host_header,
                                  const SecurityPolicy& policy);

}  // namespace weighlink::agent
