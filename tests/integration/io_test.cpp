// Lights, barriers and position sensors end to end (docs/devices.md): the real weighlink-agent
// on a pty scale driving a Modbus TCP IO module simulated on loopback (tests/support
// modbus_sim). Every wait is for the coil or the state itself (eventually), never a sleep.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <optional>

#include "agent_fixture.hpp"
#include "weighlink/testing/modbus_sim.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using weighlink::testing::agent_status;
using weighlink::testing::AgentProcess;
using weighlink::testing::body_of;
using weighlink::testing::eventually;
using weighlink::testing::http_request;
using weighlink::testing::ModbusSim;
using weighlink::testing::mt_frame;
using weighlink::testing::post_json;
using weighlink::testing::PtyScale;
using weighlink::testing::StreamingScale;
using weighlink::testing::TempDir;
using weighlink::testing::WsClient;

namespace {

constexpr const char* kCapture = R"({"scale":"main","operator":"op-1","timeout_ms":10000})";
// How long a coil or a state may take to follow (a bound on a loaded machine, not a timing
// assertion).
constexpr auto kWait = 30s;
// Coils of the lane (io_config below).
constexpr int kEntryRed = 0, kEntryGreen = 1, kExitRed = 2, kExitGreen = 3, kEntryBarrier = 4,
              kExitBarrier = 5;
// Discrete inputs: the two end beams, high while clear.
constexpr int kFrontClear = 0, kRearClear = 1;

std::string io_config(const std::string& address, bool sensors, const std::string& policy = {}) {
  std::string c =
      "io:\n"
      "  modules:\n"
      "    - {id: io-1, address: '" +
      address +
      "', poll_ms: 30, timeout_ms: 1000, reassert_ms: 500}\n"
      "  lanes:\n"
      "    - scale: main\n"
      "      outputs:\n"
      "        entry_red: {coil: 0}\n"
      "        entry_green: {coil: 1}\n"
      "        exit_red: {coil: 2}\n"
      "        exit_green: {coil: 3}\n"
      "        entry_barrier: {coil: 4}\n"
      "        exit_barrier: {coil: 5}\n";
  if (sensors) {
    c += "      sensors:\n"
         "        - {id: front_clear, kind: end_clear, input: 0}\n"
         "        - {id: rear_clear, kind: end_clear, input: 1}\n";
  }
  if (!policy.empty()) c += "  policy: " + policy + "\n";
  return c;
}

std::string config(const PtyScale& pty, const std::string& io) {
  return "scales:\n  - {id: main, source: 'serial:" + pty.path() +
         "', protocol: mt-continuous, zero_band: 20}\n" + io;
}

// The coils as the simulated module holds them.
bool lights(const ModbusSim& sim, bool entry_green, bool exit_green) {
  return sim.coil(kEntryGreen) == entry_green && sim.coil(kEntryRed) == !entry_green &&
         sim.coil(kExitGreen) == exit_green && sim.coil(kExitRed) == !exit_green;
}

json::object io_state(const std::string& http) {
  return body_of(http_request(http, "GET", "/v1/io"));
}

json::object lane(const std::string& http) { return io_state(http).at("lanes").at(0).as_object(); }

std::string sensor_state(const std::string& http, std::size_t i) {
  return std::string(lane(http).at("sensors").at(i).at("state").as_string());
}

json::object device(const std::string& http, const std::string& id) {
  const auto status = agent_status(http);
  for (const auto& d : status.at("devices").as_array()) {
    if (d.at("id") == json::value(id)) return d.as_object();
  }
  FAIL("no device " << id << " in /v1/status");
  return {};
}

// A lane on loopback: the pty scale streaming `frame` and the simulated module with both end
// beams clear; start() runs the agent with a configuration.
struct Station {
  TempDir dir{"wl-io"};
  PtyScale pty{dir / "scale"};
  StreamingScale scale;
  ModbusSim sim;
  std::optional<AgentProcess> agent;
  explicit Station(const std::string& frame) : scale(pty, frame) {
    sim.set_input(kFrontClear, true);
    sim.set_input(kRearClear, true);
  }
  // The scale `main` with the lane of io_config() (on `address`, default the simulator).
  [[nodiscard]] std::string lane(bool sensors, const std::string& address = {}) const {
    return config(pty, io_config(address.empty() ? sim.address() : address, sensors));
  }
  // The agent's log, for a failure's message.
  [[nodiscard]] std::string log() const { return agent ? agent->process->log() : std::string(); }
  const std::string& start(const std::string& yaml) {
    agent.emplace(dir, std::vector<std::string>{}, yaml);
    return agent->http;
  }
};

}  // namespace

