// TruConnect on real parts, the vehicle across restarts: a new axle configuration, an axle refused
// in motion, a multideck truck gone before confirm, an agent killed mid-vehicle.
#include "truconnect_fixture.hpp"

namespace {

// The outbox item recorded under `key`, waited for.
json::object recorded_item(const std::string& http, const std::string& key) {
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

// Waits until the live frames show `weight` stable (the operator's "stable" light).
void wait_stable(WsClient& ws, const std::string& event, std::int64_t weight,
                 const char* field = "weight") {
  read_until(ws, [&](const json::object& o) {
    if (o.at("event") != json::value(event)) return false;
    const auto& d = o.at("data").as_object();
    return d.at(field) == json::value(weight) && d.at("stable") == true;
  });
}

}  // namespace

TEST_CASE("truconnect: a vehicle restarted under a new axle configuration is weighed again") {
  TempDir dir("wl-tc");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, {}, truconnect_config(scale.path(), "mt-continuous", "mobile"));
  StreamingScale indicator(scale, mt_frame("6100"));
  WsClient ws(agent.address("truconnect_ws"), "/", {{"Origin", "https://truload.example.org"}});
  next_event(ws, "connected");
  send(ws, "register", R"({"stationCode":"ROMIA","bound":"A","mode":"mobile"})");
  next_event(ws, "register-ack");
  wait_stable(ws, "weight", 6100);
  // The mobile page syncs the transaction with the configuration first chosen...
  send(ws, "transaction-sync",
       R"({"transactionId":"T-9","vehicleRegNumber":"KDA 1","axleConfigCode":"3A",)"
       R"("totalAxles":3,"weighingMode":"mobile"})");
  next_event(ws, "transaction-sync-ack");
  send(ws, "axle-captured", R"({"axleNumber":1,"weight":6100})");
  CHECK(next_event(ws, "axle-captured-ack").at("weight") == 6100);
  // ... the operator picks another configuration: the page re-syncs the same transaction and
  // starts again at axle 1.
  send(ws, "transaction-sync",
       R"({"transactionId":"T-9","vehicleRegNumber":"KDA 1","axleConfigCode":"2A",)"
       R"("totalAxles":2,"weighingMode":"mobile"})");
  next_event(ws, "transaction-sync-ack");
  indicator.set(mt_frame("7000"));
  wait_stable(ws, "weight", 7000);
  send(ws, "axle-captured", R"({"axleNumber":1,"weight":7000})");
  auto a1 = next_event(ws, "axle-captured-ack");
  CHECK(a1.at("success") == true);
  CHECK(a1.at("weight") == 7000);  // not the 6100 of the first configuration
  CHECK(a1.at("idempotencyKey") == "truconnect:T-9:r2:axle:1");
  indicator.set(mt_frame("8000"));
  wait_stable(ws, "weight", 8000);
  send(ws, "axle-captured", R"({"axleNumber":2,"weight":8000})");
  auto a2 = next_event(ws, "axle-captured-ack");
  CHECK(a2.at("isComplete") == true);
  CHECK(a2.at("gvw") == 15000);

  const auto item = recorded_item(agent.http, "truconnect:T-9:r2:complete");
  REQUIRE(!item.empty());
  const auto& p = item.at("payload").as_object();
  CHECK(p.at("gvw") == "15000");  // what the app shows: 7000 + 8000
  CHECK(p.at("reference").at("axle_configuration_code") == "2A");
  CHECK(!p.contains("discrepancy"));
  CHECK(p.at("app").at("restart") == 2);
  const auto& old = p.at("superseded_axles").as_array();
  REQUIRE(old.size() == 1);
  CHECK(old[0].at("weight") == "6100");
  // Nothing was recorded under the first configuration's key.
  CHECK(outbox_items(agent.http).size() == 1);
}

