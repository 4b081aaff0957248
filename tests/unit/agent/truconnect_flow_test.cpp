// The TruConnect layer in-process: the TruLoad web app's socket messages and REST calls in the
// order the app sends them (docs/truconnect-compat.md has the shapes), over a real outbox with the
// clock played by the test. tests/integration/truconnect_test.cpp and truconnect_vehicle_test.cpp
// prove the wiring end to end: the real sockets and the app's headers, a pty scale, SIGKILL.
#include <doctest/doctest.h>

#include <set>

#include "core_fixture.hpp"
#include "weighlink/agent/truconnect.hpp"

namespace json = boost::json;
using namespace weighlink::agent;
using namespace weighlink::agent::testing;

namespace {

TruConnectConfig config(std::string mode = "mobile") {
  TruConnectConfig c;
  c.enabled = true;
  c.station_code = "ROMIA";
  c.station_name = "Rongo Mia";
  c.capture_mode = std::move(mode);
  return c;
}

// One web app on the socket: what it sent and what it was told, in order.
class App {
 public:
  explicit App(Station& st) : st_(st), got_(std::make_shared<std::vector<json::object>>()) {
    got_->push_back(json::parse(st_.truconnect->open(client_)).as_object());
  }
  ~App() { st_.truconnect->close(client_); }

  void send(const std::string& event, const std::string& data = "{}") {
    raw(R"({"event":")" + event + R"(","data":)" + data + "}");
  }
  void raw(const std::string& text) {
    st_.truconnect->on_message(client_, text, [got = got_](const std::string& m) {
      got->push_back(json::parse(m).as_object());
    });
  }
  // The data of the first message named `event` not taken yet (waiting for the outbox when the
  // answer comes from it). Messages are taken one by one, in any order, like the app's handlers.
  json::object next(const std::string& event) {
    std::size_t at = 0;
    if (!st_.io.run_until([&] { return find(event, at); })) FAIL("no '" << event << "' came");
    taken_.resize(got_->size());
    taken_[at] = true;
    CHECK((*got_)[at].at("timestamp").is_string());
    return (*got_)[at].at("data").as_object();
  }
  [[nodiscard]] bool has_unread(const std::string& event) const {
    std::size_t at = 0;
    return find(event, at);
  }

 private:
  Station& st_;
  TruConnect::Client client_;
  std::shared_ptr<std::vector<json::object>> got_;
  std::vector<bool> taken_;

  bool find(const std::string& event, std::size_t& at) const {
    for (at = 0; at < got_->size(); ++at) {
      const bool taken = at < taken_.size() && taken_[at];
      if (!taken && (*got_)[at].at("event").as_string() == event) return true;
    }
    return false;
  }
};

std::optional<json::object> recorded(Station& st, const std::string& key) {
  auto row = st.outbox->find(key);
  if (!row) return std::nullopt;
  return payload_of(*row);
}

HttpResponse rest(Station& st, std::string method, std::string target, std::string body = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  std::optional<HttpResponse> out;
  st.truconnect->http(r, [&](HttpResponse resp) { out = std::move(resp); });
  REQUIRE(st.io.run_until([&] { return out.has_value(); }));
  return *out;
}

// A registered mobile app weighing transaction `id`.
void start_vehicle(App& app, const std::string& id, int axles) {
  app.send("register", R"({"stationCode":"ROMIA","mode":"mobile"})");
  app.next("register-ack");
  app.send("transaction-sync",
           R"({"transactionId":")" + id + R"(","totalAxles":)" + std::to_string(axles) + "}");
  app.next("transaction-sync-ack");
}

// Axle `number` captured while the scale shows `weight` stable, the app saying `app_weight`.
void capture_axle(Station& st, App& app, int number, std::string_view weight,
                  std::string_view app_weight) {
  st.show(weight);
  app.send("axle-captured", R"({"axleNumber":)" + std::to_string(number) + R"(,"weight":)" +
                                std::string(app_weight) + "}");
  CHECK(app.next("axle-captured-ack").at("success") == true);
}

json::object body(const HttpResponse& r) { return json::parse(r.body).as_object(); }

}  // namespace

