#include "weighlink/service/token.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace weighlink::service;

TEST_CASE("token: generated tokens are prefixed, url-safe and distinct") {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const std::string token = generate_token();
    REQUIRE(token.starts_with(kTokenPrefix));
    // 32 bytes in base64url without padding: 43 characters.
    CHECK(token.size() == kTokenPrefix.size() + 43);
    for (char c : token.substr(kTokenPrefix.size())) {
      const bool url_safe = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_';
      CHECK(url_safe);
    }
    seen.insert(token);
  }
  CHECK(seen.size() == 50);
}

TEST_CASE("token: the stored hash is the hex SHA-256 of the token") {
  // printf 'hello' | sha256sum
  CHECK(sha256_hex("hello") == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  const std::string token = generate_token();
  CHECK(sha256_hex(token).size() == 64);
  CHECK(sha256_hex(token) != token);
}

TEST_CASE("token: a bearer header yields its token, anything else does not") {
  CHECK(parse_bearer("Bearer wlst_abc") == std::optional<std::string_view>("wlst_abc"));
  CHECK(parse_bearer("bearer   wlst_abc ") == std::optional<std::string_view>("wlst_abc"));
  CHECK_FALSE(parse_bearer("Basic dXNlcjpwYXNz"));
  CHECK_FALSE(parse_bearer("Bearer"));
  CHECK_FALSE(parse_bearer("Bearer "));
  CHECK_FALSE(parse_bearer("Bearerwlst_abc"));
  CHECK_FALSE(parse_bearer("Bearer a b"));
  CHECK_FALSE(parse_bearer(""));
}

TEST_CASE("token: correlation ids are random hex of the asked length") {
  const auto a = random_hex(8);
  CHECK(a.size() == 16);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a != random_hex(8));
}
