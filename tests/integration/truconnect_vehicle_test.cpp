// TruConnect on real parts, the vehicle across a SIGKILL: the app's values and the axle numbering
// survive on disk. The other vehicle rules (a new axle configuration, an axle refused in motion or
// given up, a multideck truck gone before confirm, a restart in-process) are tested in-process in
// tests/unit/agent/truconnect_flow_test.cpp.
#include "truconnect_fixture.hpp"

namespace {

// Waits until the live frames show `weight` stable (the operator's "stable" light).
void wait_stable(WsClient& ws, const std::string& event, std::int64_t weight,
                 const char* field = "weight") {
  read_until(ws, [&](const json::object& o) {
    if (o.at("event") != json::value(event)) return false;
    const auto& d = o.at("data").as_object();
    return d.at(field) == json::value(weight) && d.at("stable") == true;
  });
}

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
    auto app = registered_app(*agent);
    WsClient& ws = *app;
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
  auto app = registered_app(*agent);
  WsClient& ws = *app;
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
