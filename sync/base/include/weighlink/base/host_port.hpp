#pragma once
// HOST:PORT as the command lines and configuration files write it: the one parser (issue 17;
// callers elsewhere still have their own and move here one by one).
//
// Threading: free functions, safe from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weighlink::base {

struct HostPort {
  std::string host;  // without the brackets of an IPv6 literal; may be empty (":8080")
  std::uint16_t port = 0;
};

// "127.0.0.1:8420", "[::1]:8420", "host.example:0": the last ':' (or "]:" after a '[') splits
// host from port; the port is 0..65535 in decimal digits and nothing else. nullopt otherwise.
// Names are not resolved and "localhost" is kept as written.
[[nodiscard]] std::optional<HostPort> parse_host_port(std::string_view text);

}  // namespace weighlink::base
