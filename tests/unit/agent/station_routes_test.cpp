// The workstation's routes in-process over a real outbox, with the io thread and the clock played
// by the test (core_fixture.hpp): what only a clock can show (a stored tare expiring) and the
// book filled from its records at start when the agent stopped before filling it.
#include "weighlink/agent/station_routes.hpp"

#include <doctest/doctest.h>

#include "core_fixture.hpp"

namespace json = boost::json;
using namespace weighlink::agent;
using namespace weighlink::agent::testing;

namespace {

constexpr auto kDay = std::chrono::hours(24);

// The routes of `config` over the station's outbox, live state, captures and clock.
std::unique_ptr<StationRoutes> routes_of(Station& st, const StationConfig& config = {}) {
  ApiContext ctx;
  ctx.station_id = "st-1";
  ctx.outbox = st.outbox.get();
  ctx.live = st.live.get();
  ctx.captures = st.captures.get();
  ctx.post = st.io.post();
  ctx.clock = &st.io.clock;
  return make_station_routes(config, ctx);
}

// The answer to `method path` (a POST with `body` under `key`), once the routes gave it.
HttpResponse call(Station& st, StationRoutes& routes, const std::string& method,
                  const std::string& path, const std::string& body = {},
                  const std::string& key = {}) {
  HttpRequest r;
  r.method = method;
  r.target = path;
  r.headers["host"] = "127.0.0.1:8420";
  r.headers["content-type"] = "application/json";
  if (!key.empty()) r.headers["idempotency-key"] = key;
  r.body = body;
  std::optional<HttpResponse> answer;
  Respond respond = [&answer](HttpResponse a) { answer = std::move(a); };
  const auto query = path.find('?');
  REQUIRE(routes.handle(r, path.substr(0, query), "cid", respond));
  REQUIRE(st.io.run_until([&] { return answer.has_value(); }));
  return *answer;
}

std::string code_of(const HttpResponse& r) {
  return std::string(json::parse(r.body).at("error").as_string());
}

}  // namespace

TEST_CASE("station routes: a stored tare older than tare_max_age_days is refused, then renewed") {
  Station st;
  StationConfig config;
  config.tare_max_age_days = 30;
  auto routes = routes_of(st, config);
  st.show("9800");
  REQUIRE(call(st, *routes, "POST", "/v1/tares", R"({"plate":"KBZ 77"})", "t-1").status == 202);

  const std::string one_pass = R"({"plate":"kbz77","mode":"stored_tare"})";
  st.io.clock.set_elapsed(30 * kDay);
  st.show("41220");
  const auto fresh = call(st, *routes, "POST", "/v1/transactions", one_pass, "o-1");
  REQUIRE(fresh.status == 202);
  CHECK(json::parse(fresh.body).at("transaction").at("net") == "31420");

  st.io.clock.set_elapsed(31 * kDay);
  st.show("41220");
  const auto old = call(st, *routes, "POST", "/v1/transactions", one_pass, "o-2");
  CHECK(old.status == 409);
  CHECK(code_of(old) == "stored_tare_expired");
  CHECK(json::parse(call(st, *routes, "GET", "/v1/tares/KBZ77").body).at("expired") == true);
  CHECK(st.rows().size() == 2);  // the refusal recorded nothing

  st.show("9900");
  REQUIRE(call(st, *routes, "POST", "/v1/tares", R"({"plate":"KBZ77"})", "t-2").status == 202);
  st.show("41220");
  const auto renewed = call(st, *routes, "POST", "/v1/transactions", one_pass, "o-3");
  REQUIRE(renewed.status == 202);
  CHECK(json::parse(renewed.body).at("transaction").at("net") == "31320");
}

TEST_CASE("station routes: a pass accepted but not filled in before a stop is filled at start") {
  Station st;
  auto routes = routes_of(st);
  st.show("32540");
  REQUIRE(call(st, *routes, "POST", "/v1/transactions", R"({"plate":"KCB123A"})", "p-1").status ==
          202);
  // What the outbox holds when the agent stops between the record and its fill: the state written
  // with the record (the pass without its seq, weight and hash) under its state key.
  StationBook unfilled = routes->book();
  auto* t = unfilled.find("st-1-T1");
  REQUIRE(t);
  t->first = Pass{"p-1", 0, "main", {}, {}, {}, {}, t->first.at_ms};
  st.outbox->put_state({"station/transactions", unfilled.transactions_json()},
                       [](boost::system::result<void>) {});
  routes.reset();  // the outbox writes what it was given before it closes
  st.restart();
  routes = routes_of(st);
  const auto open = json::parse(call(st, *routes, "GET", "/v1/transactions?state=open").body);
  REQUIRE(open.at("items").as_array().size() == 1);
  const auto& first = open.at("items").at(0).at("first");
  CHECK(first.at("seq") == 1);
  CHECK(first.at("weight") == "32540");
  CHECK(first.at("record_hash").as_string().size() == 64);

  st.io.clock.set_elapsed(std::chrono::minutes(5));
  st.show("12480");
  const auto done =
      call(st, *routes, "POST", "/v1/transactions/st-1-T1/complete", R"({"scale":"main"})", "p-2");
  REQUIRE(done.status == 202);
  CHECK(json::parse(done.body).at("transaction").at("net") == "20060");
}
