// The operator page in a real browser: headless Chromium, driven over the DevTools protocol,
// against the real weighlink-agent reading a pty scale. What an operator sees and clicks is what
// is checked: the live weight and its state, the capture and axle controls, the dead letters.
#include "page_fixture.hpp"
#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/scripted_http.hpp"

using namespace page_test;

TEST_CASE("operator page: the weight follows the scale, and stable, motion and stale look apart") {
  Station station;
  auto& page = station.browser();
  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));
  CHECK(station.text(kScale + " .state-text") == "STABLE");
  CHECK(station.text(kScale + " .unit") == "kg");
  CHECK(station.text("#link") == "live");
  const auto stable_colour = style(page, kScale + " .state", "backgroundColor");
  CHECK(style(page, kScale + " .shape", "borderRadius") == "50%");  // a circle

  station.indicator().show("18260", /*motion=*/true);
  REQUIRE(station.shows("18260", "motion"));
  CHECK(station.text(kScale + " .state-text") == "MOTION");
  CHECK(style(page, kScale + " .state", "backgroundColor") != stable_colour);
  CHECK(style(page, kScale + " .shape", "clipPath").find("polygon") != std::string::npos);

  station.indicator().show("24100");
  REQUIRE(station.shows("24100", "stable"));

  // The indicator falls silent: after stale_after_ms the agent says stale, and so does the page.
  station.indicator().fall_silent();
  REQUIRE(station.wait("document.querySelector('" + kScale + "').dataset.state === 'stale'"));
  CHECK(station.text(kScale + " .state-text") == "STALE \u2014 NO SIGNAL");
  CHECK(style(page, kScale + " .state", "backgroundImage").find("repeating-linear-gradient") !=
        std::string::npos);  // red stripes
  CHECK(style(page, kScale + " .weight", "color") != style(page, "#station", "color"));
  station.screenshot("operator-page-stale.png");

  station.indicator().show("24120");
  REQUIRE(station.shows("24120", "stable"));
  // Status from the live socket: the station and the uplink (no backend configured).
  CHECK(station.text("#station") == "wb-page");
  CHECK(station.text("#uplink") == "no backend");
  CHECK(station.text("#pending") == std::to_string(station.audit()));
  CHECK(page.evaluate("document.title") == "weighlink wb-page");
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
  CHECK_MESSAGE(!csp_violated(page), station.console());
}

TEST_CASE("operator page: Capture records the stable weight in the outbox and shows the answer") {
  Station station;
  auto& page = station.browser();
  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));

  page.click(kScale + " .capture");
  REQUIRE(station.wait(
      contains(kScale + " .capture-result", "Captured 18240 kg \u00b7 " + station.seq(1))));
  auto captured = station.outbox("weighing.captured");
  REQUIRE(captured.size() == 1);
  CHECK(captured[0].at("seq") == station.audit() + 1);
  // The weighing the page's key stands for: sending the same request again answers with it.
  const std::string key(captured[0].at("idempotency_key").as_string());
  auto replay = station.post("/v1/captures", key, R"({"scale":"main"})");
  REQUIRE(replay.status == 200);
  auto weighing = json::parse(replay.body).at("weighing");
  CHECK(weighing.at("weight") == "18240");
  CHECK(weighing.at("unit") == "kg");
  CHECK(weighing.at("station_id") == "wb-page");
  CHECK(station.wait("document.querySelector('#pending').textContent === '" +
                     std::to_string(station.audit() + 1) + "'"));
  station.screenshot("operator-page.png");

  // In motion the agent refuses, and the page says why.
  station.zero();
  station.indicator().show("20500", /*motion=*/true);
  REQUIRE(station.shows("20500", "motion"));
  page.click(kScale + " .capture");
  REQUIRE(station.wait(contains(kScale + " .capture-result", "Not captured")));
  CHECK(station.text(kScale + " .capture-result").find("settle") != std::string::npos);

  // From the keyboard: the button takes focus and Enter presses it.
  station.indicator().show("20520");
  REQUIRE(station.shows("20520", "stable"));
  page.evaluate("document.querySelector('" + kScale + " .capture').focus()");
  page.press("Enter");
  REQUIRE(station.wait(
      contains(kScale + " .capture-result", "Captured 20520 kg \u00b7 " + station.seq(2))));
  CHECK(station.outbox("weighing.captured").size() == 2);
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}