TEST_CASE("truconnect: the mobile flow of the web app records the agent's axles once") {
  Station st({Station::default_scale()}, config());
  App app(st);
  const auto hello = app.next("connected");
  CHECK(hello.at("clientId") == 1);
  CHECK(hello.at("station").at("code") == "ROMIA");
  CHECK(hello.at("server").at("name") == "weighlink-agent");
  CHECK(hello.at("serverTime") == "2026-12-07T08:00:00.000Z");  // the injected clock

  // The five events that need registration are refused before it, as TruConnect does.
  app.send("plate", R"({"plateNumber":"KCA 123A"})");
  CHECK(app.next("error").at("message") == "Not registered");
  app.send("register", R"({"stationCode":"ROMIA","bound":"A","mode":"mobile"})");
  CHECK(app.next("register-ack").at("client").at("mode") == "mobile");
  st.show("8200");
  const auto frame = app.next("weight");  // the full frame at once
  CHECK(frame.at("mode") == "mobile");

  const auto live = json::parse(st.truconnect->weight_message("mobile")).at("data").as_object();
  CHECK(live.at("weight") == 8200);
  CHECK(live.at("stable") == true);
  CHECK(live.at("stale") == false);
  CHECK(live.at("scaleA") == 4100);
  CHECK(live.at("scaleB") == 4100);

  app.send("plate", R"({"plateNumber":"KCA 123A"})");
  CHECK(app.next("plate-ack").at("plateNumber") == "KCA 123A");
  const std::string sync =
      R"({"transactionId":"T-1","vehicleRegNumber":"KCA 123A","axleConfigCode":"2A",)"
      R"("totalAxles":2})";
  app.send("transaction-sync", sync);
  CHECK(app.next("transaction-sync-ack").at("transactionId") == "T-1");
  app.send("transaction-sync", sync);  // the pages re-send it often: harmless
  CHECK(app.next("transaction-sync-ack").at("success") == true);

  // Axle 1: the browser says 9999, the agent records its own stable 8200.
  app.send("axle-captured", R"({"axleNumber":1,"weight":9999})");
  auto a1 = app.next("axle-captured-ack");
  CHECK(a1.at("success") == true);
  CHECK(a1.at("axleNumber") == 1);
  CHECK(a1.at("weight") == 8200);
  CHECK(a1.at("capturedAxles") == 1);
  CHECK(a1.at("expectedAxles") == 2);
  CHECK(a1.at("isComplete") == false);
  CHECK(a1.at("idempotencyKey") == "truconnect:T-1:axle:1");
  app.send("axle-captured", R"({"axleNumber":1,"weight":9999})");
  auto again = app.next("axle-captured-ack");
  CHECK(again.at("capturedAxles") == 1);  // the same axle, not a second one

  // Between axles the pad moves; the live frame shows the running GVW.
  st.show("7400", false);
  const auto moving = json::parse(st.truconnect->weight_message("mobile")).at("data");
  CHECK(moving.at("stable") == false);
  CHECK(moving.at("runningGvw") == 15600);
  CHECK(moving.at("session").at("currentAxle") == 1);
  st.show("7400");
  app.send("axle-captured", R"({"axleNumber":2,"weight":7400})");
  auto a2 = app.next("axle-captured-ack");
  CHECK(a2.at("isComplete") == true);
  CHECK(a2.at("gvw") == 15600);

  // The last axle in: recorded now, keyed by the transaction, with the app's values beside.
  REQUIRE(st.io.run_until([&] { return recorded(st, "truconnect:T-1:complete").has_value(); }));
  CHECK(st.outbox->find("truconnect:T-1:complete")->kind == "weighing.captured");
  const auto p = *recorded(st, "truconnect:T-1:complete");
  CHECK(p.at("gvw") == "15600");
  CHECK(p.at("axles").as_array().size() == 2);
  CHECK(p.at("reference").at("transaction_id") == "T-1");
  CHECK(p.at("reference").at("plate") == "KCA 123A");
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
  // ... and a notice the operator page shows, since the app ignores it.
  REQUIRE_FALSE(st.truconnect->notices().empty());
  CHECK(st.truconnect->notices().back().at("code") == "discrepancy");

  // The confirmations that follow record nothing twice.
  app.send("weights-captured");
  CHECK(app.next("weights-captured-ack").at("success") == true);
  app.send("vehicle-complete", R"({"transactionId":"T-1","totalAxles":2,"gvw":3})");
  auto done = app.next("vehicle-complete-ack");
  CHECK(done.at("success") == true);
  CHECK(done.at("gvw") == 15600);
  CHECK(done.at("seq") == st.outbox->find("truconnect:T-1:complete")->seq);
  app.send("reset-session");
  CHECK(app.next("session-reset-ack").at("success") == true);
  CHECK(st.rows().size() == 1);
}