TEST_CASE("truconnect: an axle refused in motion keeps the numbering and the vehicle is saved") {
  TempDir dir("wl-tc");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, {}, truconnect_config(scale.path(), "mt-continuous", "mobile"));
  StreamingScale indicator(scale, mt_frame("7000", /*motion=*/true));
  WsClient ws(agent.address("truconnect_ws"), "/", {{"Origin", "https://truload.example.org"}});
  next_event(ws, "connected");
  send(ws, "register", R"({"stationCode":"ROMIA","bound":"A","mode":"mobile"})");
  next_event(ws, "register-ack");
  send(ws, "transaction-sync",
       R"({"transactionId":"T-5","axleConfigCode":"2A","totalAxles":2,"weighingMode":"mobile"})");
  next_event(ws, "transaction-sync-ack");

  // The operator takes axle 1 while the scale shows motion; the app records 7000 and moves on.
  frame_with(ws, "weight", 7000);
  send(ws, "axle-captured", R"({"axleNumber":1,"weight":7000})");
  SUBCASE("refused once the scale did not settle, the pad emptied, axle 2 came on") {
    auto refused = next_event(ws, "axle-captured-ack");
    CHECK(refused.at("success") == false);
    CHECK(refused.at("error") == "scale_not_stable");
    indicator.set(mt_frame("0", /*motion=*/true));
    frame_with(ws, "weight", 0);
    indicator.set(mt_frame("8000"));
    wait_stable(ws, "weight", 8000);
    send(ws, "axle-captured", R"({"axleNumber":2,"weight":8000})");
  }
  SUBCASE("given up when the app sends the next axle before the scale settled") {
    send(ws, "axle-captured", R"({"axleNumber":2,"weight":8000})");
    auto given_up = next_event(ws, "axle-captured-ack");
    CHECK(given_up.at("success") == false);
    CHECK(given_up.at("error") == "superseded");
    indicator.set(mt_frame("8000"));
  }
  auto a2 = read_until(ws, [](const json::object& o) {
    return o.at("event") == "axle-captured-ack" && o.at("data").at("success") == true;
  });
  CHECK(a2.at("data").at("axleNumber") == 2);  // in step with the app, not "axle 1"
  CHECK(a2.at("data").at("idempotencyKey") == "truconnect:T-5:axle:2");
  CHECK(a2.at("data").at("isComplete") == true);

  // The app's last axle is in: the vehicle is recorded with the axle the agent has, the one it
  // could not capture listed, and the app's values beside, flagged.
  const auto item = recorded_item(agent.http, "truconnect:T-5:complete");
  REQUIRE(!item.empty());
  const auto& p = item.at("payload").as_object();
  REQUIRE(p.at("axles").as_array().size() == 1);
  CHECK(p.at("axles").as_array()[0].at("number") == 2);
  CHECK(p.at("axles").as_array()[0].at("weight") == "8000");
  CHECK(p.at("missing_axles") == json::array{1});
  const auto& parts = p.at("discrepancy").at("parts").as_array();
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].at("part") == "axle 1");
  CHECK(parts[0].at("app") == 7000);
  CHECK(parts[0].at("agent").is_null());
  const auto note = std::string(parts[0].at("note").as_string());
  INFO(note);
  CHECK((note.starts_with("scale_not_stable") || note.starts_with("superseded") ||
         note.starts_with("axle_left_pad")));
  CHECK(parts[1].at("part") == "gvw");
  CHECK(parts[1].at("app") == 15000);
  CHECK(parts[1].at("agent") == 8000);
  // The confirmation that follows records nothing twice.
  send(ws, "weights-captured");
  next_event(ws, "weights-captured-ack");
  CHECK(outbox_items(agent.http).size() == 1);
  // What the app could not show is on the operator's status: the refusal and the flagged record.
  const auto notices = body_of(http_request(agent.http, "GET", "/v1/status")).at("app_notices");
  std::set<std::string> codes;
  for (const auto& n : notices.as_array()) codes.insert(std::string(n.at("code").as_string()));
  CHECK((codes.contains("scale_not_stable") || codes.contains("superseded")));
  REQUIRE(codes.contains("discrepancy"));
  const auto& last = notices.as_array().back();
  CHECK(last.at("key") == "truconnect:T-5:complete");
  CHECK(std::string(last.at("message").as_string()).find("axle 1 app 7000, agent none") !=
        std::string::npos);
}

