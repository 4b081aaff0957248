// TruConnect compatibility on real parts: the TruLoad web app's flows (as its useMiddleware hook
// and weighing pages run them) against the real weighlink-agent reading a pty scale, checking
// every field the web app reads, with its JSON type.
#include "truconnect_fixture.hpp"

TEST_CASE("truconnect: the mobile weighing flow of the TruLoad web app") {
  TempDir dir("wl-tc");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, {}, truconnect_config(scale.path(), "mt-continuous", "mobile"));
  const auto ws_addr = agent.address("truconnect_ws");
  StreamingScale indicator(scale, mt_frame("8200"));

  // The web app connects to ws://localhost:3030 (no path) from its own origin.
  WsClient ws(ws_addr, "/", {{"Origin", "https://truload.example.org"}});
  auto connected = next_event(ws, "connected");
  CHECK(connected.at("clientId").is_int64());
  CHECK(connected.at("server").at("name") == "weighlink-agent");
  CHECK(connected.at("station").at("code") == "ROMIA");
  CHECK(connected.at("endpoints")
            .at("websocket")
            .as_string()
            .ends_with(ws_addr.substr(ws_addr.rfind(':'))));

  // The five events that need registration are refused before it, as TruConnect does.
  send(ws, "plate", R"({"plateNumber":"KCA 123A"})");
  CHECK(next_event(ws, "error").at("message") == "Not registered");

  send(ws, "register",
       R"({"stationCode":"ROMIA","bound":"A","mode":"mobile","clientName":"TruLoad Frontend",)"
       R"("clientType":"truload-frontend"})");
  auto ack = next_event(ws, "register-ack");
  CHECK(ack.at("success") == true);
  CHECK(ack.at("client").at("mode") == "mobile");
  CHECK(ack.at("station").at("code") == "ROMIA");
  auto first = next_event(ws, "weight");  // the full frame at once, not a bare one
  check_mobile_shape(first);

  auto live = frame_with(ws, "weight", 8200);
  check_mobile_shape(live);
  CHECK(live.at("stable") == true);
  CHECK(live.at("stale") == false);
  CHECK(live.at("connection").at("connected") == true);
  CHECK(live.at("scaleA").as_int64() + live.at("scaleB").as_int64() == 8200);

  send(ws, "plate", R"({"plateNumber":"KCA 123A"})");
  CHECK(next_event(ws, "plate-ack").at("plateNumber") == "KCA 123A");
  const std::string sync =
      R"({"transactionId":"T-1","vehicleRegNumber":"KCA 123A","axleConfigCode":"2A",)"
      R"("totalAxles":2,"stationId":"s-1","bound":"A","weighingMode":"mobile"})";
  send(ws, "transaction-sync", sync);
  CHECK(next_event(ws, "transaction-sync-ack").at("transactionId") == "T-1");
  send(ws, "transaction-sync", sync);  // the pages re-send it often: harmless
  CHECK(next_event(ws, "transaction-sync-ack").at("success") == true);

  // Axle 1: the browser says 9999, the agent records its own stable 8200.
  send(ws, "axle-captured", R"({"axleNumber":1,"weight":9999})");
  auto a1 = next_event(ws, "axle-captured-ack");
  CHECK(a1.at("success") == true);
  CHECK(a1.at("axleNumber") == 1);
  CHECK(a1.at("weight") == 8200);
  CHECK(a1.at("capturedAxles") == 1);
  CHECK(a1.at("expectedAxles") == 2);
  CHECK(a1.at("isComplete") == false);
  // The same axle sent again is the same axle, not a third one.
  send(ws, "axle-captured", R"({"axleNumber":1,"weight":9999})");
  auto again = next_event(ws, "axle-captured-ack");
  CHECK(again.at("weight") == 8200);
  CHECK(again.at("capturedAxles") == 1);

  // Between axles the pad shows motion: nothing is captured until it settles.
  indicator.set(mt_frame("7400", /*motion=*/true));
  auto moving = frame_with(ws, "weight", 7400);
  CHECK(moving.at("stable") == false);
  CHECK(moving.at("session").at("currentAxle") == 1);
  CHECK(moving.at("runningGvw") == 15600);
  indicator.set(mt_frame("7400"));
  read_until(ws, [](const json::object& o) {
    return o.at("event") == "weight" && o.at("data").at("stable") == true;
  });
  send(ws, "axle-captured", R"({"axleNumber":2,"weight":7400})");
  auto a2 = next_event(ws, "axle-captured-ack");
  CHECK(a2.at("success") == true);
  CHECK(a2.at("isComplete") == true);
  CHECK(a2.at("gvw") == 15600);

  // All axles in: the weighing is in the outbox, keyed by the transaction.
  json::object recorded;
  CHECK(eventually(
      [&] {
        for (const auto& item : outbox_items(agent.http)) {
          if (item.at("idempotency_key") == "truconnect:T-1:complete") {
            recorded = item.as_object();
            return true;
          }
        }
        return false;
      },
      5s));
  REQUIRE(!recorded.empty());
  CHECK(recorded.at("kind") == "weighing.captured");
  const auto& p = recorded.at("payload").as_object();
  CHECK(p.at("gvw") == "15600");
  CHECK(p.at("axles").as_array().size() == 2);
  CHECK(p.at("reference").at("transaction_id") == "T-1");
  CHECK(p.at("reference").at("plate") == "KCA 123A");
  // The app's own values are kept beside the agent's, and the difference is flagged: the browser
  // said 9999 for axle 1 where the scale showed 8200.
  CHECK(p.at("app").at("parts").as_array().size() == 3);  // axle 1, axle 2, gvw
  const auto& flagged = p.at("discrepancy").as_object();
  CHECK(flagged.at("flagged") == true);
  CHECK(flagged.at("unit") == "kg");
  const auto& parts = flagged.at("parts").as_array();
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].at("part") == "axle 1");
  CHECK(parts[0].at("app") == 9999);
  CHECK(parts[0].at("agent") == 8200);
  CHECK(parts[1].at("part") == "gvw");
  CHECK(parts[1].at("app") == 17399);
  CHECK(parts[1].at("agent") == 15600);

  // The confirm and complete messages that follow record nothing twice.
  send(ws, "weights-captured");
  CHECK(next_event(ws, "weights-captured-ack").at("success") == true);
  send(ws, "vehicle-complete",
       R"({"transactionId":"T-1","totalAxles":2,"axleWeights":[1,2],"gvw":3})");
  auto done = next_event(ws, "vehicle-complete-ack");
  CHECK(done.at("success") == true);
  CHECK(done.at("gvw") == 15600);
  CHECK(done.at("seq") == recorded.at("seq"));
  send(ws, "reset-session");
  CHECK(next_event(ws, "session-reset-ack").at("success") == true);
  CHECK(outbox_items(agent.http).size() == 1);

  SUBCASE("other events, bad messages and unknown events") {
    send(ws, "status-request");
    auto status = next_event(ws, "status");
    CHECK(status.at("station").at("code") == "ROMIA");
    CHECK(status.at("weights").at("gvw").is_number());
    send(ws, "bound-switch", R"({"bound":"b"})");
    CHECK(next_event(ws, "bound-ack").at("bound") == "B");
    send(ws, "bound-switch", R"({"bound":"C"})");
    CHECK(next_event(ws, "error").at("message") == "Invalid bound");
    send(ws, "update-config", R"({"totalAxles":3,"axleConfigurationCode":"3A"})");
    auto cfg = next_event(ws, "update-config-ack");
    CHECK(cfg.at("totalAxles") == 3);
    CHECK(cfg.at("axleConfigurationCode") == "3A");
    send(ws, "query-weight", R"({"type":"current"})");
    CHECK(next_event(ws, "query-weight-ack").at("success") == true);
    check_mobile_shape(next_event(ws, "weight"));
    send(ws, "enter");
    auto enter = next_event(ws, "enter-ack");
    CHECK(enter.at("success") == false);
    CHECK(enter.at("supported") == false);
    send(ws, "launch-rockets");
    auto unknown = next_event(ws, "error");
    CHECK(unknown.at("code") == "unknown_event");
    ws.write("{not json");
    CHECK(next_event(ws, "error").at("message") == "Invalid message format");
    ws.write(R"({"event":"plate","data":"not an object"})");
    CHECK(next_event(ws, "error").at("message") == "Invalid message format");
  }
  SUBCASE("a silent indicator is shown as stale and disconnected, never as a live weight") {
    indicator.pause();
    auto stale = read_until(ws, [](const json::object& o) {
      return o.at("event") == "weight" && o.at("data").at("stale") == true;
    });
    const auto& d = stale.at("data").as_object();
    CHECK(d.at("stable") == false);
    CHECK(d.at("connection").at("connected") == false);
    CHECK(d.at("scaleAStatus").at("connected") == false);
    // And an axle cannot be captured from it.
    send(ws, "transaction-sync", R"({"transactionId":"T-2","totalAxles":2})");
    next_event(ws, "transaction-sync-ack");
    send(ws, "axle-captured", R"({"axleNumber":1,"weight":8200})");
    auto refused = next_event(ws, "axle-captured-ack", 15s);
    CHECK(refused.at("success") == false);
    CHECK(refused.at("error") == "scale_unavailable");
  }
}