TEST_CASE("truconnect: other events, bad messages and unknown events get their answers") {
  Station st({Station::default_scale()}, config());
  App app(st);
  app.send("register", R"({"stationCode":"ROMIA","mode":"mobile"})");
  app.next("register-ack");
  app.send("status-request");
  const auto status = app.next("status");
  CHECK(status.at("station").at("code") == "ROMIA");
  CHECK(status.at("weights").at("gvw").is_number());
  CHECK(status.at("server").at("uptime") == 0);
  st.io.advance(90s);
  app.send("status-request");
  CHECK(app.next("status").at("server").at("uptime") == 90);  // the injected steady clock
  app.send("bound-switch", R"({"bound":"b"})");
  CHECK(app.next("bound-ack").at("bound") == "B");
  app.send("bound-switch", R"({"bound":"C"})");
  const auto bad_bound = app.next("error");
  CHECK(bad_bound.at("code") == "invalid_bound");
  CHECK(bad_bound.at("message") == "Invalid bound");
  app.send("update-config", R"({"totalAxles":3,"axleConfigurationCode":"3A"})");
  const auto cfg = app.next("update-config-ack");
  CHECK(cfg.at("totalAxles") == 3);
  CHECK(cfg.at("axleConfigurationCode") == "3A");
  app.send("query-weight", R"({"type":"current"})");
  CHECK(app.next("query-weight-ack").at("success") == true);
  CHECK(app.next("weight").at("mode") == "mobile");
  app.send("enter");
  const auto enter = app.next("enter-ack");
  CHECK(enter.at("success") == false);
  CHECK(enter.at("supported") == false);
  app.send("launch-rockets");
  CHECK(app.next("error").at("code") == "unknown_event");
  app.raw("{not json");
  CHECK(app.next("error").at("message") == "Invalid message format");
  app.raw(R"({"event":"plate","data":"not an object"})");
  const auto not_object = app.next("error");
  CHECK(not_object.at("code") == "invalid_data");
  CHECK(not_object.at("message") == "Invalid message format");
  app.raw(R"({"data":{}})");
  CHECK(app.next("error").at("code") == "invalid_message");
  CHECK(st.rows().empty());
}

TEST_CASE("truconnect: a silent scale is stale and disconnected, and its axle is refused") {
  Station st({Station::default_scale()}, config());
  App app(st);
  app.send("register", R"({"stationCode":"ROMIA","mode":"mobile"})");
  st.show("8200");
  st.go_stale();
  const auto d = json::parse(st.truconnect->weight_message("mobile")).at("data").as_object();
  CHECK(d.at("stale") == true);
  CHECK(d.at("stable") == false);
  CHECK(d.at("connection").at("connected") == false);
  CHECK(d.at("scaleAStatus").at("connected") == false);
  app.send("transaction-sync", R"({"transactionId":"T-2","totalAxles":2})");
  app.next("transaction-sync-ack");
  app.send("axle-captured", R"({"axleNumber":1,"weight":8200})");
  CHECK_FALSE(app.has_unread("axle-captured-ack"));  // waiting for the scale
  st.io.advance(3s);
  const auto refused = app.next("axle-captured-ack");
  CHECK(refused.at("success") == false);
  CHECK(refused.at("error") == "scale_unavailable");
  CHECK(app.next("error").at("code") == "scale_unavailable");
  CHECK(st.truconnect->notices().back().at("code") == "scale_unavailable");
  CHECK(st.rows().empty());
}

