#include "weighlink/agent/security.hpp"

#include <doctest/doctest.h>

using weighlink::agent::host_allowed;
using weighlink::agent::origin_allowed;
using weighlink::agent::SecurityPolicy;

TEST_CASE("security: only local Host names pass, with any port") {
  SecurityPolicy p;
  CHECK(host_allowed("localhost:8420", p));
  CHECK(host_allowed("LOCALHOST", p));
  CHECK(host_allowed("127.0.0.1:1", p));
  CHECK(host_allowed("[::1]:8420", p));
  CHECK_FALSE(host_allowed("evil.example:8420", p));
  CHECK_FALSE(host_allowed("127.0.0.1.evil.example", p));
  CHECK_FALSE(host_allowed("", p));
  p.allowed_hosts = {"station-pc"};
  CHECK(host_allowed("station-pc:8420", p));
}

TEST_CASE("security: Origin must be the agent's own page or allowlisted") {
  SecurityPolicy p;
  CHECK(origin_allowed("", "localhost:8420", p));
  CHECK(origin_allowed("http://localhost:8420", "localhost:8420", p));
  CHECK_FALSE(origin_allowed("http://localhost:9999", "localhost:8420", p));
  CHECK_FALSE(origin_allowed("https://evil.example", "localhost:8420", p));
  CHECK_FALSE(origin_allowed("null", "localhost:8420", p));
  p.allowed_origins = {"https://truload.example.org"};
  CHECK(origin_allowed("https://truload.example.org", "localhost:8420", p));
}