TEST_CASE("truconnect: multideck records the weight taken though the truck left before confirm") {
  TempDir dir("wl-tc");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, {}, truconnect_config(scale.path(), "cardinal-deck", "mobile"));
  WsClient ws(agent.address("truconnect_ws"), "/", {{"Origin", "https://truload.example.org"}});
  next_event(ws, "connected");
  send(ws, "register", R"({"stationCode":"ROMIA","bound":"A","mode":"multideck"})");
  next_event(ws, "register-ack");
  // The truck stands on the decks; the operator presses "Take Weight" (the app sends nothing).
  StreamingScale indicator(scale, "D1: 13000 kg S\r\nD2: 14000 kg S\r\nGVW: 27000 kg S\r\n");
  wait_stable(ws, "weights", 27000, "gvw");
  // The truck drives off before the operator confirms.
  indicator.set("D1:     0 kg S\r\nD2:     0 kg S\r\nGVW:     0 kg S\r\n");
  wait_stable(ws, "weights", 0, "gvw");
  send(
      ws, "transaction-sync",
      R"({"transactionId":"M-9","totalAxles":3,"axleConfigCode":"3A","weighingMode":"multideck"})");
  next_event(ws, "transaction-sync-ack");

  std::string app_gvw;
  std::int64_t expected_gvw = 27000;
  SUBCASE("the app's GVW is the weight the agent saw: recorded, not flagged") { app_gvw = "27000"; }
  SUBCASE("the app's GVW matches nothing the agent saw: the vehicle's weight, flagged") {
    app_gvw = "27500";
  }
  send(ws, "vehicle-complete",
       R"({"transactionId":"M-9","totalAxles":3,"axleWeights":[9000,9000,9000],"gvw":)" + app_gvw +
           "}");
  auto done = next_event(ws, "vehicle-complete-ack");
  CHECK(done.at("success") == true);
  CHECK(done.at("gvw") == expected_gvw);  // never the empty deck's 0
  const auto item = recorded_item(agent.http, "truconnect:M-9:vehicle-complete");
  REQUIRE(!item.empty());
  const auto& p = item.at("payload").as_object();
  CHECK(p.at("gvw") == "27000");
  CHECK(p.at("decks").as_array()[1].at("weight") == "14000");
  CHECK(p.at("evidence").at("frames").as_array().size() >= 1);
  CHECK(p.at("app").at("axle_weights").as_array().size() == 3);
  CHECK(std::string(p.at("app").at("reading_choice").as_string()).find("stable weight") !=
        std::string::npos);
  if (app_gvw == "27000") {
    CHECK(!p.contains("discrepancy"));
  } else {
    const auto& parts = p.at("discrepancy").at("parts").as_array();
    REQUIRE(parts.size() == 1);
    CHECK(parts[0].at("app") == 27500);
    CHECK(parts[0].at("agent") == 27000);
    CHECK(parts[0].at("difference") == -500);
  }
}