TEST_CASE("truconnect: an axle refused in motion keeps the numbering; the vehicle is recorded") {
  Station st({Station::default_scale()}, config());
  App app(st);
  start_vehicle(app, "T-3", 3);
  capture_axle(st, app, 1, "6000", "6000");
  st.show("5000", false);
  app.send("axle-captured", R"({"axleNumber":2,"weight":5000})");
  st.io.advance(3s);  // never settles
  CHECK(app.next("axle-captured-ack").at("error") == "scale_not_stable");
  st.show("7000", false);
  st.show("7000");
  app.send("axle-captured", R"({"axleNumber":3,"weight":7000})");
  const auto a3 = app.next("axle-captured-ack");
  CHECK(a3.at("axleNumber") == 3);  // the app's numbering, not "the second axle"
  CHECK(a3.at("isComplete") == true);
  REQUIRE(st.io.run_until([&] { return recorded(st, "truconnect:T-3:complete").has_value(); }));
  const auto p = *recorded(st, "truconnect:T-3:complete");
  const auto& axles = p.at("axles").as_array();
  REQUIRE(axles.size() == 2);
  CHECK(axles[1].at("number") == 3);
  CHECK(axles[1].at("weight") == "7000");
  REQUIRE(p.at("missing_axles").as_array().size() == 1);
  CHECK(p.at("missing_axles").as_array()[0] == 2);
  // The record says why axle 2 is missing, beside the app's value for it.
  bool noted = false;
  for (const auto& part : p.at("discrepancy").at("parts").as_array()) {
    if (part.at("part") == "axle 2") {
      noted = part.at("note").as_string().starts_with("scale_not_stable");
      CHECK(part.at("app") == 5000);
      CHECK(part.at("agent").is_null());
    }
  }
  CHECK(noted);
  // What the app cannot show goes to the operator: the refusal, then the flagged record.
  std::set<std::string> codes;
  for (const auto& n : st.truconnect->notices())
    codes.insert(std::string(n.at("code").as_string()));
  CHECK(codes.contains("scale_not_stable"));
  const auto& last = st.truconnect->notices().back();
  CHECK(last.at("code") == "discrepancy");
  CHECK(last.at("key") == "truconnect:T-3:complete");
  CHECK(std::string(last.at("message").as_string()).find("axle 2 app 5000, agent none") !=
        std::string::npos);
}

TEST_CASE("truconnect: the next axle sent before the scale settled gives up the waiting one") {
  Station st({Station::default_scale()}, config());
  App app(st);
  start_vehicle(app, "T-6", 2);
  st.show("7000", false);
  app.send("axle-captured", R"({"axleNumber":1,"weight":7000})");
  CHECK_FALSE(app.has_unread("axle-captured-ack"));  // waiting for the scale
  app.send("axle-captured", R"({"axleNumber":2,"weight":8000})");
  const auto given_up = app.next("axle-captured-ack");
  CHECK(given_up.at("success") == false);
  CHECK(given_up.at("error") == "superseded");
  st.show("8000");
  st.io.advance(20ms);
  const auto a2 = app.next("axle-captured-ack");
  CHECK(a2.at("success") == true);
  CHECK(a2.at("axleNumber") == 2);  // in step with the app, not "axle 1"
  CHECK(a2.at("idempotencyKey") == "truconnect:T-6:axle:2");
  CHECK(a2.at("isComplete") == true);
  REQUIRE(st.io.run_until([&] { return recorded(st, "truconnect:T-6:complete").has_value(); }));
  const auto p = *recorded(st, "truconnect:T-6:complete");
  CHECK(p.at("missing_axles") == json::array{1});
  const auto& parts = p.at("discrepancy").at("parts").as_array();
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].at("part") == "axle 1");
  CHECK(parts[0].at("note").as_string().starts_with("superseded"));
  CHECK(parts[1].at("part") == "gvw");
  CHECK(parts[1].at("app") == 15000);
  CHECK(parts[1].at("agent") == 8000);
  CHECK(st.truconnect->notices().front().at("code") == "superseded");
}