TEST_CASE("operator page: a capture whose answer was lost is retried with the same key") {
  Station station;
  auto& page = station.browser();
  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));

  // The agent captures, but the browser loses the answer (connection reset at response time).
  int answers = 0;
  page.on_event("Fetch.requestPaused", [&](const json::object& p) {
    const bool lose = answers++ == 0;
    page.send(
        lose ? "Fetch.failRequest" : "Fetch.continueRequest",
        lose ? json::object{{"requestId", p.at("requestId")}, {"errorReason", "ConnectionReset"}}
             : json::object{{"requestId", p.at("requestId")}});
  });
  page.call("Fetch.enable",
            {{"patterns", json::array{json::object{{"urlPattern", "*/v1/captures"},
                                                   {"requestStage", "Response"}}}}});
  page.click(kScale + " .capture");
  REQUIRE(station.wait(contains(kScale + " .capture-result", "No answer")));
  CHECK(station.outbox("weighing.captured").size() == 1);

  // Meanwhile the display changed; pressing again must not capture a second weighing.
  station.indicator().show("20500");
  REQUIRE(station.shows("20500", "stable"));
  page.click(kScale + " .capture");
  REQUIRE(station.wait(
      contains(kScale + " .capture-result", "Captured 18240 kg \u00b7 " + station.seq(1))));
  CHECK(station.text(kScale + " .capture-result").find("recorded before") != std::string::npos);
  CHECK(station.outbox("weighing.captured").size() == 1);

  // A new press after a definite answer is a new capture (of the next vehicle).
  station.zero();
  station.indicator().show("20500");
  REQUIRE(station.shows("20500", "stable"));
  page.click(kScale + " .capture");
  REQUIRE(station.wait(
      contains(kScale + " .capture-result", "Captured 20500 kg \u00b7 " + station.seq(2))));
  CHECK(station.outbox("weighing.captured").size() == 2);
  CHECK(answers == 3);
}

TEST_CASE("operator page: multi-deck readings show each deck and the GVW") {
  Station station({.protocol = "cardinal-deck",
                   .scale_keys = "    deck_count: 3\n",
                   .agent_args = {},
                   .config = {}});
  station.indicator().show("32540", false, {"12440", "11100", "9000"});
  REQUIRE(station.shows("32540", "stable"));
  CHECK(station.text(kScale + " .label") == "GVW");
  REQUIRE(station.wait("document.querySelectorAll('" + kScale + " .decks li').length === 3"));
  CHECK(station.text(kScale + " .decks li:nth-child(1)").find("Deck 1") != std::string::npos);
  CHECK(station.text(kScale + " .decks li:nth-child(1)").find("12440") != std::string::npos);
  CHECK(station.text(kScale + " .decks li:nth-child(3)").find("9000") != std::string::npos);
  station.screenshot("operator-page-decks.png");
  CHECK_MESSAGE(station.browser().exceptions().empty(), station.console());
}

TEST_CASE("operator page: when the agent goes away the page says so and greys the weight") {
  Station station;
  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));
  CHECK(station.browser().evaluate("document.querySelector('#banner').hidden") == true);
  const std::string address = station.http();

  station.stop_agent();
  REQUIRE(station.wait("!document.querySelector('#banner').hidden"));
  CHECK(station.text("#banner").find("Agent not reachable") != std::string::npos);
  CHECK(station.text("#link") == "not reachable");
  CHECK(station.text(kScale + " .state-text") == "NOT LIVE");
  CHECK(std::stod(style(station.browser(), kScale + " .readout", "opacity")) < 0.5);
  station.screenshot("operator-page-offline.png");

  // The agent comes back on the same address: the page reconnects by itself.
  station.start_agent(address);
  REQUIRE(station.shows("18240", "stable"));
  CHECK(station.browser().evaluate("document.querySelector('#banner').hidden") == true);
}

TEST_CASE("operator page: an axle session run from the page ends in one weighing with its axles") {
  Station station;
  auto& page = station.browser();
  // The axle-session endpoints came with issue 4; an agent without them hides the controls.
  const auto probe = http_request(station.http(), "GET", "/v1/axle-sessions/main");
  REQUIRE_MESSAGE(probe.status == 200, "GET /v1/axle-sessions/main: " << probe.body);

  station.indicator().show("8200");
  REQUIRE(station.shows("8200", "stable"));
  REQUIRE(station.wait("!document.querySelector('" + kScale + " .axles').hidden"));
  page.type(kScale + " .expected", "2");
  page.click(kScale + " .axle-start");
  REQUIRE(station.wait(contains(kScale + " .axle-state", "0 of 2 axles")));

  page.click(kScale + " .axle-next");
  REQUIRE(station.wait(contains(kScale + " .axle-result", "Axle 1: 8200 kg")));
  CHECK(station.text(kScale + " .axle-list").find("8200 kg") != std::string::npos);
  CHECK(station.text(kScale + " .gvw") == "8200 kg");

  // The first axle rolls off, the second on.
  station.indicator().show("4100", /*motion=*/true);
  REQUIRE(station.shows("4100", "motion"));
  station.indicator().show("9400");
  REQUIRE(station.shows("9400", "stable"));
  page.click(kScale + " .axle-next");
  REQUIRE(station.wait(contains(kScale + " .axle-result", "Axle 2: 9400 kg")));
  CHECK(station.text(kScale + " .gvw") == "17600 kg");
  CHECK(station.wait("document.querySelectorAll('" + kScale + " .axle-list li').length === 2"));
  CHECK(page.evaluate("document.querySelector('" + kScale + " .axle-next').disabled") == true);
  station.screenshot("operator-page-axles.png");

  page.click(kScale + " .axle-complete");
  REQUIRE(station.wait(contains(kScale + " .axle-result", "Recorded 2 axles, GVW 17600 kg")));
  auto captured = station.outbox("weighing.captured");
  REQUIRE(captured.size() == 1);
  // The completion's key answers again with the weighing it recorded.
  const std::string key(captured[0].at("idempotency_key").as_string());
  auto replay = station.post("/v1/axle-sessions/main/complete", key, "{}");
  REQUIRE_MESSAGE(replay.status / 100 == 2, replay.body);
  auto weighing = json::parse(replay.body).at("weighing");
  CHECK(weighing.at("gvw") == "17600");
  REQUIRE(weighing.at("axles").as_array().size() == 2);
  CHECK(weighing.at("axles").at(0).at("weight") == "8200");
  CHECK(weighing.at("axles").at(1).at("weight") == "9400");
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}

