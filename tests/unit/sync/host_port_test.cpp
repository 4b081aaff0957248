#include "weighlink/base/host_port.hpp"

#include <doctest/doctest.h>

#include <string>

using weighlink::base::format_host_port;
using weighlink::base::loopback_literal;
using weighlink::base::parse_host_port;
using weighlink::base::PortZero;

namespace {

// The message of the error parse_host_port gives for `text` (empty when it parses).
std::string error_of(std::string_view text, PortZero zero = PortZero::refused) {
  const auto parsed = parse_host_port(text, zero);
  return parsed ? std::string{} : parsed.error().message;
}

}  // namespace

TEST_CASE("host_port: IPv4, names and localhost are kept as written") {
  auto p = parse_host_port("127.0.0.1:8420");
  REQUIRE(p.has_value());
  CHECK(p->host == "127.0.0.1");
  CHECK(p->port == 8420);
  p = parse_host_port("scale-gw.example:4196");
  REQUIRE(p.has_value());
  CHECK(p->host == "scale-gw.example");
  CHECK(p->port == 4196);
  p = parse_host_port("localhost:65535");
  REQUIRE(p.has_value());
  CHECK(p->host == "localhost");
  CHECK(p->port == 65535);
}

TEST_CASE("host_port: IPv6 only in brackets, the brackets dropped from the host") {
  auto p = parse_host_port("[::1]:8420");
  REQUIRE(p.has_value());
  CHECK(p->host == "::1");
  CHECK(p->port == 8420);
  p = parse_host_port("[fd00::7]:1");
  REQUIRE(p.has_value());
  CHECK(p->host == "fd00::7");
  CHECK(error_of("::1:8420").find("needs brackets") != std::string::npos);
  CHECK(error_of("fd00::7:4196").find("[::1]:8420") != std::string::npos);
  CHECK(error_of("[::1:8420").find("no closing ']'") != std::string::npos);
  CHECK(error_of("[::1]8420").find("no port") != std::string::npos);
  CHECK(error_of("[::1]").find("no port") != std::string::npos);
  CHECK(error_of("[127.0.0.1]:80").find("only an IPv6 address") != std::string::npos);
}

TEST_CASE("host_port: the port is 1..65535 in digits; 0 only for an ephemeral listen port") {
  CHECK(error_of("127.0.0.1:0").find("1..65535") != std::string::npos);
  CHECK(error_of("127.0.0.1:0", PortZero::allowed).empty());
  CHECK(parse_host_port("127.0.0.1:0", PortZero::allowed)->port == 0);
  CHECK(error_of("127.0.0.1:65536", PortZero::allowed).find("0..65535") != std::string::npos);
  CHECK(!error_of("127.0.0.1:+80").empty());
  CHECK(!error_of("127.0.0.1: 80").empty());
  CHECK(!error_of("127.0.0.1:80x").empty());
  CHECK(!error_of("127.0.0.1:").empty());
  CHECK(!error_of("127.0.0.1:99999999999999999999").empty());
}

TEST_CASE("host_port: no port or no host is refused, naming the text") {
  CHECK(error_of("nowhere") == "'nowhere' has no port: expected HOST:PORT, e.g. 127.0.0.1:8420");
  CHECK(error_of(":8420").find("no host") != std::string::npos);
  CHECK(error_of("").find("no port") != std::string::npos);
  const auto parsed = parse_host_port("nowhere");
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().code == std::errc::invalid_argument);
}

TEST_CASE("host_port: formatting brackets IPv6 and round-trips") {
  CHECK(format_host_port("127.0.0.1", 8420) == "127.0.0.1:8420");
  CHECK(format_host_port("::1", 0) == "[::1]:0");
  for (const char* text : {"127.0.0.1:1", "[::1]:8420", "localhost:80", "[fd00::7]:65535"}) {
    const auto p = parse_host_port(text);
    REQUIRE(p.has_value());
    CHECK(format_host_port(p->host, p->port) == text);
  }
}

TEST_CASE("host_port: localhost as a numeric address for callers that need one") {
  CHECK(loopback_literal("localhost") == "127.0.0.1");
  CHECK(loopback_literal("LocalHost") == "127.0.0.1");
  CHECK(loopback_literal("::1") == "::1");
  CHECK(loopback_literal("10.0.0.7") == "10.0.0.7");
}

TEST_CASE("host_port: one rule for loopback, names and literals alike") {
  using weighlink::base::is_loopback_host;
  CHECK(is_loopback_host("LOCALHOST"));
  CHECK(is_loopback_host("[::1]"));
  CHECK(is_loopback_host("0:0:0:0:0:0:0:1"));
  CHECK(is_loopback_host("127.255.0.1"));
  CHECK(is_loopback_host("::ffff:127.0.0.2"));
  CHECK_FALSE(is_loopback_host("localhost.example"));
  CHECK_FALSE(is_loopback_host("127.0.0.1:80"));
  CHECK_FALSE(is_loopback_host("[::]"));
  CHECK_FALSE(is_loopback_host("fd00::1"));
}
