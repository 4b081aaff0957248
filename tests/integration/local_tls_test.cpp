// https:// and wss:// on loopback with the station's own CA (docs/local-tls.md): the real agent,
// clients that trust the station CA file only (chain and name verified, as a browser does), plain
// HTTP beside it, renewal at start and while running, the key permission check, the CLI, and
// TruConnect over TLS.
#include <doctest/doctest.h>

#include "agent_fixture.hpp"
#include "weighlink/testing/tls_ca.hpp"
#include "weighlink/testing/tls_client.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;  // NOLINT(google-build-using-namespace)

namespace {

const std::string kTlsConfig = "tls: {listen: '127.0.0.1:0'}\n";

std::vector<std::string> scale_args(const PtyScale& scale) {
  return {"--scale-source", "serial:" + scale.path(), "--scale-protocol", "mt-continuous"};
}

std::filesystem::path tls_dir(const TempDir& dir) { return dir / "data" / "tls"; }

// Reads wss messages until one satisfies `pred` (read_until of agent_fixture.hpp, over TLS).
json::object wss_until(WssClient& ws, const std::function<bool(const json::object&)>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto msg = ws.read(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!msg) break;
    auto v = json::parse(*msg);
    if (v.is_object() && pred(v.as_object())) return v.as_object();
  }
  FAIL("no matching message on the wss socket in time");
  return {};
}

bool is_type(const json::object& o, const char* type) {
  const auto* t = o.if_contains("type");
  return t && *t == type;
}

bool is_event(const json::object& o, const char* event) {
  const auto* e = o.if_contains("event");
  return e && *e == event;
}

// `weighlink-agent ARGS --data-dir DIR/data`, stdout and stderr apart.
weighlink::testing::SplitRunResult agent_cli(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), bin("weighlink-agent"));
  args.insert(args.end(), {"--data-dir", (dir / "data").string()});
  return run_split(args);
}