TEST_CASE("truconnect: a new axle configuration gives up an axle still waiting, never busy") {
  Station st({Station::default_scale()}, config());
  App app(st);
  app.send("register", R"({"stationCode":"ROMIA","mode":"mobile"})");
  app.send("transaction-sync", R"({"transactionId":"T-W","axleConfigCode":"3A","totalAxles":3})");
  capture_axle(st, app, 1, "6100", "6100");
  // Axle 2 is still settling when the operator changes the configuration and starts again.
  st.show("6900", false);
  app.send("axle-captured", R"({"axleNumber":2,"weight":6900})");
  app.send("transaction-sync", R"({"transactionId":"T-W","axleConfigCode":"2A","totalAxles":2})");
  app.next("transaction-sync-ack");
  app.send("axle-captured", R"({"axleNumber":1,"weight":7000})");
  const auto given_up = app.next("axle-captured-ack");
  CHECK(given_up.at("success") == false);  // the old axle 2, never "busy" for the new axle 1
  CHECK(given_up.at("error") != "busy");
  st.show("7000");
  st.io.advance(20ms);
  const auto a1 = app.next("axle-captured-ack");
  CHECK(a1.at("success") == true);
  CHECK(a1.at("idempotencyKey") == "truconnect:T-W:r2:axle:1");
  CHECK(a1.at("weight") == 7000);
  // Nothing of the first configuration was recorded as a weighing.
  CHECK(st.rows().empty());
}

TEST_CASE("truconnect: a vehicle restarted under a new axle configuration is weighed again") {
  Station st({Station::default_scale()}, config());
  App app(st);
  app.send("register", R"({"stationCode":"ROMIA","mode":"mobile"})");
  app.send("transaction-sync", R"({"transactionId":"T-9","axleConfigCode":"2A","totalAxles":2})");
  st.show("6000");
  app.send("axle-captured", R"({"axleNumber":1,"weight":6000})");
  CHECK(app.next("axle-captured-ack").at("idempotencyKey") == "truconnect:T-9:axle:1");
  // The operator picks another configuration for the same transaction; the app starts at axle 1.
  app.send("transaction-sync", R"({"transactionId":"T-9","axleConfigCode":"3A","totalAxles":3})");
  app.next("transaction-sync-ack");
  st.show("100", false);
  st.show("6100");
  app.send("axle-captured", R"({"axleNumber":1,"weight":6100})");
  const auto a1 = app.next("axle-captured-ack");
  CHECK(a1.at("idempotencyKey") == "truconnect:T-9:r2:axle:1");  // a new epoch
  CHECK(a1.at("weight") == 6100);
  CHECK(st.truconnect->notices().back().at("code") == "vehicle_restarted");
  for (const auto* w : {"5000", "7000"}) {
    st.show("100", false);
    st.show(w);
    app.send("axle-captured", std::string(R"({"weight":)") + w + "}");  // no number: the next axle
    CHECK(app.next("axle-captured-ack").at("success") == true);
  }
  REQUIRE(st.io.run_until([&] { return recorded(st, "truconnect:T-9:r2:complete").has_value(); }));
  const auto p = *recorded(st, "truconnect:T-9:r2:complete");
  CHECK(p.at("gvw") == "18100");
  REQUIRE(p.at("superseded_axles").as_array().size() == 1);
  CHECK(p.at("superseded_axles").as_array()[0].at("weight") == "6000");
  CHECK(p.at("app").at("restart") == 2);
  CHECK(p.at("reference").at("axle_configuration_code") == "3A");
  CHECK_FALSE(p.contains("discrepancy"));
  CHECK_FALSE(st.outbox->find("truconnect:T-9:complete"));
  CHECK(st.rows().size() == 1);
}

TEST_CASE("truconnect: an agent restarted mid-vehicle keeps the app's values and the numbering") {
  Station st({Station::default_scale()}, config());
  {
    App app(st);
    start_vehicle(app, "T-5", 2);
    capture_axle(st, app, 1, "6000", "6500");
  }
  st.restart();
  App app(st);
  app.send("register", R"({"stationCode":"ROMIA","mode":"mobile"})");
  st.show("7000");
  app.send("axle-captured", R"({"axleNumber":2,"weight":7000})");
  const auto a2 = app.next("axle-captured-ack");
  CHECK(a2.at("idempotencyKey") == "truconnect:T-5:axle:2");
  CHECK(a2.at("gvw") == 13000);
  REQUIRE(st.io.run_until([&] { return recorded(st, "truconnect:T-5:complete").has_value(); }));
  const auto p = *recorded(st, "truconnect:T-5:complete");
  // The app's 6500 for axle 1, said before the restart, is still beside the agent's 6000.
  const auto& parts = p.at("discrepancy").at("parts").as_array();
  REQUIRE_FALSE(parts.empty());
  CHECK(parts[0].at("part") == "axle 1");
  CHECK(parts[0].at("app") == 6500);
}

