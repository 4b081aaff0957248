// The live socket (GET /v1/live) on real parts: keep-alive, slow and dead clients, refusals, and
// the axle-session HTTP API, against the real weighlink-agent reading a pty scale.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <mutex>
#include <thread>

#include "agent_fixture.hpp"

namespace json = boost::json;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace weighlink::testing;

namespace {

// A WebSocket client written by hand on a raw socket, so a test can make it misbehave: it
// completes the handshake and then reads nothing at all.
struct RawWsClient {
  asio::io_context ioc;
  asio::ip::tcp::socket socket{ioc};

  RawWsClient(const std::string& address, int receive_buffer) {
    const auto [host, port] = weighlink::testing::split_host_port(address);
    socket.open(asio::ip::tcp::v4());
    if (receive_buffer > 0) {
      socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    }
    socket.connect({asio::ip::make_address(host), port});
    const std::string req = "GET /v1/live HTTP/1.1\r\nHost: " + address +
                            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n\r\n";
    asio::write(socket, asio::buffer(req));
    // Read exactly the handshake answer, byte by byte, and not one byte of what follows.
    std::string head;
    char c = 0;
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 4096) {
      asio::read(socket, asio::buffer(&c, 1));
      head += c;
    }
    REQUIRE(head.rfind("HTTP/1.1 101", 0) == 0);
  }
  // An unsolicited, masked, empty pong: "I am alive", without reading anything.
  void send_pong() {
    const unsigned char frame[] = {0x8A, 0x80, 0x11, 0x22, 0x33, 0x44};
    boost::system::error_code ec;
    asio::write(socket, asio::buffer(frame), ec);
  }
};

// Floods the pty with frames until stopped, each a new weight.
struct Flood {
  std::atomic<bool> stop{false};
  std::thread thread;
  explicit Flood(PtyScale& scale) {
    thread = std::thread([this, &scale] {
      int w = 10000;
      while (!stop) {
        scale.write(mt_frame(std::to_string(w).c_str()));
        w = w >= 90000 ? 10000 : w + 10;
      }
    });
  }
  ~Flood() {
    stop = true;
    thread.join();
  }
};

}  // namespace

TEST_CASE("live socket: hello, readings with increasing seq, status with uplink and outbox") {
  TempDir dir("wl-live");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, {"--scale-source", "serial:" + scale.path()});
  WsClient ws(agent.http, "/v1/live");
  auto hello = read_until(ws, [](const json::object& m) { return m.at("type") == "hello"; });
  CHECK(hello.at("protocol") == 1);
  CHECK(hello.at("scales").as_array().size() == 1);
  CHECK(hello.at("ping_interval_ms").as_int64() > 0);

  std::int64_t last_seq = 0;
  for (const char* w : {"1000", "1010", "1020"}) {
    scale.write(mt_frame(w));
    auto r = read_until(ws, [w](const json::object& m) {
      return m.at("type") == "reading" && m.at("weight") == w;
    });
    CHECK(r.at("seq").as_int64() > last_seq);
    last_seq = r.at("seq").as_int64();
  }
  // A mutation waiting in the outbox shows in the next status message, after the audit events
  // of the first start (docs/legal-metrology.md).
  const auto audit = agent_status(agent.http).at("audit").at("counter").as_int64();
  REQUIRE(post_json(agent.http, "/v1/mutations", "k-1", R"({"kind":"note.added","payload":{}})")
              .status == 202);
  auto status = read_until(ws, [audit](const json::object& m) {
    return m.at("type") == "status" && m.at("outbox").at("pending") == audit + 1;
  });
  CHECK(status.at("uplink").at("state") == "disabled");
  CHECK(status.at("outbox").at("oldest_pending_age_s").is_int64());
  const auto& sc = status.at("scales").as_array().at(0).as_object();
  CHECK(sc.at("connected") == true);
  CHECK(sc.at("stale") == false);
  CHECK(status.at("axle_sessions").at("main").at("state") == "idle");
}