TEST_CASE("operator page: a mutation the backend refused is listed and can be retried") {
  weighlink::testing::TempDir backend_dir("wl-page-backend");
  weighlink::testing::PgCluster pg;
  weighlink::testing::migrate(pg.dsn());
  // A new station with no key registered that refuses unsigned weighings: its weighings are
  // refused for good (unsigned_weighing).
  weighlink::testing::write_secret_file(
      backend_dir / "token",
      weighlink::testing::add_station(pg.dsn(), "wb-page", /*allow_unsigned_weighings=*/false) +
          "\n");
  weighlink::testing::BackendServer backend(pg.dsn(), backend_dir.path());
  const auto& grpc = backend.grpc();

  Station station(
      {.protocol = "mt-continuous",
       .scale_keys = "",
       .agent_args = {"--backend", grpc, "--station-token-file", (backend_dir / "token").string()},
       .config = {}});
  REQUIRE(station.wait("document.querySelector('#uplink').textContent === 'online'"));
  station.indicator().show("18240");
  auto bad = station.post("/v1/captures", "bad-weighing-1", R"({"scale":"main"})");
  REQUIRE(bad.status == 202);
  REQUIRE(station.wait("document.querySelector('#dead').textContent === '1'"));
  const std::string row = "#dead-rows tr[data-key=\"bad-weighing-1\"]";
  REQUIRE(station.wait("document.querySelector(" + js_quote(row) + ") !== null"));
  CHECK(station.text(row + " .kind") == "weighing.captured");
  CHECK(station.text(row + " .error").find("unsigned_weighing") != std::string::npos);
  CHECK(station.text(row + " .attempts") == "1");
  station.screenshot("operator-page-dead-letters.png");

  station.browser().click(row + " .retry");
  REQUIRE(station.wait(contains("#dead-msg", "queued for the backend again")));
  // Refused again (nothing about it changed): back in the list with one more attempt.
  REQUIRE(station.wait(contains(row + " .attempts", "2")));
  CHECK(station.outbox("weighing.captured", "dead").size() == 1);
  CHECK_MESSAGE(station.browser().exceptions().empty(), station.console());
}

TEST_CASE("operator page: a web app asking to use the scale is shown; Allow pairs it") {
  Station station;
  auto& page = station.browser();
  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));
  const std::string app = "https://app.truload.example.com";
  auto from_app = [&] {
    return http_request(station.http(), "GET", "/v1/status", {{"Origin", app}}).status;
  };
  CHECK(station.text("#origins-empty").find("No web app") != std::string::npos);

  // The web app's first request is refused, and the page asks the operator.
  CHECK(from_app() == 403);
  REQUIRE(station.wait("document.querySelector('#origins-asks .ask') !== null"));
  CHECK(station.text("#origins-asks .question")
            .find("Allow " + app + " to use this station's scale?") != std::string::npos);
  REQUIRE(station.wait(contains("#origins-asks .seen", "1 request")));
  CHECK(page.evaluate("document.querySelector('#origins-panel').classList.contains('asking')") ==
        true);
  station.screenshot("pairing-request.png");

  page.click("#origins-asks .allow");
  REQUIRE(station.wait(contains("#origins-msg", app + " may now use this station's scale.")));
  CHECK(from_app() == 200);
  REQUIRE(station.wait("document.querySelector('#origins-asks .ask') === null"));
  CHECK(station.text("#origins-rows").find(app) != std::string::npos);
  CHECK(station.text("#origins-rows .origin-state") == "allowed");
  CHECK(station.text("#origins-rows .origin-source") == "paired here");
  station.screenshot("pairing-allowed.png");

  // Revoke: refused again, and asking again.
  page.click("#origins-rows .revoke");
  REQUIRE(station.wait(contains("#origins-msg", "revoked")));
  CHECK(from_app() == 403);
  REQUIRE(station.wait("document.querySelector('#origins-asks .ask') !== null"));
  // Deny: refused, and no longer asked.
  page.click("#origins-asks .deny");
  REQUIRE(station.wait(contains("#origins-msg", "stays refused")));
  CHECK(from_app() == 403);
  REQUIRE(station.wait("document.querySelector('#origins-asks .ask') === null"));
  CHECK(station.text("#origins-rows .origin-state") == "denied");
  CHECK_FALSE(csp_violated(page));
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}