TEST_CASE("truconnect: multideck records the stable deck weight taken, though the truck left") {
  Station st({Station::default_scale()}, config());
  App app(st);
  // The multideck page registers with mode multideck although the station default is mobile.
  app.send("register", R"({"stationCode":"ROMIA","mode":"multideck"})");
  app.next("register-ack");
  CHECK(app.next("weights").at("mode") == "multideck");
  auto decks = [&](std::string_view d1, bool s1, std::string_view d2, bool s2) {
    auto r = st.reading("0", s1 && s2);
    r.decks = {{1, dec(d1), s1}, {2, dec(d2), s2}};
    r.weight = dec(std::to_string(std::stoll(std::string(d1)) + std::stoll(std::string(d2))));
    st.feed(r);
  };
  decks("5200", true, "4800", false);
  auto moving = json::parse(st.truconnect->weight_message("multideck")).at("data").as_object();
  CHECK(moving.at("deck1") == 5200);
  CHECK(moving.at("deck2") == 4800);
  CHECK(moving.at("gvw") == 10000);
  CHECK(moving.at("stable") == false);
  CHECK(moving.at("decks").as_array()[0].at("stable") == true);
  CHECK(moving.at("decks").as_array()[1].at("stable") == false);
  CHECK(moving.at("vehicleOnDeck") == true);
  decks("5200", true, "4810", true);  // the operator takes this weight in the app
  const auto settled = json::parse(st.truconnect->weight_message("multideck")).at("data");
  CHECK(settled.at("stable") == true);
  CHECK(settled.at("decks").as_array()[1].at("stable") == true);
  decks("5200", true, "4810", true);
  decks("3000", false, "0", true);  // the truck drives off before the app confirms
  decks("0", true, "0", true);
  std::string app_gvw;
  SUBCASE("the app's GVW is the weight the agent saw: recorded, not flagged") { app_gvw = "10010"; }
  SUBCASE("the app's GVW matches nothing the agent saw: the vehicle's weight, flagged") {
    app_gvw = "10510";
  }
  app.send("transaction-sync", R"({"transactionId":"M-7","totalAxles":3})");
  app.send("vehicle-complete",
           R"({"transactionId":"M-7","axleWeights":[5200,2405,2405],"gvw":)" + app_gvw + "}");
  app.send("reset-session");  // the page resets at once, without waiting for the ack
  const auto done = app.next("vehicle-complete-ack");
  CHECK(done.at("success") == true);
  CHECK(done.at("gvw") == 10010);  // never the empty deck's 0
  app.next("session-reset-ack");
  const auto p = recorded(st, "truconnect:M-7:vehicle-complete");
  REQUIRE(p);
  CHECK(p->at("gvw") == "10010");
  REQUIRE(p->at("decks").as_array().size() == 2);
  CHECK(p->at("decks").as_array()[1].at("weight") == "4810");
  CHECK(p->at("reference").at("client_axle_weights").as_array().size() == 3);
  CHECK(p->at("evidence").at("frames").as_array().size() >= 1);
  CHECK(p->at("app").at("axle_weights").as_array().size() == 3);
  CHECK(std::string(p->at("app").at("reading_choice").as_string()).find("stable weight") !=
        std::string::npos);
  if (app_gvw == "10010") {
    CHECK_FALSE(p->contains("discrepancy"));
  } else {
    const auto& parts = p->at("discrepancy").at("parts").as_array();
    REQUIRE(parts.size() == 1);
    CHECK(parts[0].at("app") == 10510);
    CHECK(parts[0].at("agent") == 10010);
    CHECK(parts[0].at("difference") == -500);
  }
  CHECK(st.rows().size() == 1);
}