TEST_CASE("live socket: a subscription narrows the readings and bad subscriptions are refused") {
  TempDir dir("wl-live");
  PtyScale a(dir / "a");
  PtyScale b(dir / "b");
  AgentProcess agent(dir, {},
                     "scales:\n"
                     "  - {id: a, source: 'serial:" +
                         a.path() +
                         "', protocol: mt-continuous}\n"
                         "  - {id: b, source: 'serial:" +
                         b.path() + "', protocol: mt-continuous}\n");
  WsClient ws(agent.http, "/v1/live");
  ws.write(R"({"type":"subscribe","scales":["nope"]})");
  auto err = read_until(ws, [](const json::object& m) { return m.at("type") == "error"; });
  CHECK(err.at("error") == "unknown_scale");
  ws.write(R"({"type":"subscribe","scales":"a"})");
  err = read_until(ws, [](const json::object& m) { return m.at("type") == "error"; });
  CHECK(err.at("error") == "invalid_subscribe");
  ws.write(R"({"type":"subscribe","scales":["b"]})");
  read_until(ws, [](const json::object& m) { return m.at("type") == "subscribed"; });
  a.write(mt_frame("111"));
  b.write(mt_frame("222"));
  auto r = read_until(ws, [](const json::object& m) { return m.at("type") == "reading"; });
  CHECK(r.at("scale") == "b");
  CHECK(r.at("weight") == "222");
  // Scale a's readings never arrive while subscribed to b only.
  a.write(mt_frame("333"));
  b.write(mt_frame("444"));
  r = read_until(ws, [](const json::object& m) {
    return m.at("type") == "reading" && m.at("weight") != "222";
  });
  CHECK(r.at("scale") == "b");
  CHECK(r.at("weight") == "444");
}

TEST_CASE("live socket: refusals have a clear answer") {
  TempDir dir("wl-live");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, {"--scale-source", "serial:" + scale.path()},
                     "allowed_origins: ['https://truload.example.org']\n"
                     "live: {max_message_bytes: 1024}\n");
  SUBCASE("a foreign Origin gets 403 before the upgrade") {
    CHECK_THROWS_WITH(WsClient(agent.http, "/v1/live", {{"Origin", "https://evil.example"}}),
                      doctest::Contains("403"));
    WsClient ok(agent.http, "/v1/live", {{"Origin", "https://truload.example.org"}});
    read_until(ok, [](const json::object& m) { return m.at("type") == "hello"; });
  }
  SUBCASE("a Host that is not a local name gets 421 (DNS rebinding)") {
    CHECK_THROWS_WITH(WsClient(agent.http, "/v1/live", {{"Host", "attacker.example:8420"}}),
                      doctest::Contains("421"));
  }
  SUBCASE("another path gets 404") {
    CHECK_THROWS_WITH(WsClient(agent.http, "/v1/other"), doctest::Contains("404"));
  }
  SUBCASE("malformed JSON and unknown types get an error message, the socket stays") {
    WsClient ws(agent.http, "/v1/live");
    ws.write("{not json");
    auto e = read_until(ws, [](const json::object& m) { return m.at("type") == "error"; });
    CHECK(e.at("error") == "invalid_json");
    ws.write(R"({"type":"launch"})");
    e = read_until(ws, [](const json::object& m) { return m.at("type") == "error"; });
    CHECK(e.at("error") == "unknown_type");
    ws.write(R"({"type":"ping","id":7})");
    auto pong = read_until(ws, [](const json::object& m) { return m.at("type") == "pong"; });
    CHECK(pong.at("id") == 7);
  }
  SUBCASE("a request body over 1 MiB gets 413 and nothing is queued") {
    const std::string big =
        R"({"kind":"note.added","payload":{"text":")" + std::string((1 << 20) + 1024, 'x') + "\"}}";
    auto r = post_json(agent.http, "/v1/mutations", "big-1", big);
    CHECK(r.status == 413);
    CHECK(body_of(r).at("error") == "body_too_large");
    CHECK(without_audit(body_of(http_request(agent.http, "GET", "/v1/outbox"))).empty());
  }
  SUBCASE("an oversize message closes the socket with 1009") {
    WsClient ws(agent.http, "/v1/live");
    read_until(ws, [](const json::object& m) { return m.at("type") == "hello"; });
    ws.write(std::string(2000, 'x'));
    for (int i = 0; i < 100 && ws.read(5s); ++i) {
    }
    CHECK(ws.closed());
    REQUIRE(ws.close_code().has_value());
    CHECK(*ws.close_code() == 1009);
  }
}