TEST_CASE("truconnect: the multideck flow binds the stable decks on vehicle-complete") {
  TempDir dir("wl-tc");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, {}, truconnect_config(scale.path(), "cardinal-deck", "mobile"));
  WsClient ws(agent.address("truconnect_ws"), "/");
  next_event(ws, "connected");
  // The multideck page registers with mode multideck although the station default is mobile.
  send(ws, "register", R"({"stationCode":"ROMIA","bound":"A","mode":"multideck"})");
  next_event(ws, "register-ack");
  check_multideck_shape(next_event(ws, "weights"));

  // Deck 2 still moving: deck 2 and the vehicle are not stable; deck 1 is.
  StreamingScale indicator(scale, "D1:  5200 kg S\r\nD2:  4800 kg M\r\nGVW: 10000 kg M\r\n");
  auto moving = frame_with(ws, "weights", 10000, "gvw");
  check_multideck_shape(moving);
  CHECK(moving.at("deck1") == 5200);
  CHECK(moving.at("deck2") == 4800);
  CHECK(moving.at("deck3") == 0);
  CHECK(moving.at("stable") == false);
  CHECK(moving.at("decks").as_array()[0].at("stable") == true);
  CHECK(moving.at("decks").as_array()[1].at("stable") == false);
  CHECK(moving.at("vehicleOnDeck") == true);

  indicator.set("D1:  5200 kg S\r\nD2:  4810 kg S\r\nGVW: 10010 kg S\r\n");
  auto settled = frame_with(ws, "weights", 10010, "gvw");
  CHECK(settled.at("stable") == true);
  CHECK(settled.at("decks").as_array()[1].at("stable") == true);

  send(ws, "plate", R"({"plateNumber":"KBZ 9"})");
  next_event(ws, "plate-ack");
  send(ws, "transaction-sync",
       R"({"transactionId":"M-7","vehicleRegNumber":"KBZ 9",)"
       R"("totalAxles":3,"weighingMode":"multideck"})");
  next_event(ws, "transaction-sync-ack");
  send(ws, "vehicle-complete",
       R"({"transactionId":"M-7","totalAxles":3,"axleWeights":[5200,2405,2405],"gvw":10010})");
  send(ws, "reset-session");  // the page resets at once, without waiting for the ack
  auto done = next_event(ws, "vehicle-complete-ack");
  CHECK(done.at("success") == true);
  CHECK(done.at("gvw") == 10010);
  next_event(ws, "session-reset-ack");
  auto items = outbox_items(agent.http);
  REQUIRE(items.size() == 1);
  const auto& p = items[0].at("payload").as_object();
  CHECK(items[0].at("idempotency_key") == "truconnect:M-7:vehicle-complete");
  CHECK(p.at("gvw") == "10010");
  REQUIRE(p.at("decks").as_array().size() == 2);
  CHECK(p.at("decks").as_array()[1].at("weight") == "4810");
  CHECK(p.at("reference").at("client_axle_weights").as_array().size() == 3);
}