TEST_CASE("truconnect: the REST API answers the app's polling and refuses what is missing") {
  Station st({Station::default_scale()}, config());
  st.show("12440");
  const auto weights = rest(st, "GET", "/api/v1/weights");
  CHECK(weights.status == 200);
  const auto w = body(weights);
  CHECK(w.at("success") == true);
  CHECK(w.at("data").at("weight") == 12440);
  CHECK(w.at("data").at("currentWeight") == 12440);
  CHECK(w.at("data").at("stable") == true);
  CHECK(w.at("mode") == "mobile");
  CHECK(w.at("connection").at("connected") == true);
  CHECK(w.at("connection").at("outputMode") == "api");
  CHECK(w.at("timestamp") == "2026-12-07T08:00:00.000Z");
  const auto multideck = body(rest(st, "GET", "/api/v1/weights?mode=multideck"));
  CHECK(multideck.at("data").at("gvw") == 12440);
  CHECK(multideck.at("data").at("decks").as_array()[0].at("weight") == 12440);
  CHECK(body(rest(st, "GET", "/api/v1/weights/1")).at("data").at("weight") == 12440);
  CHECK(rest(st, "GET", "/api/v1/weights/9").status == 404);
  CHECK(body(rest(st, "GET", "/api/v1/gvw")).at("data").at("gvw").is_number());
  CHECK(body(rest(st, "GET", "/api/v1/health")).at("status") == "ok");
  CHECK(body(rest(st, "GET", "/api/v1/status")).at("data").at("station").at("code") == "ROMIA");
  CHECK(rest(st, "GET", "/api/v2/weights").status == 404);
  CHECK(rest(st, "GET", "/api/v1/nothing").status == 404);
  CHECK(rest(st, "GET", "/other").status == 404);
  CHECK(rest(st, "DELETE", "/api/v1/plate").status == 404);

  const auto no_plate = rest(st, "POST", "/api/v1/plate", "{}");
  CHECK(no_plate.status == 400);
  CHECK(body(no_plate).at("error") == "plateNumber is required");
  CHECK(rest(st, "POST", "/api/v1/register", "{}").status == 400);
  CHECK(rest(st, "POST", "/api/v1/axle-captured", R"({"weight":1})").status == 400);
  const auto not_json = rest(st, "POST", "/api/v1/plate", "{bad");
  CHECK(not_json.status == 400);
  CHECK(body(not_json).at("error") == "Invalid message format");
  CHECK(rest(st, "POST", "/api/v1/bound-switch", R"({"bound":"Z"})").status == 400);
  CHECK(rest(st, "POST", "/api/v1/plate", R"({"plateNumber":"KCB 7"})").status == 200);
  CHECK(rest(st, "POST", "/api/v1/transaction-sync", R"({"transactionId":"R-1","totalAxles":1})")
            .status == 200);
  const auto axle = rest(st, "POST", "/api/v1/axle-captured", R"({"axleNumber":1})");
  CHECK(axle.status == 200);
  CHECK(body(axle).at("data").at("weight") == 12440);
  REQUIRE(st.io.run_until([&] { return recorded(st, "truconnect:R-1:complete").has_value(); }));
  CHECK(recorded(st, "truconnect:R-1:complete")->at("reference").at("plate") == "KCB 7");
  CHECK(rest(st, "POST", "/api/v1/reset-session", "{}").status == 200);

  // A capture the scale cannot give: 503 for a silent scale, once the wait is over.
  st.go_stale();
  HttpRequest capture{"POST", "/api/v1/capture", {}, R"({"type":"tare"})"};
  std::optional<HttpResponse> refused;
  st.truconnect->http(capture, [&](HttpResponse r) { refused = std::move(r); });
  CHECK_FALSE(refused);
  st.io.advance(3s);
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(st.rows().size() == 1);
}

TEST_CASE("truconnect: a scale in tonnes is shown to the app in exact kilograms") {
  Station st({Station::default_scale()}, config());
  st.show("12.345", true, "t");
  const auto d = json::parse(st.truconnect->weight_message("mobile")).at("data").as_object();
  CHECK(d.at("unit") == "kg");
  CHECK(d.at("weight") == 12345);
  // The pads split it as the app's Math.round(w / 2) does, and add up to the whole exactly.
  CHECK(d.at("scaleA") == 6173);
  CHECK(d.at("scaleB") == 6172);
  st.show("12.3", true, "t");
  const auto m = json::parse(st.truconnect->weight_message("multideck")).at("data").as_object();
  CHECK(m.at("gvw") == 12300);
}
