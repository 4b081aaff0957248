// Soak runs: minutes each, on real parts. Label soak, left out of `make test` (`make soak` runs
// them): what they show is that nothing wears out over time, which no short run can.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "agent_fixture.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;

TEST_CASE("live socket: a healthy client is never cut (three minutes of pings answered)") {
  TempDir dir("wl-live");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, {"--scale-source", "serial:" + scale.path()},
                     "live: {ping_interval_ms: 1000}\n");
  WsClient ws(agent.http, "/v1/live");
  read_until(ws, [](const json::object& m) { return m.at("type") == "hello"; });
  // TruConnect terminates exactly such a client 30-60 s after it connects. Readings flow the
  // whole time, each one read before the next is written; the client says nothing itself, so the
  // server pings it every second and the client's WebSocket layer answers, as a browser's does.
  // The run is counted in those pings (180: three minutes), not on a clock of the test's own.
  int frames = 0;
  std::int64_t last_seq = 0;
  while (ws.pings() < 180) {
    const auto weight = std::to_string(30000 + (frames % 1000) * 10);
    scale.write(mt_frame(weight.c_str()));
    ++frames;
    auto r = read_until(ws, [&](const json::object& m) {
      return m.at("type") == "reading" && m.at("weight") == json::value(weight);
    });
    CHECK(r.at("seq").as_int64() > last_seq);
    last_seq = r.at("seq").as_int64();
    REQUIRE(!ws.closed());
  }
  CHECK(frames > 500);
  CHECK(ws.pings() >= 120);
  CHECK(!ws.closed());
  CHECK(live_clients(agent.http) == 1);
}
