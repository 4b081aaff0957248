// Api::handle in-process: the local HTTP API's routes over a real outbox in a temp dir, the io
// thread and the clock played by the test (core_fixture.hpp).
#include "weighlink/agent/api.hpp"

#include <doctest/doctest.h>

#include "core_fixture.hpp"

namespace json = boost::json;
using namespace weighlink::agent;
using namespace weighlink::agent::testing;

namespace {

HttpRequest req(std::string method, std::string target, std::string body = {},
                std::string key = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.headers["host"] = "127.0.0.1:8420";
  if (!body.empty()) r.headers["content-type"] = "application/json";
  if (!key.empty()) r.headers["idempotency-key"] = std::move(key);
  r.body = std::move(body);
  return r;
}

std::string header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

json::object body(const HttpResponse& r) { return json::parse(r.body).as_object(); }

// Sends a request; the answer once the Api gave it (now, or after the outbox or the clock).
struct Call {
  std::optional<HttpResponse> response;
  bool operator()() const { return response.has_value(); }
};

std::shared_ptr<Call> send(Station& st, const HttpRequest& r) {
  auto call = std::make_shared<Call>();
  st.api().handle(r, [call](HttpResponse resp) {
    CHECK_FALSE(call->response);  // answered exactly once
    call->response = std::move(resp);
  });
  return call;
}

HttpResponse answer(Station& st, const HttpRequest& r) {
  auto call = send(st, r);
  REQUIRE(st.io.run_until([&] { return (*call)(); }));
  return *call->response;
}

}  // namespace

TEST_CASE("api: a capture binds the stable reading; the same key replays, another body is 422") {
  Station st;
  st.show("32540.50");
  const std::string capture =
      R"({"scale":"main","operator":"jdoe","reference":{"plate":"KCA 1","fee":12.50}})";
  const auto first = answer(st, req("POST", "/v1/captures", capture, "cap-1"));
  REQUIRE(first.status == 202);
  const auto b = body(first);
  CHECK(b.at("state") == "queued");
  CHECK(b.at("weighing").at("weight") == "32540.50");
  CHECK(b.at("weighing").at("operator") == "jdoe");
  CHECK(b.at("weighing").at("reading_seq").as_int64() >= 1);
  // The client's numbers are written back as it wrote them, never through a double.
  CHECK(first.body.find(R"("fee":12.50)") != std::string::npos);
  CHECK_FALSE(header(first, "X-Correlation-Id").empty());

  // A retry (members in another order, other spacing) answers with the weighing already taken,
  // not the weight the scale shows now.
  st.show("1000");
  const auto replay = answer(
      st, req("POST", "/v1/captures",
              R"({"reference":{"fee":12.50,"plate":"KCA 1"}, "operator":"jdoe","scale":"main"})",
              "cap-1"));
  CHECK(replay.status == 200);
  CHECK(header(replay, "Idempotent-Replayed") == "true");
  CHECK(body(replay).at("seq") == b.at("seq"));
  CHECK(body(replay) == b);
  // Another digit is another request.
  const auto conflict = answer(
      st, req("POST", "/v1/captures",
              R"({"scale":"main","operator":"jdoe","reference":{"plate":"KCA 1","fee":12.5}})",
              "cap-1"));
  CHECK(conflict.status == 422);
  CHECK(body(conflict).at("error") == "idempotency_key_reused");
  CHECK(st.rows().size() == 1);
}