TEST_CASE("io: a full weighing's lights and barriers: green at zero, red on, exit after capture") {
  Station st(mt_frame("0"));
  const auto http = st.start(st.lane(true));

  // Idle: entry green with its barrier open, exit red and closed.
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        return lights(st.sim, true, false) && st.sim.coil(kEntryBarrier) &&
                               !st.sim.coil(kExitBarrier);
                      },
                      kWait),
                  st.log());
  CHECK(lane(http).at("phase") == "idle");

  // Driving on: the front beam broken, the weight rising: entry red at once.
  st.sim.set_input(kFrontClear, false);
  REQUIRE(eventually([&] { return sensor_state(http, 0) == "blocked"; }, kWait));
  st.scale.set(mt_frame("8200", /*motion=*/true));
  REQUIRE(eventually([&] { return lights(st.sim, false, false); }, kWait));
  CHECK(st.sim.coil(kEntryBarrier));  // not closed onto the vehicle

  // Fully on: the entry barrier closes behind it.
  st.sim.set_input(kFrontClear, true);
  st.scale.set(mt_frame("8200"));
  REQUIRE(eventually([&] { return !st.sim.coil(kEntryBarrier); }, kWait));
  CHECK(sensor_state(http, 0) == "clear");
  CHECK(lane(http).at("phase") == "weighing");
  CHECK(lights(st.sim, false, false));
  CHECK_FALSE(st.sim.coil(kExitBarrier));

  // The capture is on disk: the exit opens and turns green.
  auto r = post_json(http, "/v1/captures", "io-cap-1", kCapture);
  REQUIRE_MESSAGE(r.status == 202, r.body);
  REQUIRE(
      eventually([&] { return st.sim.coil(kExitBarrier) && lights(st.sim, false, true); }, kWait));
  CHECK(lane(http).at("phase") == "exit");

  // Driving off, then gone: exit closed and red, entry green again.
  st.sim.set_input(kRearClear, false);
  st.scale.set(mt_frame("3100", true));
  st.scale.set(mt_frame("0"));
  st.sim.set_input(kRearClear, true);
  REQUIRE(eventually(
      [&] {
        return lights(st.sim, true, false) && !st.sim.coil(kExitBarrier) &&
               st.sim.coil(kEntryBarrier);
      },
      kWait));
}

TEST_CASE("io: a capture is refused while a position sensor sees the vehicle over an end") {
  Station st(mt_frame("8200"));
  st.sim.set_input(kRearClear, false);  // the trailer's end over the exit beam
  const auto http = st.start(st.lane(true));
  REQUIRE(eventually([&] { return sensor_state(http, 1) == "blocked"; }, kWait));

  auto r = post_json(http, "/v1/captures", "io-cap-1", kCapture);
  CHECK(r.status == 409);
  const auto refused = body_of(r);
  CHECK(refused.at("error") == "vehicle_not_on_deck");
  CHECK(std::string(refused.at("message").as_string()).find("rear_clear") != std::string::npos);
  CHECK(http_request(http, "GET", "/metrics")
            .body.find("weighlink_io_capture_refusals_total{code=\"vehicle_not_on_deck\"} 1") !=
        std::string::npos);

  // The driver moves up: the same capture goes through.
  st.sim.set_input(kRearClear, true);
  REQUIRE(eventually([&] { return sensor_state(http, 1) == "clear"; }, kWait));
  r = post_json(http, "/v1/captures", "io-cap-2", kCapture);
  CHECK_MESSAGE(r.status == 202, r.body);
}

TEST_CASE("io: a module absent at start is offline in /v1/status and captures go on") {
  Station st(mt_frame("8200"));
  std::string address;
  {
    ModbusSim gone;  // a port nothing listens on any more
    address = gone.address();
  }
  const auto http = st.start(st.lane(false, address));
  REQUIRE(eventually(
      [&] {
        const auto d = device(http, "io-1");
        return d.at("state") == "offline" &&
               std::string(d.at("detail").as_string()).find("cannot connect") != std::string::npos;
      },
      kWait));
  CHECK(http_request(http, "GET", "/metrics")
            .body.find("weighlink_device_up{device=\"io-1\",kind=\"io\"} 0") != std::string::npos);
  auto r = post_json(http, "/v1/captures", "io-cap-1", kCapture);
  CHECK_MESSAGE(r.status == 202, r.body);
}

