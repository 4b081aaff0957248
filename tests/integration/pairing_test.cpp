// Origin pairing on real parts (docs/security.md, "Origin pairing"): the real weighlink-agent
// with TruConnect compatibility on a pty scale, browser requests made with the Origin and
// preflight headers the TruLoad web app's browser sends, and `weighlink-agent origins` run as a
// real process beside the running agent.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "agent_fixture.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;

namespace {

// An origin that is in no configuration: the web app as it first meets a new station.
const std::string kApp = "https://app.truload.example.com";

// The agent, TruConnect on, no origin allowed but truconnect_config()'s own.
struct PairingStation {
  TempDir dir{"wl-pair"};
  PtyScale scale{dir / "scale"};
  std::optional<AgentProcess> agent;

  explicit PairingStation(const std::string& extra = {}) { start(extra); }
  void start(const std::string& extra = {}) {
    agent.emplace(dir, std::vector<std::string>{},
                  truconnect_config(scale.path(), "mt-continuous", "mobile", extra));
  }
  void restart() {
    CHECK(agent->process->terminate() == 0);
    agent.reset();
    start();
  }
  [[nodiscard]] const std::string& http() const { return agent->http; }
  [[nodiscard]] std::string tc_ws() const { return agent->address("truconnect_ws"); }
  [[nodiscard]] std::string tc_http() const { return agent->address("truconnect_http"); }

  // `weighlink-agent origins ARGS...` as the operator runs it, on this agent's files.
  SplitRunResult cli(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {bin("weighlink-agent"), "origins"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(),
                {"--config", (dir / "agent.yaml").string(), "--data-dir", (dir / "data").string()});
    return run_split(argv);
  }
  json::object origins() const { return body_of(http_request(http(), "GET", "/v1/origins")); }
};

HttpResult get_from(const std::string& address, const std::string& target,
                    const std::string& origin) {
  return http_request(address, "GET", target, {{"Origin", origin}, {"Accept", "application/json"}});
}

const json::object* find_origin(const json::object& doc, const char* list,
                                const std::string& origin) {
  for (const auto& o : doc.at(list).as_array()) {
    if (o.at("origin") == json::value(origin)) return &o.as_object();
  }
  return nullptr;
}

// The socket is closed by the agent before `timeout` (messages meanwhile are read and dropped).
bool closes_within(WsClient& ws, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!ws.read(std::max(left, 1ms))) return std::chrono::steady_clock::now() < deadline;
  }
  return false;
}

json::object allow_json(const std::string& origin) { return json::object{{"origin", origin}}; }

HttpResult decide(const std::string& http, const std::string& action, const std::string& origin,
                  std::map<std::string, std::string> headers = {}) {
  return post_json(http, "/v1/origins/" + action, "", json::serialize(allow_json(origin)),
                   std::move(headers));
}

}  // namespace

TEST_CASE("pairing: an unknown origin is refused on every surface and waits as pending") {
  PairingStation station;
  // The local API, the live socket, TruConnect's socket and its REST port.
  auto api = get_from(station.http(), "/v1/status", kApp);
  CHECK(api.status == 403);
  CHECK(body_of(api).at("error") == "origin_not_allowed");
  CHECK(body_of(api).at("message").as_string().find("weighlink-agent origins allow " + kApp) !=
        json::string::npos);
  CHECK_FALSE(api.headers.contains("access-control-allow-origin"));
  CHECK_THROWS_WITH(WsClient(station.http(), "/v1/live", {{"Origin", kApp}}),
                    doctest::Contains("403"));
  CHECK_THROWS_WITH(WsClient(station.tc_ws(), "/", {{"Origin", kApp}}), doctest::Contains("403"));
  CHECK(get_from(station.tc_http(), "/api/v1/weights", kApp).status == 403);

  const auto doc = station.origins();
  REQUIRE(doc.at("pending").as_array().size() == 1);
  const auto& p = doc.at("pending").as_array().at(0).as_object();
  CHECK(p.at("origin") == json::value(kApp));
  CHECK(p.at("count") == 4);
  CHECK(p.at("surfaces") == json::array{"api", "live", "truconnect_http", "truconnect_ws"});
  CHECK(p.at("first_seen").is_string());
  CHECK(find_origin(doc, "allowed", "https://truload.example.org")->at("source") == "config");
  // /v1/status lists the same, and the CLI shows the question.
  CHECK(agent_status(station.http()).at("origins").at("pending").as_array().size() == 1);
  auto list = station.cli({"list"});
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("Allow " + kApp + " to use this station's scale?") != std::string::npos);

  // Written in another spelling, it is the same origin; `null`, malformed and over-long ones are
  // refused and never listed.
  CHECK(get_from(station.http(), "/v1/status", "HTTPS://APP.truload.example.com:443").status ==
        403);
  for (const std::string& bad :
       {std::string("null"), std::string("https://evil.example/path"),
        "https://" + std::string(400, 'a') + ".example", std::string("ftp://evil.example")}) {
    auto r = get_from(station.http(), "/v1/status", bad);
    CHECK(r.status == 403);
    CHECK(body_of(r).at("error") == "origin_invalid");
  }
  const auto after = station.origins();
  REQUIRE(after.at("pending").as_array().size() == 1);
  CHECK(after.at("pending").as_array().at(0).at("count") == 5);
}