TEST_CASE("truconnect: the REST API on the second port and its refusals") {
  TempDir dir("wl-tc");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, {}, truconnect_config(scale.path(), "mt-continuous", "mobile"));
  const auto api = agent.address("truconnect_http");
  StreamingScale indicator(scale, mt_frame("12440"));
  CHECK(eventually(
      [&] {
        auto w = body_of(http_request(api, "GET", "/api/v1/weights"));
        return w.at("data").at("currentWeight") == 12440;
      },
      5s));
  CHECK(body_of(http_request(api, "GET", "/api/v1/health")).at("status") == "ok");
  auto weights = body_of(http_request(api, "GET", "/api/v1/weights"));
  CHECK(weights.at("success") == true);
  CHECK(weights.at("mode") == "mobile");
  CHECK(weights.at("websocketAvailable") == true);
  CHECK(weights.at("websocketUrl").as_string().starts_with("ws://localhost:"));
  CHECK(weights.at("connection").at("connected") == true);
  CHECK(weights.at("connection").at("outputMode") == "api");
  CHECK(weights.at("data").at("stable") == true);
  auto multi = body_of(http_request(api, "GET", "/api/v1/weights?mode=multideck"));
  CHECK(multi.at("data").at("decks").as_array()[0].at("weight") == 12440);
  CHECK(body_of(http_request(api, "GET", "/api/v1/weights/1")).at("data").at("weight") == 12440);
  CHECK(http_request(api, "GET", "/api/v1/weights/9").status == 404);
  CHECK(body_of(http_request(api, "GET", "/api/v1/gvw")).at("data").at("gvw").is_number());
  CHECK(body_of(http_request(api, "GET", "/api/v1/status")).at("data").at("station").at("code") ==
        "ROMIA");

  // The web app's HTTP fallback for an axle, when its socket is down.
  auto axle = post_json(api, "/api/v1/axle-captured", "", R"({"axleNumber":1,"weight":1})");
  CHECK(axle.status == 200);
  CHECK(body_of(axle).at("data").at("weight") == 12440);
  CHECK(post_json(api, "/api/v1/reset-session", "", "{}").status == 200);

  CHECK(post_json(api, "/api/v1/plate", "", "{}").status == 400);
  auto bad = post_json(api, "/api/v1/plate", "", "{oops");
  CHECK(bad.status == 400);
  CHECK(body_of(bad).at("error") == "Invalid message format");
  CHECK(http_request(api, "GET", "/api/v1/nothing").status == 404);
  CHECK(http_request(api, "GET", "/other").status == 404);

  // Unlike TruConnect's open cors(): a foreign page is refused, the configured one allowed.
  CHECK(http_request(api, "GET", "/api/v1/weights", {{"Origin", "https://evil.example"}}).status ==
        403);
  auto allowed =
      http_request(api, "GET", "/api/v1/weights", {{"Origin", "https://truload.example.org"}});
  CHECK(allowed.status == 200);
  CHECK(allowed.headers["access-control-allow-origin"] == "https://truload.example.org");
  auto preflight = http_request(
      api, "OPTIONS", "/api/v1/axle-captured",
      {{"Origin", "https://truload.example.org"}, {"Access-Control-Request-Method", "POST"}});
  CHECK(preflight.status == 204);
  CHECK(http_request(api, "GET", "/api/v1/weights", {{"Host", "rebind.example"}}).status == 421);
  // And the socket port: a foreign Origin never gets the upgrade; plain HTTP is told to upgrade.
  const auto ws_addr = agent.address("truconnect_ws");
  CHECK_THROWS_WITH(WsClient(ws_addr, "/", {{"Origin", "https://evil.example"}}),
                    doctest::Contains("403"));
  CHECK(http_request(ws_addr, "GET", "/").status == 426);
}
