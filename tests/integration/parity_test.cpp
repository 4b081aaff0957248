// TruConnect parity by default (issue 16), on real parts: polled indicators are polled with no
// poll setting, a Zedem 510 total mismatch shows the decks and flags the frame, the REST fallback
// follows the socket's register, and a compatibility port that cannot be bound fails the start or
// (optional) keeps /readyz red until the port is free.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "agent_fixture.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;

namespace {

// A listening TCP socket on 127.0.0.1 (any port): another program holding a port.
class Squatter {
 public:
  Squatter() {
    // CLOEXEC: the agent started later must not inherit (and so keep) the port.
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    address_ = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  }
  ~Squatter() { release(); }
  Squatter(const Squatter&) = delete;
  Squatter& operator=(const Squatter&) = delete;
  void release() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  [[nodiscard]] const std::string& address() const { return address_; }

 private:
  int fd_ = -1;
  std::string address_;
};

// weighlink-scale simulate playing an indicator on a pty at `link`.
struct SimulatedIndicator {
  std::unique_ptr<Process> process;
  SimulatedIndicator(const TempDir& dir, const std::string& link, std::vector<std::string> args) {
    const auto ready_file = dir / "sim.ready";
    std::vector<std::string> argv{bin("weighlink-scale"), "simulate",         "--pty", link,
                                  "--ready-file",         ready_file.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    process = std::make_unique<Process>(argv, dir / "sim.log");
    (void)process->wait_ready(ready_file, 10s);
  }
};

std::string compat_config(const std::string& ws_listen, bool optional) {
  return std::string("compat:\n  truconnect: {enabled: true, ws_listen: '") + ws_listen +
         "', http_listen: '127.0.0.1:0'" + (optional ? ", optional: true" : "") +
         "}\n"
         "scales:\n  - {id: main, source: 'sim:static', protocol: mt-continuous}\n";
}

std::uint64_t flagged_metric(const std::string& http) {
  const auto body = http_request(http, "GET", "/metrics").body;
  const std::string series =
      R"(weighlink_agent_scale_frames_flagged_total{scale="main",reason="total_mismatch"} )";
  const auto at = body.find(series);
  if (at == std::string::npos) return 0;
  return std::stoull(body.substr(at + series.size()));
}

}  // namespace

TEST_CASE("parity: a polled indicator gives readings with no poll setting in the configuration") {
  // Each simulator answers only its protocol's request (ENQ), as the real indicator does.
  for (const std::string protocol : {"zm", "cardinal-deck", "i1310"}) {
    CAPTURE(protocol);
    TempDir dir("wl-parity-poll");
    const auto link = (dir / "scale").string();
    SimulatedIndicator sim(dir, link, {"--protocol", protocol, "--weight", "12440"});
    AgentProcess agent(
        dir, {},
        "scales:\n  - {id: main, source: 'serial:" + link + "', protocol: " + protocol + "}\n");
    WsClient live(agent.http, "/v1/live");
    const auto reading = read_until(live, [](const json::object& o) {
      return o.at("type") == "reading" && o.at("weight") == "12440" && o.at("stale") == false;
    });
    CHECK(reading.at("decks").as_array().size() == 3);
  }
}

TEST_CASE("parity: a Zedem 510 total mismatch shows the decks, flags, counts and is recorded") {
  TempDir dir("wl-parity-zedem");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, {}, truconnect_config(scale.path(), "zm", "multideck"));
  // The indicator's total (16010) is not the sum of its decks (16000).
  StreamingScale indicator(scale, "5200, 4800, 3100, 2900, 16010\r\n");

  WsClient live(agent.http, "/v1/live");
  const auto reading = read_until(live, [](const json::object& o) {
    return o.at("type") == "reading" && o.at("stale") == false && o.at("stable") == true;
  });
  CHECK(reading.at("weight") == "16000");
  REQUIRE(reading.at("decks").as_array().size() == 4);
  CHECK(reading.at("decks").as_array()[0].at("weight") == "5200");
  CHECK(reading.at("flag") == json::parse(R"({"reason":"total_mismatch",)"
                                          R"("indicator_total":"16010","decks_sum":"16000"})"));

  // The TruLoad app's multideck frames show the decks, connected.
  WsClient tc(agent.address("truconnect_ws"), "/");
  tc.write(R"({"event":"register","data":{"stationCode":"ROMIA","mode":"multideck"}})");
  const auto weights = read_until(tc, [](const json::object& o) {
    return o.at("event") == "weights" && o.at("data").at("gvw") == 16000;
  });
  CHECK(weights.at("data").at("deck1") == 5200);
  CHECK(weights.at("data").at("deck4") == 2900);
  CHECK(weights.at("data").at("connection").at("connected") == true);

  // A capture of such a frame records why its numbers disagree.
  auto captured = post_json(agent.http, "/v1/captures", "zedem-1",
                            R"({"scale":"main","operator":"op-1","timeout_ms":3000})");
  REQUIRE_MESSAGE(captured.status == 202, captured.body);
  const auto weighing = body_of(captured).at("weighing").as_object();
  CHECK(weighing.at("gvw") == "16000");
  CHECK(weighing.at("flag").at("reason") == "total_mismatch");
  CHECK(weighing.at("flag").at("indicator_total") == "16010");
  CHECK(weighing.at("flag").at("decks_sum") == "16000");