TEST_CASE("pairing: the CLI's decisions reach the running agent without a restart") {
  PairingStation station;
  StreamingScale indicator(station.scale, mt_frame("8200"));
  CHECK(get_from(station.tc_http(), "/api/v1/weights", kApp).status == 403);

  auto allow = station.cli({"allow", kApp});
  CHECK_MESSAGE(allow.exit_code == 0, allow.err);
  CHECK(allow.out.find("allowed") != std::string::npos);
  auto ok = get_from(station.tc_http(), "/api/v1/weights", kApp);
  CHECK(ok.status == 200);
  CHECK(ok.headers["access-control-allow-origin"] == kApp);
  CHECK(station.origins().at("pending").as_array().empty());
  CHECK(find_origin(station.origins(), "allowed", kApp)->at("source") == "paired");

  // Deny: still refused, and the operator is not asked again.
  const std::string other = "https://weigh.other.example";
  CHECK(get_from(station.http(), "/v1/status", other).status == 403);
  auto deny = station.cli({"deny", other});
  CHECK_MESSAGE(deny.exit_code == 0, deny.err);
  auto denied = get_from(station.http(), "/v1/status", other);
  CHECK(denied.status == 403);
  CHECK(body_of(denied).at("error") == "origin_denied");
  CHECK(station.origins().at("pending").as_array().empty());
  CHECK(find_origin(station.origins(), "denied", other));

  // Revoke while the app has its sockets open: they are closed, and it must ask again.
  WsClient live(station.http(), "/v1/live", {{"Origin", kApp}});
  read_until(live, [](const json::object& m) { return m.at("type") == "hello"; });
  WsClient tc(station.tc_ws(), "/", {{"Origin", kApp}});
  next_event(tc, "connected");
  auto revoke = station.cli({"revoke", kApp});
  CHECK_MESSAGE(revoke.exit_code == 0, revoke.err);
  CHECK(closes_within(live, 10s));
  CHECK(closes_within(tc, 10s));
  CHECK(get_from(station.tc_http(), "/api/v1/weights", kApp).status == 403);
  CHECK(find_origin(station.origins(), "pending", kApp));

  // What the CLI refuses, with a clear line and exit code.
  auto malformed = station.cli({"allow", "truload.example.org"});
  CHECK(malformed.exit_code == 2);
  CHECK(malformed.err.find("https://host") != std::string::npos);
  auto configured = station.cli({"revoke", "https://truload.example.org"});
  CHECK(configured.exit_code == 1);
  CHECK(configured.err.find("allowed_origins in the configuration file") != std::string::npos);
  auto nothing = station.cli({"revoke", "https://never.example"});
  CHECK(nothing.exit_code == 1);
  CHECK(nothing.err.find("no decision to revoke") != std::string::npos);
  // The CLI lists what the agent wrote: the new pending request is written within a second
  // (new origins at most once a second).
  json::object doc;
  CHECK(eventually(
      [&] {
        auto list = station.cli({"list", "--json"});
        REQUIRE(list.exit_code == 0);
        doc = json::parse(list.out).as_object();
        return find_origin(doc, "pending", kApp) != nullptr;
      },
      10s));
  CHECK(find_origin(doc, "denied", other));
}

