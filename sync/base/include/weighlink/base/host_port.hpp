#pragma once
// HOST:PORT as the command lines and configuration files write it: the one parser and formatter
// (issue 17), one rule set for every caller:
// - "127.0.0.1:8420", "host.example:8420", "localhost:8420": the host as written (names are not
//   resolved; "localhost" stays "localhost", see loopback_literal());
// - "[::1]:8420": an IPv6 literal in brackets (the host is returned without them); a bare IPv6
//   literal ("::1:8420") is refused, since which ':' splits the port cannot be known;
// - the port is decimal digits only, 1..65535; 0 only where the caller asks for an ephemeral
//   listen port (PortZero::allowed);
// - the host must not be empty.
// The error says what is wrong with the text; callers put the key or source in front of it.
//
// Threading: free functions, safe from any thread.

#include <cstdint>
#include <string>
#include <string_view>

#include "weighlink/base/error.hpp"

namespace weighlink::base {

struct HostPort {
  std::string host;  // without the brackets of an IPv6 literal; never empty
  std::uint16_t port = 0;
};

enum class PortZero {
  refused,  // a port to connect to: 1..65535
  allowed,  // a port to listen on: 0 lets the system choose
};

[[nodiscard]] Expected<HostPort> parse_host_port(std::string_view text,
                                                 PortZero zero = PortZero::refused);

// "127.0.0.1:8420", "[::1]:8420": brackets around a host that holds a ':'.
[[nodiscard]] std::string format_host_port(std::string_view host, std::uint16_t port);

// A loopback host: "localhost" (either case), "::1" (with or without brackets, also written out
// in full), or 127.0.0.0/8 as four decimal parts (also IPv4-mapped, "::ffff:127.0.0.1").
[[nodiscard]] bool is_loopback_host(std::string_view host);

// The numeric address for a host that may be "localhost" (for callers that need an IP literal):
// "127.0.0.1" for "localhost" (either case), the host itself otherwise.
[[nodiscard]] std::string loopback_literal(std::string_view host);

}  // namespace weighlink::base