TEST_CASE(
    "live socket: a client that answers nothing is closed and the others keep their readings") {
  TempDir dir("wl-live");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, {"--scale-source", "serial:" + scale.path()},
                     "live: {ping_interval_ms: 500}\n");
  WsClient healthy(agent.http, "/v1/live");
  RawWsClient dead(agent.http, 0);
  CHECK(eventually([&] { return live_clients(agent.http) == 2; }, 5s));
  // The dead client never reads and never answers the server's pings.
  int w = 20000;
  const bool closed = eventually(
      [&] {
        scale.write(mt_frame(std::to_string(w += 10).c_str()));
        const auto want = std::to_string(w);
        read_until(healthy, [&](const json::object& m) {
          return m.at("type") == "reading" && m.at("weight") == json::value(want);
        });
        return live_clients(agent.http) == 1;
      },
      10s);
  CHECK(closed);
  CHECK(!healthy.closed());
  CHECK(healthy.pings() >= 1);  // the healthy one was pinged too, answered, and is still here
}

TEST_CASE("live socket: a client that stops reading is closed without slowing the others") {
  TempDir dir("wl-live");
  PtyScale scale(dir / "scale");
  // Pings far apart, so only the write-stall rule can close the stuck client.
  AgentProcess agent(dir, {"--scale-source", "serial:" + scale.path()},
                     "live: {ping_interval_ms: 60000, write_stall_ms: 1000}\n");
  // A healthy client reads continuously, as a browser does, on its own thread.
  struct Healthy {
    WsClient ws;
    std::atomic<bool> stop{false};
    std::atomic<int> readings{0};
    std::atomic<int> stale{0};
    std::mutex mutex;
    std::string last_weight;  // under mutex
    std::thread thread;
    explicit Healthy(const std::string& http) : ws(http, "/v1/live") {
      thread = std::thread([this] {
        while (!stop && !ws.closed()) {
          auto msg = ws.read(3s);
          if (!msg) break;
          auto v = json::parse(*msg);
          if (v.at("type") != "reading") continue;
          ++readings;
          if (v.at("stale") == true) ++stale;
          std::lock_guard lock(mutex);
          last_weight = std::string(v.at("weight").as_string());
        }
      });
    }
    std::string weight() {
      std::lock_guard lock(mutex);
      return last_weight;
    }
    void end() {
      stop = true;
      thread.join();
    }
  } healthy(agent.http);
  RawWsClient stuck(agent.http, 4096);
  CHECK(eventually([&] { return live_clients(agent.http) == 2; }, 5s));
  int during = 0;
  {
    Flood flood(scale);
    // The stuck client proves it is alive (pongs) but reads nothing; its socket fills up.
    const bool closed = eventually(
        [&] {
          stuck.send_pong();
          return live_clients(agent.http) == 1;
        },
        40s, 200ms);
    CHECK(closed);
    during = healthy.readings;
  }
  CHECK(during > 100);  // the healthy client was served all along
  scale.write(mt_frame("55555"));
  // The newest frame arrives, after whatever was still on its way of the flood.
  CHECK(eventually([&] { return healthy.weight() == "55555"; }, 5s));
  healthy.end();
  CHECK(!healthy.ws.closed());
  CHECK(healthy.stale == 0);
  CHECK(healthy.weight() == "55555");
  CHECK(agent.process->log().find("read nothing") != std::string::npos);
}