json::object tls_status_json(const TempDir& dir) {
  auto r = agent_cli(dir, {"tls", "status", "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return json::parse(r.out).as_object();
}

// The fingerprint the openssl command line gives the file, "AB:CD:...".
std::string openssl_sha256(const std::filesystem::path& cert) {
  auto r =
      run({"/usr/bin/openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", cert.string()});
  REQUIRE(r.exit_code == 0);
  auto text = r.output.substr(r.output.find('=') + 1);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

TEST_CASE("local tls: page, status and live socket over https and wss verify with the CA alone") {
  TempDir dir("wl-ltls");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, scale_args(scale), kTlsConfig);
  StreamingScale indicator(scale, mt_frame("12340"));
  const auto https = agent.address("https");
  const auto ca = tls_dir(dir) / "ca.crt";

  // The operator page, by address and by name: the chain and the name verify against ca.crt.
  for (const char* name : {"127.0.0.1", "localhost"}) {
    CAPTURE(name);
    auto page = https_request(https, {ca, name}, "GET", "/");
    CHECK(page.status == 200);
    CHECK(page.body.find("<title>weighlink operator</title>") != std::string::npos);
    CHECK((page.tls_version == "TLSv1.2" || page.tls_version == "TLSv1.3"));
  }

  // /v1/status shows the certificate and the CA, as the files say.
  auto status = body_of(https_request(https, {ca}, "GET", "/v1/status"));
  const auto& tls = status.at("tls").as_object();
  CHECK(tls.at("enabled") == true);
  CHECK(tls.at("https") == json::value(https));
  CHECK(tls.at("ca").at("sha256") == json::value(openssl_sha256(ca)));
  CHECK(tls.at("ca").at("health") == "ok");
  CHECK(tls.at("certificate").at("sha256") ==
        json::value(openssl_sha256(tls_dir(dir) / "server.crt")));
  CHECK(tls.at("certificate").at("names") ==
        json::parse(R"(["DNS:localhost","IP:127.0.0.1","IP:::1"])"));

  // The live socket over wss, from the agent's own page (its https origin).
  WssClient live(https, {ca, "localhost"}, "/v1/live",
                 {{"Origin", "https://localhost" + https.substr(https.rfind(':'))}});
  wss_until(live, [](const json::object& o) { return is_type(o, "hello"); });
  auto reading = wss_until(live, [](const json::object& o) {
    return is_type(o, "reading") && o.at("weight") == "12340";
  });
  CHECK(reading.at("stable") == true);

  // The same checks as plain, with the same answers: a foreign origin (403) and a foreign Host
  // (421, DNS rebinding) are refused over TLS too.
  for (const auto& [header, status] : {std::pair{std::pair{"Origin", "https://evil.example"}, 403},
                                       std::pair{std::pair{"Host", "evil.example"}, 421}}) {
    const std::string name = header.first;  // doctest's CAPTURE cannot take a structured binding
    CAPTURE(name);
    const std::map<std::string, std::string> h{{header.first, header.second}};
    CHECK(https_request(https, {ca}, "GET", "/v1/status", h).status == status);
    CHECK(http_request(agent.http, "GET", "/v1/status", h).status == status);
  }

  // A client that trusts another CA does not get through the handshake.
  TlsCa other(dir.path(), "other");
  CHECK_THROWS_WITH_AS(https_request(https, {other.cert()}, "GET", "/"),
                       doctest::Contains("certificate verify failed"), std::runtime_error);
  // Nor one that expects a name the certificate does not carry.
  CHECK_THROWS_AS(https_request(https, {ca, "weighlink.example"}, "GET", "/"), std::runtime_error);

  // Plain HTTP and ws:// keep working on their port at the same time.
  CHECK(http_request(agent.http, "GET", "/v1/status").status == 200);
  WsClient plain(agent.http, "/v1/live");
  read_until(plain, [](const json::object& o) { return o.at("type") == "reading"; });
}

TEST_CASE("local tls: a certificate inside the renewal window is renewed at start") {
  TempDir dir("wl-ltls-renew");
  REQUIRE(agent_cli(dir, {"tls", "init"}).exit_code == 0);
  // A certificate from the station CA valid ten more days: inside the 30-day window.
  const auto d = tls_dir(dir);
  std::ofstream(dir / "ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
                                "extendedKeyUsage=serverAuth\n";
  REQUIRE(run({"/usr/bin/openssl", "req", "-new", "-key", (d / "server.key").string(), "-subj",
               "/CN=localhost", "-out", (dir / "csr").string()})
              .exit_code == 0);
  auto signed_ =
      run({"/usr/bin/openssl", "x509", "-req", "-in", (dir / "csr").string(), "-CA",
           (d / "ca.crt").string(), "-CAkey", (d / "ca.key").string(), "-CAcreateserial", "-days",
           "10", "-extfile", (dir / "ext").string(), "-out", (d / "server.crt").string()});
  REQUIRE_MESSAGE(signed_.exit_code == 0, signed_.output);
  const auto short_lived = openssl_sha256(d / "server.crt");
  const auto before = tls_status_json(dir);
  CHECK(before.at("certificate").at("renew") == true);
  CHECK(std::string(before.at("certificate").at("reason").as_string()).find("expires in") !=
        std::string::npos);

  AgentProcess agent(dir, {}, kTlsConfig);
  auto page = https_request(agent.address("https"), {d / "ca.crt"}, "GET", "/v1/status");
  CHECK(page.status == 200);
  CHECK(page.peer_sha256 != short_lived);
  CHECK(page.peer_sha256 == openssl_sha256(d / "server.crt"));
  CHECK(agent.process->log().find("renewed the local server certificate") != std::string::npos);
  const auto after = tls_status_json(dir);
  CHECK(after.at("certificate").at("renew") == false);
  CHECK(after.at("ca").at("sha256") == before.at("ca").at("sha256"));  // the same CA
}

TEST_CASE("local tls: a renewed certificate reaches new connections without a restart") {
  TempDir dir("wl-ltls-swap");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, scale_args(scale), "tls: {listen: '127.0.0.1:0', check_interval_s: 1}\n");
  StreamingScale indicator(scale, mt_frame("500"));
  const auto https = agent.address("https");
  const TlsClientOptions tls{tls_dir(dir) / "ca.crt"};
  WssClient open(https, tls, "/v1/live");
  const auto first = open.peer_sha256();

  auto renew = agent_cli(dir, {"tls", "renew"});
  REQUIRE_MESSAGE(renew.exit_code == 0, renew.err);
  CHECK(renew.out.find("server certificate: issued") != std::string::npos);
  const auto renewed = openssl_sha256(tls_dir(dir) / "server.crt");
  REQUIRE(renewed != first);

  // New connections get the new certificate once the agent's check has loaded it ...
  REQUIRE_MESSAGE(
      eventually(
          [&] { return https_request(https, tls, "GET", "/healthz").peer_sha256 == renewed; }, 15s),
      agent.process->log());
  CHECK(eventually(
      [&] {
        return agent_status(agent.http).at("tls").at("certificate").at("sha256") ==
               json::value(renewed);
      },
      10s));
  // ... and the socket opened before keeps receiving.
  wss_until(open, [](const json::object& o) { return is_type(o, "reading"); });
  wss_until(open, [](const json::object& o) { return is_type(o, "status"); });
}

TEST_CASE("local tls: a CA key readable by other users is refused at start, with the chmod") {
  TempDir dir("wl-ltls-mode");
  REQUIRE(agent_cli(dir, {"tls", "init"}).exit_code == 0);
  const auto key = tls_dir(dir) / "ca.key";
  std::filesystem::permissions(
      key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
               std::filesystem::perms::group_read | std::filesystem::perms::others_read);
  std::ofstream(dir / "agent.yaml") << kTlsConfig;
  auto r = run_split({bin("weighlink-agent"), "--listen", "127.0.0.1:0", "--data-dir",
                      (dir / "data").string(), "--config", (dir / "agent.yaml").string()});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(key.string()) != std::string::npos);
  CHECK(r.err.find("mode 0644") != std::string::npos);
  CHECK(r.err.find("chmod 600 " + key.string()) != std::string::npos);
  // The commands refuse it as well.
  auto renew = agent_cli(dir, {"tls", "renew"});
  CHECK(renew.exit_code == 2);
  CHECK(renew.err.find("chmod 600") != std::string::npos);
}

TEST_CASE("local tls: init keeps the CA, renew replaces the certificate, export-ca prints the CA") {
  TempDir dir("wl-ltls-cli");
  auto none = agent_cli(dir, {"tls", "status"});
  CHECK(none.exit_code == 1);
  CHECK(none.err.find("weighlink-agent tls init") != std::string::npos);

  auto init = agent_cli(dir, {"tls", "init"});
  REQUIRE_MESSAGE(init.exit_code == 0, init.err);
  CHECK(init.out.find("station CA: created") != std::string::npos);
  const auto first = tls_status_json(dir);
  CHECK(first.at("ca").at("health") == "ok");
  CHECK(first.at("certificate").at("signed_by_ca") == true);

  auto again = agent_cli(dir, {"tls", "init"});
  REQUIRE(again.exit_code == 0);
  CHECK(again.out.find("station CA: kept") != std::string::npos);
  CHECK(again.out.find("server certificate: kept") != std::string::npos);
  CHECK(tls_status_json(dir) == first);

  REQUIRE(agent_cli(dir, {"tls", "renew"}).exit_code == 0);
  const auto renewed = tls_status_json(dir);
  CHECK(renewed.at("ca").at("sha256") == first.at("ca").at("sha256"));
  CHECK(renewed.at("certificate").at("sha256") != first.at("certificate").at("sha256"));

  auto exported = agent_cli(dir, {"tls", "export-ca"});
  REQUIRE(exported.exit_code == 0);
  CHECK(exported.out == weighlink::testing::read_file(tls_dir(dir) / "ca.crt"));
  CHECK(exported.out.find("-----BEGIN CERTIFICATE-----") == 0);
  REQUIRE(agent_cli(dir, {"tls", "export-ca", "--out", (dir / "ca.pem").string()}).exit_code == 0);
  CHECK(openssl_sha256(dir / "ca.pem") == json::value_to<std::string>(first.at("ca").at("sha256")));
  // The CA verifies the certificate with the openssl command line, as update-ca-certificates'
  // users will.
  auto verify = run({"/usr/bin/openssl", "verify", "-CAfile", (dir / "ca.pem").string(),
                     "-verify_hostname", "localhost", (tls_dir(dir) / "server.crt").string()});
  CHECK_MESSAGE(verify.exit_code == 0, verify.output);

  auto text = agent_cli(dir, {"tls", "status"});
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("DNS:localhost, IP:127.0.0.1, IP:::1") != std::string::npos);
  CHECK(text.out.find("not due") != std::string::npos);
}