namespace {

// The agent's saved state under `key` (the outbox's durable state), as on disk now.
std::string saved_state(const TempDir& dir, const std::string& key) {
  sqlite3* db = nullptr;
  std::string value;
  if (sqlite3_open_v2((dir / "data" / "outbox.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
      SQLITE_OK) {
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT value FROM state WHERE key = ?", -1, &st, nullptr) ==
        SQLITE_OK) {
      sqlite3_bind_text(st, 1, key.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(st) == SQLITE_ROW) {
        value = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      }
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return value;
}

}  // namespace

TEST_CASE("truconnect: an agent killed mid-vehicle keeps the app's values and the numbering") {
  TempDir dir("wl-tc");
  PtyScale scale(dir / "scale");
  const auto config = truconnect_config(scale.path(), "mt-continuous", "mobile");
  std::optional<AgentProcess> agent(std::in_place, dir, std::vector<std::string>{}, config);
  StreamingScale indicator(scale, mt_frame("7000", /*motion=*/true));
  {
    WsClient ws(agent->address("truconnect_ws"), "/");
    next_event(ws, "connected");
    send(ws, "register", R"({"stationCode":"ROMIA","bound":"A","mode":"mobile"})");
    next_event(ws, "register-ack");
    send(ws, "plate", R"({"plateNumber":"KDK 7"})");
    next_event(ws, "plate-ack");
    send(ws, "transaction-sync",
         R"({"transactionId":"T-K","axleConfigCode":"2A","totalAxles":2,"weighingMode":"mobile"})");
    next_event(ws, "transaction-sync-ack");
    frame_with(ws, "weight", 7000);
    send(ws, "axle-captured", R"({"axleNumber":1,"weight":7000})");
    CHECK(next_event(ws, "axle-captured-ack").at("error") == "scale_not_stable");
  }
  // Once the refusal is on disk, the agent dies without a chance to flush anything.
  REQUIRE(eventually(
      [&] {
        return saved_state(dir, "truconnect/vehicle").find("scale_not_stable") != std::string::npos;
      },
      10s));
  agent->process->kill();
  agent.reset();
  agent.emplace(dir, std::vector<std::string>{}, config);

  // The app carries on with axle 2 on the restarted agent.
  indicator.set(mt_frame("8000"));
  WsClient ws(agent->address("truconnect_ws"), "/");
  next_event(ws, "connected");
  send(ws, "register", R"({"stationCode":"ROMIA","bound":"A","mode":"mobile"})");
  next_event(ws, "register-ack");
  wait_stable(ws, "weight", 8000);
  send(ws, "axle-captured", R"({"axleNumber":2,"weight":8000})");
  auto a2 = next_event(ws, "axle-captured-ack");
  CHECK(a2.at("idempotencyKey") == "truconnect:T-K:axle:2");
  CHECK(a2.at("isComplete") == true);
  const auto item = recorded_item(agent->http, "truconnect:T-K:complete");
  REQUIRE(!item.empty());
  const auto& p = item.at("payload").as_object();
  CHECK(p.at("reference").at("plate") == "KDK 7");
  CHECK(p.at("missing_axles") == json::array{1});
  const auto& parts = p.at("discrepancy").at("parts").as_array();
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].at("app") == 7000);  // what the app recorded before the agent died
  CHECK(std::string(parts[0].at("note").as_string()).starts_with("scale_not_stable"));
  CHECK(parts[1].at("app") == 15000);
}

TEST_CASE("truconnect: a restart under a new configuration gives up an axle still waiting") {
  TempDir dir("wl-tc");
  PtyScale scale(dir / "scale");
  AgentProcess agent(dir, {}, truconnect_config(scale.path(), "mt-continuous", "mobile"));
  StreamingScale indicator(scale, mt_frame("6100"));
  WsClient ws(agent.address("truconnect_ws"), "/");
  next_event(ws, "connected");
  send(ws, "register", R"({"stationCode":"ROMIA","bound":"A","mode":"mobile"})");
  next_event(ws, "register-ack");
  wait_stable(ws, "weight", 6100);
  send(ws, "transaction-sync", R"({"transactionId":"T-W","axleConfigCode":"3A","totalAxles":3})");
  next_event(ws, "transaction-sync-ack");
  send(ws, "axle-captured", R"({"axleNumber":1,"weight":6100})");
  CHECK(next_event(ws, "axle-captured-ack").at("success") == true);
  // Axle 2 is still settling when the operator changes the configuration and starts again.
  indicator.set(mt_frame("6900", /*motion=*/true));
  frame_with(ws, "weight", 6900);
  send(ws, "axle-captured", R"({"axleNumber":2,"weight":6900})");
  send(ws, "transaction-sync", R"({"transactionId":"T-W","axleConfigCode":"2A","totalAxles":2})");
  next_event(ws, "transaction-sync-ack");
  send(ws, "axle-captured", R"({"axleNumber":1,"weight":7000})");
  auto given_up = next_event(ws, "axle-captured-ack");
  CHECK(given_up.at("success") == false);  // the old axle 2, never "busy" for the new axle 1
  indicator.set(mt_frame("7000"));
  auto a1 = read_until(ws, [](const json::object& o) {
    return o.at("event") == "axle-captured-ack" && o.at("data").at("success") == true;
  });
  CHECK(a1.at("data").at("idempotencyKey") == "truconnect:T-W:r2:axle:1");
  CHECK(a1.at("data").at("weight") == 7000);
  // Nothing of the first configuration was recorded as a weighing.
  CHECK(outbox_items(agent.http).empty());
}