TEST_CASE("api: a capture in motion waits for the scale, and a retry meanwhile is 409") {
  Station st;
  st.show("8000", false);
  auto waiting = send(st, req("POST", "/v1/captures", R"({"timeout_ms":5000})", "cap-2"));
  st.io.advance(1s);
  CHECK_FALSE((*waiting)());
  // The same key while the first still waits: no second capture starts.
  const auto busy = answer(st, req("POST", "/v1/captures", R"({"timeout_ms":5000})", "cap-2"));
  CHECK(busy.status == 409);
  CHECK(body(busy).at("error") == "idempotency_key_in_progress");

  SUBCASE("it settles") {
    st.show("8010");
    st.io.advance(20ms);
    REQUIRE(st.io.run_until([&] { return (*waiting)(); }));
    CHECK(waiting->response->status == 202);
    CHECK(body(*waiting->response).at("weighing").at("weight") == "8010");
    CHECK(st.rows().size() == 1);
  }
  SUBCASE("it never settles: 409 at the deadline, nothing recorded, and the key is free again") {
    st.io.advance(4s);
    REQUIRE((*waiting)());
    CHECK(waiting->response->status == 409);
    CHECK(body(*waiting->response).at("error") == "scale_not_stable");
    CHECK(st.rows().empty());
    st.show("8010");
    CHECK(answer(st, req("POST", "/v1/captures", R"({"timeout_ms":5000})", "cap-2")).status == 202);
  }
  SUBCASE("the scale went silent: 503 at the deadline") {
    st.go_stale();
    st.io.advance(4s);
    REQUIRE((*waiting)());
    CHECK(waiting->response->status == 503);
    CHECK(body(*waiting->response).at("error") == "scale_unavailable");
    CHECK(st.rows().empty());
  }
}

TEST_CASE("api: a bad capture or mutation is refused with a clear 4xx and nothing recorded") {
  Station st;
  st.show("8200");
  struct Bad {
    HttpRequest request;
    int status;
    std::string code;
  };
  auto with_type = [](HttpRequest r, std::string type) {
    r.headers["content-type"] = std::move(type);
    return r;
  };
  const std::vector<Bad> cases{
      {req("POST", "/v1/captures", R"({"scale":"main"})"), 400, "idempotency_key_missing"},
      {req("POST", "/v1/captures", R"({"scale":"main"})", std::string(256, 'k')), 400,
       "idempotency_key_invalid"},
      {with_type(req("POST", "/v1/captures", R"({"scale":"main"})", "k"), "text/plain"), 415,
       "unsupported_media_type"},
      {with_type(req("POST", "/v1/captures", R"({"scale":"main"})", "k"), "application/jsonx"), 415,
       "unsupported_media_type"},
      {req("POST", "/v1/captures", R"({"scale":)", "k"), 400, "invalid_json"},
      {req("POST", "/v1/captures", R"([1,2])", "k"), 400, "invalid_json"},
      {req("POST", "/v1/captures", R"({"scale":5})", "k"), 400, "invalid_scale"},
      {req("POST", "/v1/captures", R"({"operator":"a\u0001b"})", "k"), 400, "invalid_operator"},
      {req("POST", "/v1/captures", R"({"timeout_ms":60001})", "k"), 400, "invalid_timeout"},
      {req("POST", "/v1/captures", R"({"timeout_ms":1.5})", "k"), 400, "invalid_timeout"},
      {req("POST", "/v1/captures", R"({"reference":"KCA"})", "k"), 400, "invalid_reference"},
      {req("POST", "/v1/captures",
           R"({"reference":{"x":")" + std::string(std::size_t{17} * 1024, 'a') + R"("}})", "k"),
       400, "reference_too_large"},
      {req("POST", "/v1/captures", R"({"scale":"rear"})", "k"), 404, "unknown_scale"},
      {req("POST", "/v1/mutations", R"({"kind":"t.x","payload":{}})"), 400,
       "idempotency_key_missing"},
      {req("POST", "/v1/mutations", R"({"kind":"Bad Kind","payload":{}})", "k"), 400,
       "invalid_kind"},
      {req("POST", "/v1/mutations", R"({"kind":"weighing.captured","payload":{}})", "k"), 422,
       "reserved_kind"},
      {req("POST", "/v1/mutations", R"({"kind":"transaction.created","payload":[]})", "k"), 400,
       "invalid_payload"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.request.body.substr(0, 80));
    const auto r = answer(st, c.request);
    CHECK(r.status == c.status);
    const auto b = body(r);
    CHECK(b.at("error").as_string() == c.code);
    CHECK_FALSE(b.at("message").as_string().empty());
    CHECK(b.at("correlation_id").as_string() == header(r, "X-Correlation-Id"));
  }
  CHECK(st.rows().empty());
}

