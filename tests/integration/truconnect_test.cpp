// TruConnect compatibility wired on real parts: the TruLoad web app's socket and REST port on the
// real weighlink-agent reading a pty scale, with the app's origin and the order its pages send in;
// every field the web app reads, with its JSON type, as it arrives over the wire. The flows' rules
// (refusals, restarts, discrepancies, every event and route) are tested in-process in
// tests/unit/agent/truconnect_flow_test.cpp.
#include "truconnect_fixture.hpp"

TEST_CASE("truconnect: the web app's socket gets the pty scale's frames and records a vehicle") {
  TruConnectAgent station;
  const auto& agent = station.agent;
  const auto ws_addr = agent.address("truconnect_ws");
  StreamingScale indicator(station.scale, mt_frame("8200"));

  // The web app connects to ws://localhost:3030 (no path) from its own origin.
  WsClient ws(ws_addr, "/", kAppOrigin);
  auto connected = next_event(ws, "connected");
  CHECK(connected.at("clientId").is_int64());
  CHECK(connected.at("endpoints")
            .at("websocket")
            .as_string()
            .ends_with(ws_addr.substr(ws_addr.rfind(':'))));
  send(ws, "register",
       R"({"stationCode":"ROMIA","bound":"A","mode":"mobile","clientName":"TruLoad Frontend",)"
       R"("clientType":"truload-frontend"})");
  CHECK(next_event(ws, "register-ack").at("success") == true);
  check_mobile_shape(next_event(ws, "weight"));  // the full frame at once, not a bare one

  // The indicator's frame, decoded from the pty, as the app reads it.
  auto live = frame_with(ws, "weight", 8200);
  check_mobile_shape(live);
  CHECK(live.at("stable") == true);
  CHECK(live.at("stale") == false);
  CHECK(live.at("connection").at("connected") == true);

  send(ws, "transaction-sync",
       R"({"transactionId":"T-1","vehicleRegNumber":"KCA 123A","axleConfigCode":"2A",)"
       R"("totalAxles":2,"stationId":"s-1","bound":"A","weighingMode":"mobile"})");
  CHECK(next_event(ws, "transaction-sync-ack").at("transactionId") == "T-1");
  // Axle 1: the browser says 9999, the agent records the scale's stable 8200.
  send(ws, "axle-captured", R"({"axleNumber":1,"weight":9999})");
  CHECK(next_event(ws, "axle-captured-ack").at("weight") == 8200);
  indicator.set(mt_frame("7400"));
  frame_with(ws, "weight", 7400);
  send(ws, "axle-captured", R"({"axleNumber":2,"weight":7400})");
  auto a2 = next_event(ws, "axle-captured-ack");
  CHECK(a2.at("isComplete") == true);
  CHECK(a2.at("gvw") == 15600);

  // The weighing is in the agent's outbox, and the difference the app cannot show is on the
  // operator's status.
  const auto recorded = recorded_item(agent.http, "truconnect:T-1:complete");
  REQUIRE(!recorded.empty());
  CHECK(recorded.at("payload").at("gvw") == "15600");
  const auto notices = agent_status(agent.http).at("app_notices").as_array();
  REQUIRE_FALSE(notices.empty());
  CHECK(notices.back().at("code") == "discrepancy");
  CHECK(notices.back().at("key") == "truconnect:T-1:complete");
}

TEST_CASE("truconnect: a multi-deck indicator's frames reach the app's multideck page") {
  TruConnectAgent station("cardinal-deck");
  // The multideck page registers with mode multideck although the station default is mobile.
  const auto ws = registered_app(station.agent, "multideck");
  check_multideck_shape(next_event(*ws, "weights"));

  // Deck 2 still moving: deck 2 and the vehicle are not stable.
  StreamingScale indicator(station.scale,
                           "D1:  5200 kg S\r\nD2:  4800 kg M\r\nGVW: 10000 kg M\r\n");
  auto moving = frame_with(*ws, "weights", 10000, "gvw");
  check_multideck_shape(moving);
  CHECK(moving.at("deck2") == 4800);
  CHECK(moving.at("decks").as_array()[1].at("stable") == false);
}

TEST_CASE("truconnect: the REST port answers the app's polling, from its origin only") {
  TruConnectAgent station;
  const auto api = station.agent.address("truconnect_http");
  const auto ws_addr = station.agent.address("truconnect_ws");
  StreamingScale indicator(station.scale, mt_frame("12440"));
  CHECK(eventually(
      [&] {
        auto w = body_of(http_request(api, "GET", "/api/v1/weights"));
        return w.at("data").at("currentWeight") == 12440;
      },
      5s));
  // The socket the app falls back from: the agent's real port.
  auto weights = body_of(http_request(api, "GET", "/api/v1/weights"));
  CHECK(weights.at("websocketAvailable") == true);
  const auto url = std::string(weights.at("websocketUrl").as_string());
  CHECK(url.starts_with("ws://localhost:"));
  CHECK(url.ends_with(ws_addr.substr(ws_addr.rfind(':'))));

  // Unlike TruConnect's open cors(): a foreign page is refused, the configured one allowed.
  CHECK(http_request(api, "GET", "/api/v1/weights", {{"Origin", "https://evil.example"}}).status ==
        403);
  auto allowed = http_request(api, "GET", "/api/v1/weights", kAppOrigin);
  CHECK(allowed.status == 200);
  CHECK(allowed.headers["access-control-allow-origin"] == "https://truload.example.org");
  auto preflight = http_request(
      api, "OPTIONS", "/api/v1/axle-captured",
      {{"Origin", "https://truload.example.org"}, {"Access-Control-Request-Method", "POST"}});
  CHECK(preflight.status == 204);
  CHECK(http_request(api, "GET", "/api/v1/weights", {{"Host", "rebind.example"}}).status == 421);
  // And the socket port: a foreign Origin never gets the upgrade; plain HTTP is told to upgrade.
  CHECK_THROWS_WITH(WsClient(ws_addr, "/", {{"Origin", "https://evil.example"}}),
                    doctest::Contains("403"));
  CHECK(http_request(ws_addr, "GET", "/").status == 426);
}
