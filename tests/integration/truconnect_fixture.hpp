#pragma once
// What the TruConnect end-to-end tests share (truconnect_test.cpp, truconnect_vehicle_test.cpp):
// the agent on a pty scale, the app's socket events and the shapes of the frames it reads.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <boost/json.hpp>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "agent_fixture.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;

namespace truconnect_fixture {

inline const std::map<std::string, std::string> kAppOrigin{
    {"Origin", "https://truload.example.org"}};

// The real agent with TruConnect on (truconnect_config), reading a pty scale of `protocol`.
struct TruConnectAgent {
  explicit TruConnectAgent(const std::string& protocol = "mt-continuous")
      : agent(dir, {}, truconnect_config(scale.path(), protocol, "mobile")) {}
  TempDir dir{"wl-tc"};
  PtyScale scale{dir / "scale"};
  AgentProcess agent;
};

inline void send(WsClient& ws, const std::string& event, const std::string& data = "{}") {
  ws.write(R"({"event":")" + event + R"(","data":)" + data + "}");
}

// The web app on the TruConnect socket as it connects (its origin, no path): the `connected`
// event taken, registered in `mode` (mobile or multideck), the register-ack taken.
inline std::unique_ptr<WsClient> registered_app(const AgentProcess& agent,
                                                const std::string& mode = "mobile") {
  auto ws = std::make_unique<WsClient>(agent.address("truconnect_ws"), "/", kAppOrigin);
  next_event(*ws, "connected");
  send(*ws, "register", R"({"stationCode":"ROMIA","bound":"A","mode":")" + mode + R"("})");
  CHECK(next_event(*ws, "register-ack").at("success") == true);
  return ws;
}

// The next live frame showing `weight` (kg, as a JSON number).
inline json::object frame_with(WsClient& ws, const std::string& event, std::int64_t weight,
                               const char* field = "weight") {
  auto m = read_until(ws, [&](const json::object& o) {
    if (o.at("event") != json::value(event)) return false;
    const auto& d = o.at("data").as_object();
    return d.at(field).is_int64() && d.at(field).as_int64() == weight;
  });
  return m.at("data").as_object();
}

inline bool is_bool(const json::value& v) { return v.is_bool(); }

// Every field the web app reads from a mobile `weight` frame, with the type it expects.
inline void check_mobile_shape(const json::object& d) {
  CHECK(d.at("mode") == "mobile");
  for (const char* f : {"weight", "currentWeight", "scaleA", "scaleB", "runningTotal", "runningGvw",
                        "axleNumber"}) {
    INFO(f);
    CHECK(d.at(f).is_number());
  }
  CHECK(d.at("scaleWeightMode").is_string());
  for (const char* pad : {"scaleAStatus", "scaleBStatus"}) {
    const auto& p = d.at(pad).as_object();
    CHECK(is_bool(p.at("connected")));
    CHECK(p.at("weight").is_number());
    CHECK(p.contains("battery"));
    CHECK(p.contains("temperature"));
  }
  CHECK(d.at("axleWeights").is_array());
  const auto& session = d.at("session").as_object();
  CHECK(session.at("currentAxle").is_number());
  CHECK(session.at("totalAxles").is_number());
  CHECK(session.at("axles").is_array());
  CHECK(session.at("gvw").is_number());
  CHECK(is_bool(d.at("stable")));
  CHECK(d.at("unit") == "kg");
  CHECK(is_bool(d.at("simulation")));
  CHECK(d.at("scaleInfo").is_object());
  const auto& c = d.at("connection").as_object();
  CHECK(is_bool(c.at("connected")));
  CHECK(c.at("protocol").is_string());
  CHECK(c.at("source").is_string());
  CHECK(c.at("outputMode") == "websocket");
  // weighlink's additions: freshness and a sequence number.
  CHECK(is_bool(d.at("stale")));
  CHECK(d.at("seq").is_number());
}

inline void check_multideck_shape(const json::object& d) {
  CHECK(d.at("mode") == "multideck");
  for (const char* f : {"deck1", "deck2", "deck3", "deck4", "gvw"}) {
    INFO(f);
    CHECK(d.at(f).is_number());
  }
  REQUIRE(d.at("decks").as_array().size() == 4);
  for (const auto& deck : d.at("decks").as_array()) {
    CHECK(deck.at("index").is_number());
    CHECK(deck.at("weight").is_number());
    CHECK(is_bool(deck.at("stable")));
  }
  CHECK(is_bool(d.at("vehicleOnDeck")));
  CHECK(is_bool(d.at("stable")));
  CHECK(is_bool(d.at("simulation")));
  CHECK(d.at("indicatorInfo").is_object());
  CHECK(is_bool(d.at("connection").at("connected")));
  CHECK(d.at("connection").at("protocol").is_string());
}

inline json::array outbox_items(const std::string& http) {
  return body_of(http_request(http, "GET", "/v1/outbox")).at("items").as_array();
}

// The outbox item recorded under `key`, waited for (empty when it never came).
inline json::object recorded_item(const std::string& http, const std::string& key) {
  json::object found;
  CHECK(eventually(
      [&] {
        for (const auto& item : outbox_items(http)) {
          if (item.at("idempotency_key") == json::value(key)) {
            found = item.as_object();
            return true;
          }
        }
        return false;
      },
      10s));
  return found;
}

}  // namespace truconnect_fixture

using namespace truconnect_fixture;  // NOLINT(google-build-using-namespace)