TEST_CASE("pairing: decisions survive a restart; drop-in presets are read at start") {
  PairingStation station;
  const std::string preset = "https://preset.truload.example.com";
  CHECK(decide(station.http(), "allow", kApp).status == 200);
  CHECK(decide(station.http(), "deny", "https://weigh.other.example").status == 200);
  std::filesystem::create_directories(station.dir / "origins.d");
  std::ofstream(station.dir / "origins.d" / "truload.conf") << "# written by the installer\n"
                                                            << preset << "  # production\n";
  std::ofstream(station.dir / "origins.d" / "README") << "not a .conf file: ignored\n";
  // What the installers run (debconf's answer, the MSI property): validated, then written.
  const std::string installer = "https://installer.truload.example.com";
  auto bad_preset = station.cli({"preset", "https://ok.example https://bad.example/app"});
  CHECK(bad_preset.exit_code == 2);
  CHECK(bad_preset.err.find("https://bad.example/app") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(station.dir / "origins.d" / "installer.conf"));
  auto preset_cli = station.cli({"preset", installer + ",https://ok.example"});
  CHECK_MESSAGE(preset_cli.exit_code == 0, preset_cli.err);
  CHECK(read_file(station.dir / "origins.d" / "installer.conf").find(installer + "\n") !=
        std::string::npos);
  station.restart();
  CHECK(get_from(station.http(), "/v1/status", installer).status == 200);

  CHECK(get_from(station.http(), "/v1/status", kApp).status == 200);
  CHECK(get_from(station.http(), "/v1/status", preset).status == 200);
  CHECK(get_from(station.http(), "/v1/status", "https://weigh.other.example").status == 403);
  const auto doc = agent_status(station.http()).at("origins").as_object();
  CHECK(find_origin(doc, "allowed", preset)->at("source") == "preset");
  CHECK(find_origin(doc, "allowed", preset)->at("file").as_string().ends_with("truload.conf:2"));
  CHECK(find_origin(doc, "allowed", kApp)->at("source") == "paired");
  CHECK(find_origin(doc, "denied", "https://weigh.other.example"));
  // A preset is changed in its file, not here.
  auto r = decide(station.http(), "revoke", preset);
  CHECK(r.status == 409);
  CHECK(body_of(r).at("error") == "origin_fixed");

  // A bad line fails the start, naming the file and the line.
  CHECK(station.agent->process->terminate() == 0);
  std::ofstream(station.dir / "origins.d" / "zz-bad.conf")
      << "https://ok.example\nhttps://bad.example/app\n";
  auto start =
      run({bin("weighlink-agent"), "--config", (station.dir / "agent.yaml").string(), "--data-dir",
           (station.dir / "data").string(), "--listen", "127.0.0.1:0", "--station-id", "st-1"});
  CHECK(start.exit_code == 2);
  CHECK(start.output.find("zz-bad.conf:2: ") != std::string::npos);
  auto list = station.cli({"list"});
  CHECK(list.exit_code == 2);
  CHECK(list.err.find("zz-bad.conf:2: ") != std::string::npos);
}