TEST_CASE(
    "operator page: a page of another origin gets through its browser's own preflight after "
    "pairing") {
  Station station;
  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));
  // A stand-in web app on another origin (another port); the browser opens it and calls the
  // agent as a web app does: a JSON POST with an Idempotency-Key (a CORS preflight first) and the
  // live socket.
  weighlink::testing::ScriptedHttpServer app({{200, "web app stand-in"}});
  const std::string app_origin = "http://" + app.address();
  auto& browser = station.browser();
  browser.navigate(app_origin + "/");
  const std::string call =
      "fetch('http://" + station.http() +
      "/v1/captures', {method: 'POST', headers: {'Content-Type': 'application/json', "
      "'Idempotency-Key': 'pair-1'}, body: JSON.stringify({scale: 'main'})})"
      ".then(async (r) => ({status: r.status, id: r.headers.get('X-Correlation-Id'), "
      "body: await r.json()}), (e) => ({failed: String(e)}))";
  const std::string socket =
      "new Promise((done) => { const ws = new WebSocket('ws://" + station.http() +
      "/v1/live'); ws.onmessage = (e) => { done(JSON.parse(e.data).type); ws.close(); }; "
      "ws.onerror = () => done('refused'); })";

  CHECK(browser.evaluate(call).as_object().contains("failed"));  // the preflight was refused
  CHECK(browser.evaluate(socket) == "refused");
  auto origins = station.get("/v1/origins");
  REQUIRE(origins.at("pending").as_array().size() == 1);
  CHECK(origins.at("pending").as_array().at(0).at("origin") == json::value(app_origin));
  CHECK(station.outbox("weighing.captured").empty());

  auto allow = http_request(station.http(), "POST", "/v1/origins/allow",
                            {{"Content-Type", "application/json"}},
                            json::serialize(json::object{{"origin", app_origin}}));
  REQUIRE(allow.status == 200);
  const auto done = browser.evaluate(call).as_object();
  INFO(json::serialize(done));
  CHECK(done.at("status") == 202);
  CHECK(done.at("id").is_string());  // an exposed header the page can read
  CHECK(done.at("body").at("weighing").at("weight") == "18240");
  CHECK(browser.evaluate(socket) == "hello");
  CHECK(station.outbox("weighing.captured").size() == 1);
  CHECK_MESSAGE(browser.exceptions().empty(), station.console());
}

TEST_CASE("operator page: what the web app cannot show is listed under Web app notices") {
  StationOptions options;
  options.config =
      "compat:\n"
      "  truconnect: {enabled: true, ws_listen: '127.0.0.1:0', http_listen: '127.0.0.1:0'}\n";
  Station station(options);
  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));
  CHECK(station.browser().evaluate("document.querySelector('#notices').hidden") == true);

  // The TruLoad app weighs a one-axle vehicle and records 18000 for the axle the scale showed
  // as 18240; it ignores the acknowledgement, so only the operator page can say so.
  weighlink::testing::WsClient app(station.address("truconnect_ws"), "/");
  auto send = [&](const std::string& event, const std::string& data) {
    app.write(R"({"event":")" + event + R"(","data":)" + data + "}");
  };
  send("register", R"({"stationCode":"ROMIA","bound":"A","mode":"mobile"})");
  send("transaction-sync", R"({"transactionId":"T-page","totalAxles":1})");
  send("axle-captured", R"({"axleNumber":1,"weight":18000})");
  REQUIRE(station.wait(contains("#notice-rows", "discrepancy")));
  CHECK(station.text("#notice-rows .message").find("axle 1 app 18000, agent 18240") !=
        std::string::npos);
  CHECK(station.text("#notice-rows .key") == "truconnect:T-page:complete");
  CHECK(station.browser().evaluate("document.querySelector('#notices').hidden") == false);
  station.screenshot("web-app-notices.png");
  CHECK_MESSAGE(station.browser().exceptions().empty(), station.console());
}