TEST_CASE("local tls: TruConnect's socket and REST API over wss and https") {
  TempDir dir("wl-ltls-tc");
  PtyScale scale(dir / "scale");
  auto config =
      weighlink::testing::truconnect_config(scale.path(), "mt-continuous", "mobile", kTlsConfig);
  const std::string plain_ports = "http_listen: '127.0.0.1:0',";
  config.replace(config.find(plain_ports), plain_ports.size(),
                 plain_ports + " wss_listen: '127.0.0.1:0', https_listen: '127.0.0.1:0',");
  AgentProcess agent(dir, {}, config);
  StreamingScale indicator(scale, mt_frame("8200"));
  const TlsClientOptions tls{tls_dir(dir) / "ca.crt", "localhost"};
  const std::map<std::string, std::string> origin{{"Origin", "https://truload.example.org"}};

  WssClient ws(agent.address("truconnect_wss"), tls, "/", origin);
  auto hello = wss_until(ws, [](const json::object& o) { return is_event(o, "connected"); });
  // A client that came over TLS is told the TLS addresses (Safari refuses plain ones from an
  // https page).
  const auto wss_port =
      agent.address("truconnect_wss").substr(agent.address("truconnect_wss").rfind(':') + 1);
  const auto https_port =
      agent.address("truconnect_https").substr(agent.address("truconnect_https").rfind(':') + 1);
  CHECK(hello.at("data").at("endpoints").at("websocket") ==
        json::value("wss://localhost:" + wss_port));
  CHECK(hello.at("data").at("endpoints").at("api") ==
        json::value("https://localhost:" + https_port + "/api/v1"));
  ws.write(R"({"event":"register","data":{"stationCode":"ROMIA","bound":"A","mode":"mobile"}})");
  auto ack = wss_until(ws, [](const json::object& o) { return is_event(o, "register-ack"); });
  CHECK(ack.at("data").at("success") == true);
  auto weight = wss_until(ws, [](const json::object& o) {
    return is_event(o, "weight") && o.at("data").at("weight") == 8200;
  });
  CHECK(weight.at("data").at("stable") == true);

  auto health =
      https_request(agent.address("truconnect_https"), tls, "GET", "/api/v1/health", origin);
  CHECK(health.status == 200);
  CHECK(body_of(health).at("status") == "ok");
  CHECK(health.headers.at("access-control-allow-origin") == "https://truload.example.org");
  auto weights = body_of(
      https_request(agent.address("truconnect_https"), tls, "GET", "/api/v1/weights", origin));
  CHECK(weights.at("websocketUrl") == json::value("wss://localhost:" + wss_port));
  // The plain TruConnect ports serve at the same time, and name the plain addresses.
  CHECK(http_request(agent.address("truconnect_http"), "GET", "/api/v1/health").status == 200);
  auto plain = body_of(http_request(agent.address("truconnect_http"), "GET", "/api/v1/weights"));
  CHECK(std::string(plain.at("websocketUrl").as_string()).starts_with("ws://localhost:"));
}