TEST_CASE("pairing: the TruLoad app's preflights are answered exactly, for paired origins only") {
  PairingStation station;
  // Chrome's Private Network Access preflight of the app's polling GET (Accept only: no
  // request headers to allow), and the preflight of its JSON POSTs.
  const std::map<std::string, std::string> poll = {
      {"Origin", kApp},
      {"Access-Control-Request-Method", "GET"},
      {"Access-Control-Request-Private-Network", "true"}};
  const std::map<std::string, std::string> post = {
      {"Origin", kApp},
      {"Access-Control-Request-Method", "POST"},
      {"Access-Control-Request-Headers", "content-type"}};
  auto before = http_request(station.tc_http(), "OPTIONS", "/api/v1/weights", poll);
  CHECK(before.status == 403);
  CHECK_FALSE(before.headers.contains("access-control-allow-origin"));
  CHECK_FALSE(before.headers.contains("access-control-allow-private-network"));
  CHECK(find_origin(station.origins(), "pending", kApp)->at("surfaces") ==
        json::array{"truconnect_http"});

  REQUIRE(decide(station.http(), "allow", kApp).status == 200);
  auto pna = http_request(station.tc_http(), "OPTIONS", "/api/v1/weights", poll);
  CHECK(pna.status == 204);
  CHECK(pna.headers["access-control-allow-origin"] == kApp);
  CHECK(pna.headers["access-control-allow-methods"] == "GET, POST");
  CHECK(pna.headers["access-control-allow-private-network"] == "true");
  CHECK(pna.headers["access-control-max-age"] == "600");
  CHECK(pna.headers["vary"] ==
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
        "Access-Control-Request-Private-Network");
  CHECK_FALSE(pna.headers.contains("access-control-allow-headers"));
  CHECK_FALSE(pna.headers.contains("access-control-allow-credentials"));

  auto json_post = http_request(station.tc_http(), "OPTIONS", "/api/v1/axle-captured", post);
  CHECK(json_post.status == 204);
  CHECK(json_post.headers["access-control-allow-headers"] == "Content-Type");
  CHECK_FALSE(json_post.headers.contains("access-control-allow-private-network"));

  // The requests themselves.
  auto weights = get_from(station.tc_http(), "/api/v1/weights", kApp);
  CHECK(weights.status == 200);
  CHECK(weights.headers["access-control-allow-origin"] == kApp);
  CHECK(weights.headers["vary"] == "Origin");
  auto reset = post_json(station.tc_http(), "/api/v1/reset-session", "", "{}", {{"Origin", kApp}});
  CHECK(reset.status == 200);
  CHECK(reset.headers["access-control-allow-origin"] == kApp);

  // The local API: only the headers it allows are echoed.
  auto capture =
      http_request(station.http(), "OPTIONS", "/v1/captures",
                   {{"Origin", kApp},
                    {"Access-Control-Request-Method", "POST"},
                    {"Access-Control-Request-Headers", "content-type,idempotency-key,x-forged"}});
  CHECK(capture.status == 204);
  CHECK(capture.headers["access-control-allow-origin"] == kApp);
  CHECK(capture.headers["access-control-allow-methods"] == "GET, POST, DELETE");
  CHECK(capture.headers["access-control-allow-headers"] == "Content-Type, Idempotency-Key");
  auto status = get_from(station.http(), "/v1/status", kApp);
  CHECK(status.headers["access-control-expose-headers"] == "X-Correlation-Id, Idempotent-Replayed");
}

TEST_CASE("pairing: only the agent's own page or a local program may decide") {
  PairingStation station;
  REQUIRE(decide(station.http(), "allow", kApp).status == 200);
  const std::string intruder = "https://intruder.example";
  get_from(station.http(), "/v1/status", intruder);  // now pending

  // The paired app (and any other site) cannot approve anything, nor read the list.
  for (const auto& from : {kApp, intruder, std::string("https://truload.example.org")}) {
    auto r = decide(station.http(), "allow", intruder, {{"Origin", from}});
    CHECK(r.status == 403);
    CHECK_FALSE(r.headers.contains("access-control-allow-origin"));
    CHECK(get_from(station.http(), "/v1/origins", from).status == 403);
  }
  CHECK(body_of(decide(station.http(), "allow", intruder, {{"Origin", kApp}})).at("error") ==
        "origin_cannot_decide");
  // Not even its browser's preflight passes: the POST would never be sent.
  auto preflight = http_request(station.http(), "OPTIONS", "/v1/origins/allow",
                                {{"Origin", kApp},
                                 {"Access-Control-Request-Method", "POST"},
                                 {"Access-Control-Request-Headers", "content-type"}});
  CHECK(preflight.status == 403);
  CHECK_FALSE(preflight.headers.contains("access-control-allow-origin"));
  CHECK(find_origin(station.origins(), "pending", intruder));

  // JSON only, with a valid origin.
  auto text = http_request(station.http(), "POST", "/v1/origins/allow",
                           {{"Content-Type", "text/plain"}}, R"({"origin":")" + intruder + "\"}");
  CHECK(text.status == 415);
  auto malformed = decide(station.http(), "allow", "intruder.example");
  CHECK(malformed.status == 400);
  CHECK(body_of(malformed).at("error") == "invalid_origin");
  CHECK(http_request(station.http(), "GET", "/v1/origins/allow").status == 405);
  CHECK(find_origin(station.origins(), "pending", intruder));

  // The agent's own page decides.
  auto own = decide(station.http(), "deny", intruder, {{"Origin", "http://" + station.http()}});
  CHECK(own.status == 200);
  CHECK(find_origin(body_of(own), "denied", intruder));
}