TEST_CASE("api: a mutation is recorded with its payload's numbers exactly as sent") {
  Station st;
  const std::string m =
      R"({"kind":"transaction.created","payload":{"fee":0.10,"big":12345678901234567890}})";
  const auto r = answer(st, req("POST", "/v1/mutations", m, "m-1"));
  REQUIRE(r.status == 202);
  const auto rows = st.rows();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].kind == "transaction.created");
  CHECK(rows[0].payload_json == R"({"fee":0.10,"big":12345678901234567890})");
  CHECK(rows[0].created_at_ms == to_ms(st.io.clock.now()));
  CHECK(answer(st, req("POST", "/v1/mutations", m, "m-1")).status == 200);
  CHECK(answer(st, req("POST", "/v1/mutations",
                       R"({"kind":"transaction.created","payload":{"fee":0.1}})", "m-1"))
            .status == 422);
  CHECK(st.rows().size() == 1);
}

TEST_CASE("api: an axle session over HTTP, from start to one recorded weighing") {
  Station st;
  const std::string base = "/v1/axle-sessions/main";
  CHECK(answer(st, req("POST", base + "/start", R"({"expected_axles":21})")).status == 400);
  CHECK(answer(st, req("POST", base + "/start", R"({"restart":"yes"})")).status == 400);
  CHECK(answer(st, req("POST", base + "/start", R"({"expected_axles":2})")).status == 200);
  CHECK(answer(st, req("GET", base + "/start")).status == 405);
  CHECK(answer(st, req("POST", base + "/launch")).status == 404);
  CHECK(answer(st, req("GET", "/v1/axle-sessions/rear")).status == 404);

  st.show("6000");
  auto a1 = answer(st, req("POST", base + "/axles", "{}", "ax-1"));
  REQUIRE(a1.status == 200);
  CHECK(body(a1).at("axle").at("number") == 1);
  CHECK(body(a1).at("axle").at("weight") == "6000");
  auto again = answer(st, req("POST", base + "/axles", "{}", "ax-1"));
  CHECK(again.status == 200);
  CHECK(header(again, "Idempotent-Replayed") == "true");
  CHECK(body(again).at("session").at("axles").as_array().size() == 1);

  st.show("100", false);
  st.show("7200.5");
  auto a2 = answer(st, req("POST", base + "/axles", "{}", "ax-2"));
  REQUIRE(a2.status == 200);
  CHECK(body(a2).at("session").at("running_gvw") == "13200.5");
  // Starting over while axles are in needs restart.
  CHECK(body(answer(st, req("POST", base + "/start", "{}"))).at("error") == "session_in_progress");

  const auto done = answer(st, req("POST", base + "/complete", R"({"operator":"jdoe"})", "veh-1"));
  REQUIRE(done.status == 202);
  CHECK(body(done).at("weighing").at("gvw") == "13200.5");
  const auto replay =
      answer(st, req("POST", base + "/complete", R"({"operator":"jdoe"})", "veh-1"));
  CHECK(replay.status == 200);
  CHECK(st.rows().size() == 1);
  const auto session = body(answer(st, req("GET", base)));
  CHECK(session.at("state") == "complete");
  CHECK(body(answer(st, req("DELETE", base))).at("state") == "idle");
}

