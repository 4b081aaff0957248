// The field's browser path end to end: a web app served from its own HTTPS origin (another
// name, another CA, and a public address as far as the browser knows, as the TruLoad app is
// served from the cloud) opens the agent's wss:// socket and calls its https:// REST API on
// 127.0.0.1 in headless Chromium, which trusts the station CA through its NSS database as a
// station PC trusts it through the system store. Chromium's Local Network Access keeps the page
// from loopback until its permission is granted (the prompt the operator answers, or the policy
// of a managed PC); then the agent refuses the unpaired app and the operator page asks; after
// Allow it works.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "agent_fixture.hpp"
#include "weighlink/testing/chromium.hpp"
#include "weighlink/testing/scripted_http.hpp"
#include "weighlink/testing/tls_ca.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;

namespace {

// The stand-in web app: a page whose script talks to the agent as useMiddleware does (a
// WebSocket that registers, then the REST fallback), each attempt a promise of what happened.
const std::string kAppPage = R"html(<!doctype html>
<html><head><meta charset="utf-8"><title>web app</title></head><body>
<script>
window.tryRegister = (url) => new Promise((done) => {
  let ws;
  try { ws = new WebSocket(url); } catch (e) { return done("refused: " + e); }
  ws.onerror = () => done("refused");
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.event === "connected") {
      ws.send(JSON.stringify({event: "register", data: {stationCode: "ROMIA", bound: "A",
        mode: "multideck", clientName: "TruLoad Frontend", clientType: "truload-frontend"}}));
    }
    if (m.event === "register-ack") { done(m.data.success ? "registered" : "not registered"); ws.close(); }
  };
});
window.tryRest = (url) => fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({plateNumber: "KDA 123X"})})
  .then(async (r) => "HTTP " + r.status + " " + JSON.stringify(await r.json()),
        (e) => "refused: " + e);
</script></body></html>
)html";

}  // namespace

TEST_CASE("browser: a web app on another HTTPS origin reaches wss and https after pairing") {
  REQUIRE_MESSAGE(Chromium::available(),
                  "/usr/bin/chromium is missing: run `make deps` (Debian package chromium)");
  TempDir dir("wl-browser");
  PtyScale scale(dir / "scale");
  auto config =
      truconnect_config(scale.path(), "mt-continuous", "mobile", "tls: {listen: '127.0.0.1:0'}\n");
  // No origin configured: the app is paired by the operator, not typed into the file.
  config.erase(0, config.find('\n') + 1);
  const std::string plain_ports = "http_listen: '127.0.0.1:0',";
  config.replace(config.find(plain_ports), plain_ports.size(),
                 plain_ports + " wss_listen: '127.0.0.1:0', https_listen: '127.0.0.1:0',");
  AgentProcess agent(dir, {}, config);
  StreamingScale indicator(scale, mt_frame("8200"));

  // The web app's own server, https://truload.test:PORT, with a certificate of the app's CA.
  TlsCa app_ca(dir.path(), "app");
  const auto app_cert = app_ca.server_for_host("truload", "truload.test");
  ScriptedHttpServer app_server({{200, kAppPage, 0ms, "text/html; charset=utf-8"}}, app_cert.cert,
                                app_cert.key);
  const auto app_port = app_server.address().substr(app_server.address().rfind(':') + 1);
  const std::string app_origin = "https://truload.test:" + app_port;

  // The browser trusts the station CA (the installer puts it in the system store) and the app's.
  const auto home = dir / "home";
  trust_cas(home, {dir / "data" / "tls" / "ca.crt", app_ca.cert()});
  ChromiumOptions options;
  options.home = home;
  // truload.test resolves to loopback here, but the browser treats the app as a public site.
  options.extra_args = {"--host-resolver-rules=MAP truload.test 127.0.0.1",
                        "--ip-address-space-overrides=127.0.0.1:" + app_port + "=public"};
  Chromium browser(options);

  const auto wss = "wss://127.0.0.1:" + agent.port("truconnect_wss") + "/";
  const auto rest = "https://127.0.0.1:" + agent.port("truconnect_https") + "/api/v1/plate";
  const auto js = [](const std::string& fn, const std::string& url) {
    return fn + "('" + url + "')";
  };
  browser.navigate(app_origin + "/");
  REQUIRE(browser.evaluate("location.origin") == json::value(app_origin));

  // Local Network Access: without the permission the browser does not even send the request.
  CHECK(std::string(browser.evaluate(js("tryRest", rest)).as_string()).starts_with("refused"));
  CHECK(body_of(http_request(agent.http, "GET", "/v1/origins")).at("pending").as_array().empty());
  // The operator allows the page to reach this device (Chrome's prompt; a policy on a managed PC).
  browser.call(
      "Browser.grantPermissions",
      json::object{{"permissions", json::array{"loopbackNetwork"}}, {"origin", app_origin}});

  // Before pairing: the socket and the REST call are refused by the agent (the TLS handshakes
  // succeed: 403 before the upgrade and on the preflight), and the app is pending.
  CHECK(browser.evaluate(js("tryRegister", wss)) == "refused");
  CHECK(std::string(browser.evaluate(js("tryRest", rest)).as_string()).starts_with("refused"));
  const auto pending = body_of(http_request(agent.http, "GET", "/v1/origins")).at("pending");
  REQUIRE(pending.as_array().size() == 1);
  CHECK(pending.as_array()[0].at("origin") == json::value(app_origin));

  // The operator page, over the agent's own https port, asks the operator.
  browser.navigate("https://127.0.0.1:" + agent.port("https") + "/");
  REQUIRE(browser.wait_for("document.querySelector('#origins-asks .ask') !== null", 15s));
  CHECK(browser.text("#origins-asks .question").find("Allow " + app_origin) != std::string::npos);
  browser.click("#origins-asks .allow");
  REQUIRE(browser.wait_for("document.querySelector('#origins-msg').textContent.includes('" +
                           app_origin + " may now use')"));

  // Back in the web app: the socket registers, and the REST fallback answers with CORS.
  browser.navigate(app_origin + "/");
  CHECK(browser.evaluate(js("tryRegister", wss)) == "registered");
  const auto answer = std::string(browser.evaluate(js("tryRest", rest)).as_string());
  CHECK(answer.starts_with("HTTP 200 "));
  CHECK(answer.find("\"plateNumber\":\"KDA 123X\"") != std::string::npos);
  CHECK_MESSAGE(browser.exceptions().empty(), browser.log());
}
