// CORS answers for allowed origins: exact headers, never `*`, Private Network Access.
#include "weighlink/agent/cors.hpp"

#include <doctest/doctest.h>

#include <map>

using namespace weighlink::agent;

namespace {

std::map<std::string, std::string> headers_of(const HttpResponse& r) {
  std::map<std::string, std::string> out;
  for (const auto& header : r.headers) {
    const auto& [k, v] = header;
    CHECK_MESSAGE(!out.contains(k), "header " << header.first << " twice");
    out[k] = v;
  }
  return out;
}

}  // namespace

TEST_CASE("cors: a preflight echoes the origin and only the requested headers it allows") {
  HttpRequest req;
  req.method = "OPTIONS";
  req.headers = {{"origin", "https://truload.example.org"},
                 {"access-control-request-method", "POST"},
                 {"access-control-request-headers", "content-type,x-evil, IDEMPOTENCY-KEY"}};
  const auto r = cors_preflight(req, "https://truload.example.org", api_cors());
  CHECK(r.status == 204);
  auto h = headers_of(r);
  CHECK(h["Access-Control-Allow-Origin"] == "https://truload.example.org");
  CHECK(h["Access-Control-Allow-Methods"] == "GET, POST, DELETE");
  CHECK(h["Access-Control-Allow-Headers"] == "Content-Type, Idempotency-Key");
  CHECK(h["Access-Control-Max-Age"] == "600");
  CHECK(h["Vary"] ==
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
        "Access-Control-Request-Private-Network");
  CHECK_FALSE(h.contains("Access-Control-Allow-Private-Network"));
  CHECK_FALSE(h.contains("Access-Control-Allow-Credentials"));
}

TEST_CASE("cors: Private Network Access is granted only when the preflight asks for it") {
  HttpRequest req;
  req.headers = {{"access-control-request-method", "GET"},
                 {"access-control-request-private-network", "true"}};
  auto h = headers_of(cors_preflight(req, "https://truload.example.org", truconnect_cors()));
  CHECK(h["Access-Control-Allow-Private-Network"] == "true");
  CHECK(h["Access-Control-Allow-Methods"] == "GET, POST");
  CHECK_FALSE(h.contains("Access-Control-Allow-Headers"));  // none requested
}

TEST_CASE("cors: an actual answer carries the origin, Vary: Origin and the exposed headers") {
  HttpResponse r;
  add_cors_headers(r, "https://truload.example.org", api_cors());
  auto h = headers_of(r);
  CHECK(h["Access-Control-Allow-Origin"] == "https://truload.example.org");
  CHECK(h["Vary"] == "Origin");
  CHECK(h["Access-Control-Expose-Headers"] == "X-Correlation-Id, Idempotent-Replayed");
  HttpResponse none;
  add_cors_headers(none, "", api_cors());
  CHECK(none.headers.empty());
}