  // Every flagged frame is counted; the log warns, but not once per frame.
  REQUIRE(eventually([&] { return flagged_metric(agent.http) >= 10; }, 10s));
  const auto log = agent.process->log();
  const std::string warning = "is not the sum of its decks 16000 kg";
  std::size_t lines = 0;
  for (auto at = log.find(warning); at != std::string::npos; at = log.find(warning, at + 1)) {
    ++lines;
  }
  CHECK(lines >= 1);
  CHECK(lines < flagged_metric(agent.http));
}

TEST_CASE("parity: the REST fallback follows the mode the app registered on the socket") {
  TempDir dir("wl-parity-rest");
  PtyScale scale(dir / "scale");
  // The station default is mobile; the multideck page registers multideck over the socket.
  AgentProcess agent(dir, {}, truconnect_config(scale.path(), "cardinal-deck", "mobile"));
  StreamingScale indicator(scale, "D1:  5200 kg S\r\nD2:  4800 kg S\r\nGVW: 10000 kg S\r\n");
  const auto api = agent.address("truconnect_http");
  {
    WsClient ws(agent.address("truconnect_ws"), "/");
    ws.write(R"({"event":"register","data":{"stationCode":"ROMIA","mode":"multideck"}})");
    next_event(ws, "register-ack");
  }  // the socket fails: the app polls REST with no ?mode=
  json::object weights;
  REQUIRE(eventually(
      [&] {
        weights = body_of(http_request(api, "GET", "/api/v1/weights"));
        return weights.at("data").at("gvw") == 10000;
      },
      5s));
  CHECK(weights.at("mode") == "multideck");
  const auto& decks = weights.at("data").at("decks").as_array();
  CHECK(decks.at(0).at("weight") == 5200);
  CHECK(decks.at(1).at("weight") == 4800);
  const auto gvw = body_of(http_request(api, "GET", "/api/v1/gvw"));
  CHECK(gvw.at("mode") == "multideck");
  CHECK(gvw.at("data").at("gvw") == 10000);

  // A later register names mobile: REST follows it.
  WsClient ws(agent.address("truconnect_ws"), "/");
  ws.write(R"({"event":"register","data":{"stationCode":"ROMIA","mode":"mobile"}})");
  next_event(ws, "register-ack");
  CHECK(body_of(http_request(api, "GET", "/api/v1/weights")).at("mode") == "mobile");
}

TEST_CASE("parity: a compatibility port held by another program fails the start with exit 2") {
  TempDir dir("wl-parity-port");
  Squatter other;  // e.g. TruConnect still running on 3030
  std::ofstream(dir / "agent.yaml") << compat_config(other.address(), false);
  const auto r = run_split({bin("weighlink-agent"), "--listen", "127.0.0.1:0", "--data-dir",
                            (dir / "data").string(), "--config", (dir / "agent.yaml").string()});
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(r.err.find("cannot listen on " + other.address()) != std::string::npos);
  CHECK(r.err.find("in use") != std::string::npos);
  CHECK(r.err.find("TruConnect") != std::string::npos);
  CHECK(r.err.find("compat.truconnect.ws_listen") != std::string::npos);
  CHECK(r.err.find("compat.truconnect.optional: true") != std::string::npos);
}

TEST_CASE("parity: an optional compatibility port keeps /readyz red until it is bound") {
  TempDir dir("wl-parity-optional");
  Squatter other;
  const auto port = other.address();
  AgentProcess agent(dir, {}, compat_config(port, true));
  CHECK_FALSE(agent.ready.contains("truconnect_ws"));
  CHECK(agent.ready.contains("truconnect_http"));

  const auto not_ready = http_request(agent.http, "GET", "/readyz");
  CHECK(not_ready.status == 503);
  CHECK(not_ready.body.find("compat.truconnect.ws_listen " + port) != std::string::npos);
  CHECK(http_request(agent.http, "GET", "/healthz").status == 200);  // alive, just not ready
  const auto ports = agent_status(agent.http).at("compat_ports").as_array();
  REQUIRE(ports.size() == 2);
  CHECK(ports[0].at("key") == "compat.truconnect.ws_listen");
  CHECK(ports[0].at("address").as_string() == port);
  CHECK(ports[0].at("listening").is_null());
  CHECK(ports[0].at("error").as_string().find("in use") != std::string::npos);
  CHECK(ports[1].at("listening").is_string());

  other.release();  // the other program stops: the agent binds the port by itself
  const bool ready = eventually(
      [&] { return http_request(agent.http, "GET", "/readyz").status == 200; }, 30s, 100ms);
  REQUIRE_MESSAGE(ready, agent.process->log());
  CHECK(agent_status(agent.http).at("compat_ports").at(0).at("listening").as_string() == port);
  WsClient ws(port, "/");
  CHECK(next_event(ws, "connected").contains("clientId"));
  REQUIRE(eventually(
      [&] { return read_file(dir / "agent.ready").find("truconnect_ws") != std::string::npos; },
      5s));
}