TEST_CASE("axle sessions over HTTP: start, capture axles, complete into one weighing") {
  TempDir dir("wl-live");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, {"--scale-source", "serial:" + scale.path()},
                     "capture_timeout_ms: 1500\n");
  const std::string base = "/v1/axle-sessions/main";
  auto start = post_json(agent.http, base + "/start", "", R"({"expected_axles":2})");
  REQUIRE(start.status == 200);
  CHECK(body_of(start).at("state") == "weighing");
  CHECK(body_of(start).at("expected_axles") == 2);

  // Completing with nothing captured, and capturing in motion, are refused.
  CHECK(post_json(agent.http, base + "/complete", "c-0", "{}").status == 409);
  scale.write(mt_frame("8200", /*motion=*/true));
  auto moving = post_json(agent.http, base + "/axles", "a-1", R"({"timeout_ms":300})");
  CHECK(moving.status == 409);
  CHECK(body_of(moving).at("error") == "scale_not_stable");

  scale.write(mt_frame("8200"));
  auto a1 = post_json(agent.http, base + "/axles", "a-1b", "{}");
  REQUIRE(a1.status == 200);
  CHECK(body_of(a1).at("axle").at("number") == 1);
  CHECK(body_of(a1).at("axle").at("weight") == "8200");
  // The same key again answers with the same axle: nothing captured twice.
  auto again = post_json(agent.http, base + "/axles", "a-1b", "{}");
  CHECK(again.status == 200);
  CHECK(again.headers["idempotent-replayed"] == "true");
  CHECK(body_of(again).at("session").at("axles").as_array().size() == 1);

  // The same stable weight again is the same axle still on the pad: refused, not axle 2.
  scale.write(mt_frame("8200"));
  auto same = post_json(agent.http, base + "/axles", "a-2x", R"({"timeout_ms":300})");
  CHECK(same.status == 409);
  CHECK(body_of(same).at("error") == "not_increasing");
  // Asked before the next frame arrives, the capture waits for it.
  scale.write(mt_frame("7400"));
  auto a2 = post_json(agent.http, base + "/axles", "a-2", "{}");
  REQUIRE(a2.status == 200);
  CHECK(body_of(a2).at("session").at("running_gvw") == "15600");
  auto a3 = post_json(agent.http, base + "/axles", "a-3", "{}");
  CHECK(a3.status == 409);
  CHECK(body_of(a3).at("error") == "too_many_axles");

  auto done = post_json(agent.http, base + "/complete", "c-1", R"({"operator":"jdoe"})");
  REQUIRE(done.status == 202);
  const auto w = body_of(done).at("weighing").as_object();
  CHECK(w.at("type") == "axle");
  CHECK(w.at("gvw") == "15600");
  CHECK(w.at("operator") == "jdoe");
  REQUIRE(w.at("axles").as_array().size() == 2);
  CHECK(w.at("axles").as_array()[1].at("weight") == "7400");
  CHECK(!w.at("axles").as_array()[0].at("raw").as_string().empty());
  // A retried completion answers with the same weighing; a second completion is refused.
  auto replay = post_json(agent.http, base + "/complete", "c-1", R"({"operator":"jdoe"})");
  CHECK(replay.status == 200);
  CHECK(body_of(replay).at("seq") == body_of(done).at("seq"));
  CHECK(post_json(agent.http, base + "/complete", "c-2", "{}").status == 409);

  auto outbox = without_audit(body_of(http_request(agent.http, "GET", "/v1/outbox")));
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].at("kind") == "weighing.captured");

  auto reset = http_request(agent.http, "DELETE", base);
  CHECK(reset.status == 200);
  CHECK(body_of(reset).at("state") == "idle");
  CHECK(http_request(agent.http, "GET", "/v1/axle-sessions/nope").status == 404);
}

TEST_CASE("live socket: clients beyond max_clients get 503 before the upgrade") {
  TempDir dir("wl-live");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, {"--scale-source", "serial:" + scale.path()}, "live: {max_clients: 1}\n");
  WsClient first(agent.http, "/v1/live");
  read_until(first, [](const json::object& m) { return m.at("type") == "hello"; });
  CHECK_THROWS_WITH(WsClient(agent.http, "/v1/live"), doctest::Contains("503"));
  CHECK(!first.closed());
}

