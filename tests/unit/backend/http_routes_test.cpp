#include "weighlink/service/http_routes.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <system_error>

#include "weighlink/service/http_server.hpp"

using namespace weighlink::service;

TEST_CASE("http: routes by path and method, ignoring the query string") {
  CHECK(route("GET", "/healthz") == Route::healthz);
  CHECK(route("GET", "/readyz?verbose=1") == Route::readyz);
  CHECK(route("HEAD", "/metrics") == Route::metrics);
  CHECK(route("POST", "/healthz") == Route::method_not_allowed);
  CHECK(route("GET", "/") == Route::not_found);
  CHECK(route("GET", "/healthz/extra") == Route::not_found);
}

TEST_CASE("http: readyz is 200 only when the database is reachable and fully migrated") {
  auto ready = ready_reply({false, true, 1, 1, ""});
  CHECK(ready.status == 200);
  CHECK(boost::json::parse(ready.body).at("status") == "ready");

  auto old_schema = ready_reply({false, true, 0, 1, ""});
  CHECK(old_schema.status == 503);
  CHECK(boost::json::parse(old_schema.body).at("reason").as_string().find("migrate") !=
        boost::json::string::npos);

  auto down = ready_reply({false, false, 0, 1, "connection refused"});
  CHECK(down.status == 503);
  CHECK(boost::json::parse(down.body).at("reason").as_string().find("connection refused") !=
        boost::json::string::npos);

  CHECK(ready_reply({true, true, 1, 1, ""}).status == 503);
}

TEST_CASE("http: metrics are Prometheus text with outcome labels and the queue gauge") {
  MetricsSnapshot s;
  s.applied = 3;
  s.duplicate = 2;
  s.rejected = 1;
  s.replay_batches = 4;
  s.queue_depth = 7;
  const auto reply = metrics_reply(s);
  CHECK(reply.status == 200);
  CHECK(reply.content_type.starts_with("text/plain"));
  CHECK(reply.body.find("weighlink_backend_mutations_total{outcome=\"applied\"} 3\n") !=
        std::string::npos);
  CHECK(reply.body.find("weighlink_backend_mutations_total{outcome=\"duplicate\"} 2\n") !=
        std::string::npos);
  CHECK(reply.body.find("weighlink_backend_mutations_total{outcome=\"rejected\"} 1\n") !=
        std::string::npos);
  CHECK(reply.body.find("weighlink_backend_replay_batches_total 4\n") != std::string::npos);
  CHECK(reply.body.find("weighlink_backend_pool_queue_depth 7\n") != std::string::npos);
}

TEST_CASE("http: errors are JSON with a code, a message and a correlation id") {
  const auto reply = error_reply(404, "not_found", "no such endpoint", "abc123");
  CHECK(reply.status == 404);
  const auto body = boost::json::parse(reply.body);
  CHECK(body.at("error") == "not_found");
  CHECK(body.at("message") == "no such endpoint");
  CHECK(body.at("correlation_id") == "abc123");
}

TEST_CASE("http: a listen address that is not an IP literal and a port is refused before binding") {
  for (const char* listen : {"db.example.com:8081", "127.0.0.1", "127.0.0.1:http", ""}) {
    CAPTURE(listen);
    const auto server = HttpServer::start(listen, {});
    REQUIRE_FALSE(server.has_value());
    CHECK(server.error().code == std::errc::invalid_argument);
    CHECK(server.error().message.starts_with("invalid HTTP listen address: "));
  }
}