TEST_CASE(
    "io: a module unplugged mid-cycle: offline, intended outputs kept, re-asserted when back") {
  Station st(mt_frame("0"));
  const auto http = st.start(st.lane(true));
  REQUIRE(eventually([&] { return lights(st.sim, true, false); }, kWait));

  st.sim.stop();
  REQUIRE(eventually([&] { return device(http, "io-1").at("state") == "offline"; }, kWait));
  st.scale.set(mt_frame("8200"));
  // The policy goes on: red is what it wants now, shown while the module cannot be told.
  REQUIRE(eventually(
      [&] { return lane(http).at("outputs").at("entry_light").at("state") == "red"; }, kWait));
  CHECK(device(http, "io-1").at("coils").at("0") == true);
  // The sensors cannot be read: refused, as io.policy.require_sensors says.
  auto r = post_json(http, "/v1/captures", "io-cap-1", kCapture);
  CHECK(r.status == 503);
  CHECK(body_of(r).at("error") == "position_sensor_unavailable");

  // Plugged back (every relay off after the power loss): the intended state is written again.
  st.sim.set_input(kFrontClear, true);
  st.sim.set_input(kRearClear, true);
  st.sim.start();
  REQUIRE(eventually([&] { return lights(st.sim, false, false); }, kWait));
  REQUIRE(eventually([&] { return device(http, "io-1").at("state") == "ok"; }, kWait));
  r = post_json(http, "/v1/captures", "io-cap-2", kCapture);
  CHECK_MESSAGE(r.status == 202, r.body);
  REQUIRE(eventually([&] { return st.sim.coil(kExitBarrier); }, kWait));
}

TEST_CASE("io: a manual override is recorded in /v1/audit, once per key, and cleared") {
  Station st(mt_frame("0"));
  const auto http = st.start(st.lane(true));
  REQUIRE(eventually([&] { return lights(st.sim, true, false); }, kWait));
  const auto counter = [&] { return agent_status(http).at("audit").at("counter").as_int64(); };
  const auto before = counter();

  auto r = post_json(http, "/v1/io/override", "ovr-1",
                     R"({"target":"exit_barrier","state":"open","operator":"op-7"})");
  CHECK(r.status == 400);
  CHECK(body_of(r).at("error") == "operator_and_reason_required");

  const std::string body =
      R"({"target":"exit_barrier","state":"open","operator":"op-7","reason":"truck stuck"})";
  r = post_json(http, "/v1/io/override", "ovr-1", body);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(body_of(r).at("replayed") == false);
  REQUIRE(eventually([&] { return st.sim.coil(kExitBarrier); }, kWait));
  CHECK(lane(http).at("outputs").at("exit_barrier").at("source") == "override");
  CHECK(counter() == before + 1);

  const auto audit =
      body_of(http_request(http, "GET", "/v1/audit?after=" + std::to_string(before)));
  const auto& event = audit.at("items").at(0).as_object();
  CHECK(event.at("scope") == "io/main");
  CHECK(event.at("setting") == "exit_barrier");
  CHECK(event.at("old") == "closed");
  CHECK(event.at("new") == "open");
  CHECK(event.at("by") == "op-7");
  CHECK(event.at("reason") == "truck stuck");

  // The same request again: the event recorded first, nothing recorded twice.
  r = post_json(http, "/v1/io/override", "ovr-1", body);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(body_of(r).at("replayed") == true);
  CHECK(counter() == before + 1);

  r = post_json(http, "/v1/io/override/clear", "ovr-2",
                R"({"target":"exit_barrier","operator":"op-7","reason":"truck gone"})");
  REQUIRE_MESSAGE(r.status == 200, r.body);
  REQUIRE(eventually([&] { return !st.sim.coil(kExitBarrier); }, kWait));
  CHECK(counter() == before + 2);
  r = post_json(http, "/v1/io/override/clear", "ovr-3",
                R"({"target":"exit_barrier","operator":"op-7","reason":"again"})");
  CHECK(r.status == 409);
}

TEST_CASE("io: TruConnect's enter and stop drive the entry light of the lane") {
  Station st(mt_frame("8200", true));  // a vehicle coming on: red
  st.start(weighlink::testing::truconnect_config(st.pty.path(), "mt-continuous", "mobile",
                                                 io_config(st.sim.address(), false)));
  const auto& agent = *st.agent;
  REQUIRE(eventually([&] { return lights(st.sim, false, false); }, kWait));
  WsClient ws(agent.address("truconnect_ws"), "/", {{"Origin", "https://truload.example.org"}});
  weighlink::testing::next_event(ws, "connected");
  ws.write(R"({"event":"enter","data":{}})");
  const auto ack = weighlink::testing::next_event(ws, "enter-ack");
  CHECK(ack.at("success") == true);
  CHECK(ack.at("supported") == true);
  CHECK(ack.at("lane") == "main");
  CHECK(ack.at("entry_light") == "green");
  REQUIRE(eventually([&] { return lights(st.sim, true, false); }, kWait));
  ws.write(R"({"event":"stop","data":{}})");
  CHECK(weighlink::testing::next_event(ws, "stop-ack").at("light") == "red");
  REQUIRE(eventually([&] { return lights(st.sim, false, false); }, kWait));
}