TEST_CASE("axle sessions: a weighing the outbox refuses keeps its axles for another try") {
  TempDir dir("wl-live");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, {"--scale-source", "serial:" + scale.path()},
                     "outbox_max_rows: 1\ncapture_timeout_ms: 1500\n");
  // The outbox is at its cap (the audit events of the first start may have filled it already).
  for (int i = 0; post_json(agent.http, "/v1/mutations", "fill-" + std::to_string(i),
                            R"({"kind":"note.added","payload":{}})")
                      .status == 202;
       ++i) {
    REQUIRE(i < 100);
  }
  const std::string base = "/v1/axle-sessions/main";
  REQUIRE(post_json(agent.http, base + "/start", "", R"({"expected_axles":1})").status == 200);
  scale.write(mt_frame("6100"));
  REQUIRE(post_json(agent.http, base + "/axles", "a-1", "{}").status == 200);
  auto done = post_json(agent.http, base + "/complete", "c-1", "{}");
  CHECK(done.status == 507);
  CHECK(body_of(done).at("error") == "outbox_full");
  auto session = body_of(http_request(agent.http, "GET", base));
  CHECK(session.at("state") == "weighing");
  CHECK(session.at("axles").as_array().size() == 1);
  // Starting over must be asked for explicitly while axles are held.
  auto start = post_json(agent.http, base + "/start", "", "{}");
  CHECK(start.status == 409);
  CHECK(body_of(start).at("error") == "session_in_progress");
  CHECK(post_json(agent.http, base + "/start", "", R"({"restart":true})").status == 200);
}

TEST_CASE("axle sessions: an agent killed mid-vehicle carries on with the axles it answered") {
  TempDir dir("wl-live");
  PtyScale scale(dir / "scale");
  const std::string config = "capture_timeout_ms: 1500\n";
  const std::string base = "/v1/axle-sessions/main";
  std::string axle1_body;
  {
    AgentProcess agent(dir, {"--scale-source", "serial:" + scale.path()}, config);
    REQUIRE(post_json(agent.http, base + "/start", "", R"({"expected_axles":3})").status == 200);
    scale.write(mt_frame("6100"));
    auto a1 = post_json(agent.http, base + "/axles", "k-1", "{}");
    REQUIRE(a1.status == 200);
    axle1_body = a1.body;
    scale.write(mt_frame("7300"));
    REQUIRE(post_json(agent.http, base + "/axles", "k-2", "{}").status == 200);
    agent.process->kill();  // SIGKILL right after the answer
  }
  AgentProcess agent(dir, {"--scale-source", "serial:" + scale.path()}, config);
  auto session = body_of(http_request(agent.http, "GET", base));
  CHECK(session.at("state") == "weighing");
  CHECK(session.at("expected_axles") == 3);
  REQUIRE(session.at("axles").as_array().size() == 2);
  CHECK(session.at("axles").as_array()[1].at("weight") == "7300");
  CHECK(session.at("running_gvw") == "13400");
  // A client that retries an axle it sent before the crash gets the same axle, not a new one.
  auto retried = post_json(agent.http, base + "/axles", "k-1", "{}");
  CHECK(retried.status == 200);
  CHECK(retried.headers["idempotent-replayed"] == "true");
  CHECK(body_of(retried).at("axle") == boost::json::parse(axle1_body).at("axle"));
  // The pad of this run counts as a new frame; the last axle's weight still on it does not.
  scale.write(mt_frame("7300"));
  auto same = post_json(agent.http, base + "/axles", "k-3x", R"({"timeout_ms":300})");
  CHECK(same.status == 409);
  scale.write(mt_frame("8800", /*motion=*/true));
  scale.write(mt_frame("8800"));
  auto a3 = post_json(agent.http, base + "/axles", "k-3", "{}");
  REQUIRE_MESSAGE(a3.status == 200, a3.body);
  auto done = post_json(agent.http, base + "/complete", "c-1", R"({"operator":"op"})");
  REQUIRE(done.status == 202);
  const auto w = body_of(done).at("weighing").as_object();
  CHECK(w.at("gvw") == "22200");
  CHECK(w.at("axles").as_array().size() == 3);
  CHECK(!w.at("axles").as_array()[0].at("raw").as_string().empty());

  // Completed: the session is gone with the weighing, also after another restart.
  CHECK(agent.process->terminate() == 0);
  AgentProcess after(dir, {"--scale-source", "serial:" + scale.path()}, config);
  CHECK(body_of(http_request(after.http, "GET", base)).at("state") == "idle");
  CHECK(without_audit(body_of(http_request(after.http, "GET", "/v1/outbox"))).size() == 1);
}