TEST_CASE("api: status, health, readiness and unknown routes") {
  Station st;
  std::vector<ListenState> ports{{"compat.truconnect.ws_listen", "127.0.0.1:3030", "", "in use"}};
  ApiContext extra;
  extra.compat_ports = &ports;
  st.api(std::move(extra));
  st.show("500");
  CHECK(answer(st, req("POST", "/v1/mutations", R"({"kind":"t.a","payload":{}})", "m")).status ==
        202);
  st.io.advance(90s);

  const auto status = body(answer(st, req("GET", "/v1/status")));
  CHECK(status.at("station_id") == "st-1");
  CHECK(status.at("scales").as_array()[0].at("id") == "main");
  CHECK(status.at("scales").as_array()[0].at("stale") == false);
  CHECK(status.at("outbox").at("pending") == 1);
  CHECK(status.at("outbox").at("oldest_pending_age_s") == 90);  // by the injected clock
  CHECK(status.at("uplink").at("state") == "disabled");
  CHECK(status.at("compat_ports").as_array()[0].at("listening").is_null());
  CHECK(status.at("axle_sessions").at("main").at("state") == "idle");

  CHECK(answer(st, req("GET", "/healthz")).status == 200);
  const auto ready = answer(st, req("GET", "/readyz"));
  CHECK(ready.status == 503);
  CHECK(body(ready).at("reasons").as_array().size() == 1);
  ports[0].listening = "127.0.0.1:3030";
  CHECK(answer(st, req("GET", "/readyz")).status == 200);
  const auto metrics = answer(st, req("GET", "/metrics"));
  CHECK(metrics.body.find("weighlink_agent_outbox_pending 1\n") != std::string::npos);
  CHECK(metrics.body.find("weighlink_agent_outbox_oldest_pending_age_seconds 90\n") !=
        std::string::npos);

  CHECK(answer(st, req("POST", "/healthz")).status == 405);
  CHECK(answer(st, req("GET", "/v1/nothing")).status == 405);
  CHECK(answer(st, req("GET", "/nothing")).status == 404);
  CHECK(answer(st, req("GET", "no-slash")).status == 400);
}

TEST_CASE("api: foreign Host names and origins are refused before anything runs") {
  Station st;
  st.show("8200");
  auto evil_host = req("POST", "/v1/captures", "{}", "k");
  evil_host.headers["host"] = "weigh.evil.example";
  CHECK(answer(st, evil_host).status == 421);
  auto evil_origin = req("POST", "/v1/captures", "{}", "k");
  evil_origin.headers["origin"] = "https://evil.example";
  const auto r = answer(st, evil_origin);
  CHECK(r.status == 403);
  CHECK(body(r).at("error") == "origin_not_allowed");
  auto own = req("POST", "/v1/captures", "{}", "k");
  own.headers["origin"] = "http://127.0.0.1:8420";
  CHECK(answer(st, own).status == 202);
  CHECK(st.rows().size() == 1);
}

TEST_CASE("api: dead letters are listed, released for retry, or discarded with a reason") {
  Station st;
  for (const auto* key : {"m-1", "m-2"}) {
    REQUIRE(answer(st, req("POST", "/v1/mutations", R"({"kind":"t.a","payload":{"n":1}})", key))
                .status == 202);
  }
  const auto rows = st.rows();
  const std::vector<weighlink::sync::MutationOutcome> rejected{
      {rows[0].seq, weighlink::sync::MutationOutcome::Kind::rejected, "bad_station"},
      {rows[1].seq, weighlink::sync::MutationOutcome::Kind::rejected, "bad_station"}};
  REQUIRE(st.outbox->mark_results(rejected, 0).has_value());

  const auto dead = body(answer(st, req("GET", "/v1/outbox?state=dead&limit=1")));
  REQUIRE(dead.at("items").as_array().size() == 1);
  CHECK(dead.at("items").as_array()[0].at("state") == "dead");
  CHECK(dead.at("next_after") == rows[0].seq);
  CHECK(answer(st, req("GET", "/v1/outbox?state=lost")).status == 400);
  CHECK(answer(st, req("GET", "/v1/outbox?limit=0")).status == 400);

  const auto retried = answer(st, req("POST", "/v1/outbox/m-1/retry"));
  CHECK(retried.status == 200);
  CHECK(body(retried).at("state") == "pending");
  CHECK(answer(st, req("POST", "/v1/outbox/m-1/retry")).status == 404);  // not dead any more

  CHECK(answer(st, req("POST", "/v1/outbox/m-2/discard", R"({"reason":""})")).status == 400);
  const auto discarded =
      answer(st, req("POST", "/v1/outbox/m-2/discard", R"({"reason":"duplicate ticket"})"));
  CHECK(discarded.status == 200);
  CHECK(body(discarded).at("state") == "discarded");
  const auto after = st.outbox->find("m-2");
  REQUIRE(after);
  CHECK(after->state == weighlink::sync::MutationState::discarded);
  CHECK(after->discard_reason == "duplicate ticket");
  CHECK(after->discarded_at_ms == to_ms(st.io.clock.now()));
}
