// The weighing workstation through the real agent and a pty indicator (docs/local-api.md,
// "Workstation"): two-pass weighings with an exact net, one pass against a stored tare, an open
// transaction surviving a killed agent, cancelling, one open transaction per plate, and refusals
// that record nothing. Between passes the indicator goes back to zero, as when a truck drives off.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <boost/json.hpp>

#include "agent_fixture.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using weighlink::testing::body_of;
using weighlink::testing::eventually;
using weighlink::testing::http_request;
using weighlink::testing::mt_frame;
using weighlink::testing::post_json;
using weighlink::testing::read_until;
using weighlink::testing::StreamingScale;
using weighlink::testing::TempDir;
using weighlink::testing::WsClient;

namespace {

using Agent = weighlink::testing::AgentProcess;

std::string station_config(const std::string& pty) {
  return "capture_timeout_ms: 5000\n"
         "station:\n"
         "  reference_fields:\n"
         "    - {id: customer, label: {en: Customer, sw: Mteja}, required: true}\n"
         "    - {id: direction, type: choice, choices: [in, out]}\n"
         "    - {id: moisture, type: number}\n"
         "scales:\n"
         "  - {id: main, source: 'serial:" +
         pty + "', protocol: mt-continuous}\n";
}

// The indicator shows `weight` and the agent has read it.
void show(StreamingScale& indicator, WsClient& ws, const char* weight) {
  indicator.set(mt_frame(weight));
  read_until(ws, [&](const json::object& m) {
    return m.at("type") == "reading" && m.at("weight") == weight;
  });
}

// The deck clears (back to zero, as a truck drives off) and the next vehicle shows `weight`.
void next_vehicle(StreamingScale& indicator, WsClient& ws, const char* weight) {
  show(indicator, ws, "0");
  show(indicator, ws, weight);
}

// One value of the outbox database (read-only, beside the running agent).
std::string outbox_value(const TempDir& dir, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((dir / "data" / "outbox.db").c_str(), &db, SQLITE_OPEN_READONLY,
                          nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  std::string value;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

// Rows other than the audit events the agent records at its first start (docs/legal-metrology.md).
std::size_t outbox_rows(const std::string& http) {
  std::size_t n = 0;
  for (const auto& row : weighlink::testing::outbox_rows(http)) {
    if (row.at("kind") != "weighlink.audit_event") ++n;
  }
  return n;
}

json::array listed(const std::string& http, const std::string& state) {
  return body_of(http_request(http, "GET", "/v1/transactions?state=" + state))
      .at("items")
      .as_array();
}

constexpr const char* kOpen =
    R"({"scale":"main","plate":"kcb 123-a","reference":{"customer":"Acme","direction":"in",)"
    R"("moisture":12.50},"operator":"op1"})";

}  // namespace

TEST_CASE("workstation: a two-pass weighing closes with an exact net and links its first pass") {
  TempDir dir("wl-ws");
  weighlink::testing::PtyScale scale(dir / "scale");
  Agent agent(dir, {}, station_config(scale.path()));
  StreamingScale indicator(scale, mt_frame("0"));
  WsClient ws(agent.http, "/v1/live");

  const auto station = body_of(http_request(agent.http, "GET", "/v1/station"));
  CHECK(station.at("station_id") == "st-1");
  CHECK(station.at("language") == "en");
  CHECK(station.at("reference_fields").as_array().at(0).at("label").at("sw") == "Mteja");
  CHECK(station.at("scales").as_array().at(0) == "main");

  show(indicator, ws, "32540");
  const auto first = post_json(agent.http, "/v1/transactions", "tx-first", kOpen);
  REQUIRE(first.status == 202);
  const auto opened = body_of(first);
  const auto& tx = opened.at("transaction").as_object();
  CHECK(tx.at("id") == "st-1-T1");
  CHECK(tx.at("state") == "open");
  CHECK(tx.at("plate") == "KCB123A");
  CHECK(tx.at("reference").at("moisture") == "12.50");
  CHECK(tx.at("first").at("weight") == "32540");
  const auto& w1 = opened.at("weighing").as_object();
  CHECK(w1.at("reference").at("plate") == "KCB123A");
  CHECK(w1.at("reference").at("customer") == "Acme");
  CHECK(w1.at("transaction").at("pass") == 1);
  CHECK(w1.at("transaction").at("mode") == "two_pass");
  const auto first_seq = opened.at("seq").as_int64();

  // The truck drives off, turns, comes back empty.
  next_vehicle(indicator, ws, "12480");
  CHECK(weighlink::testing::agent_status(agent.http).at("station").at("open_transactions") == 1);
  CHECK(http_request(agent.http, "GET", "/metrics")
            .body.find("\nweighlink_agent_open_transactions 1\n") != std::string::npos);
  const auto open_items = listed(agent.http, "open");
  REQUIRE(open_items.size() == 1);
  CHECK(open_items.at(0).at("first").at("seq") == first_seq);

  const std::string complete = R"({"scale":"main","operator":"op2"})";
  const auto second =
      post_json(agent.http, "/v1/transactions/st-1-T1/complete", "tx-second", complete);
  REQUIRE(second.status == 202);
  const auto closed = body_of(second);
  CHECK(closed.at("transaction").at("state") == "closed");
  CHECK(closed.at("transaction").at("net") == "20060");
  CHECK(closed.at("transaction").at("second").at("weight") == "12480");
  const auto& link = closed.at("weighing").at("transaction").as_object();
  CHECK(link.at("pass") == 2);
  CHECK(link.at("gross") == "32540");
  CHECK(link.at("tare") == "12480");
  CHECK(link.at("net") == "20060");
  CHECK(link.at("unit") == "kg");
  CHECK(link.at("first").at("seq") == first_seq);
  CHECK(link.at("first").at("idempotency_key") == "tx-first");
  CHECK(link.at("first").at("weight") == "32540");
  // The first record's hash as the outbox chained it.
  const auto first_hash =
      outbox_value(dir, "select record_hash from mutations where idempotency_key='tx-first'");
  CHECK(first_hash.size() == 64);
  CHECK(std::string(link.at("first").at("record_hash").as_string()) == first_hash);
  CHECK(closed.at("weighing").at("reference").at("plate") == "KCB123A");

  // A retry answers the same weighing; another body under the key is refused.
  const auto again =
      post_json(agent.http, "/v1/transactions/st-1-T1/complete", "tx-second", complete);
  CHECK(again.status == 200);
  CHECK(body_of(again).at("seq") == closed.at("seq"));
  CHECK(body_of(again).at("transaction").at("net") == "20060");
  CHECK(post_json(agent.http, "/v1/transactions/st-1-T1/complete", "tx-second",
                  R"({"scale":"main","operator":"op3"})")
            .status == 422);
  // Closed: not completed twice.
  CHECK(post_json(agent.http, "/v1/transactions/st-1-T1/complete", "tx-third", complete).status ==
        409);
  CHECK(listed(agent.http, "open").empty());
  REQUIRE(listed(agent.http, "closed").size() == 1);
  CHECK(listed(agent.http, "closed").at(0).at("net") == "20060");
  const auto plates = body_of(http_request(agent.http, "GET", "/v1/plates?prefix=kcb"));
  REQUIRE(plates.at("items").as_array().size() == 1);
  CHECK(plates.at("items").at(0) == "KCB123A");
  CHECK(outbox_rows(agent.http) == 2);
}

TEST_CASE("workstation: one pass against the stored tare, which must exist") {
  TempDir dir("wl-ws");
  weighlink::testing::PtyScale scale(dir / "scale");
  Agent agent(dir, {}, station_config(scale.path()));
  StreamingScale indicator(scale, mt_frame("0"));
  WsClient ws(agent.http, "/v1/live");

  const std::string loaded =
      R"({"scale":"main","plate":"KBZ 77","mode":"stored_tare","reference":{"customer":"Acme"}})";
  show(indicator, ws, "41220");
  const auto none = post_json(agent.http, "/v1/transactions", "one-0", loaded);
  CHECK(none.status == 409);
  CHECK(body_of(none).at("error") == "no_stored_tare");
  CHECK(http_request(agent.http, "GET", "/v1/tares/KBZ77").status == 404);

  next_vehicle(indicator, ws, "9800");
  const auto tare = post_json(agent.http, "/v1/tares", "tare-1",
                              R"({"scale":"main","plate":"kbz-77","operator":"op1",)"
                              R"("reference":{"customer":"Acme"}})");
  REQUIRE(tare.status == 202);
  CHECK(body_of(tare).at("weighing").at("transaction").at("mode") == "tare");
  const auto tare_seq = body_of(tare).at("seq").as_int64();
  const auto stored = body_of(http_request(agent.http, "GET", "/v1/tares/KBZ77"));
  CHECK(stored.at("weight") == "9800");
  CHECK(stored.at("seq") == tare_seq);
  CHECK(stored.at("expired") == false);
  CHECK(body_of(http_request(agent.http, "GET", "/v1/tares")).at("items").as_array().size() == 1);

  next_vehicle(indicator, ws, "41220");
  const auto one = post_json(agent.http, "/v1/transactions", "one-1", loaded);
  REQUIRE(one.status == 202);
  const auto body = body_of(one);
  CHECK(body.at("transaction").at("state") == "closed");
  CHECK(body.at("transaction").at("mode") == "stored_tare");
  CHECK(body.at("transaction").at("net") == "31420");
  const auto& link = body.at("weighing").at("transaction").as_object();
  CHECK(link.at("gross") == "41220");
  CHECK(link.at("tare") == "9800");
  CHECK(link.at("net") == "31420");
  CHECK(link.at("stored_tare").at("seq") == tare_seq);
  CHECK(link.at("stored_tare").at("idempotency_key") == "tare-1");
  CHECK(outbox_rows(agent.http) == 2);
}

TEST_CASE("workstation: an open transaction survives a killed agent and is completed after") {
  TempDir dir("wl-ws");
  weighlink::testing::PtyScale scale(dir / "scale");
  StreamingScale indicator(scale, mt_frame("0"));
  {
    Agent agent(dir, {}, station_config(scale.path()));
    WsClient ws(agent.http, "/v1/live");
    show(indicator, ws, "30000");
    REQUIRE(post_json(agent.http, "/v1/transactions", "k-1", kOpen).status == 202);
    agent.process->kill();
  }
  Agent agent(dir, {}, station_config(scale.path()));
  WsClient ws(agent.http, "/v1/live");
  const auto open = listed(agent.http, "open");
  REQUIRE(open.size() == 1);
  CHECK(open.at(0).at("plate") == "KCB123A");
  CHECK(open.at(0).at("first").at("weight") == "30000");
  next_vehicle(indicator, ws, "11000.5");
  const auto done = post_json(agent.http, "/v1/transactions/st-1-T1/complete", "k-2", "{}");
  REQUIRE(done.status == 202);
  CHECK(body_of(done).at("transaction").at("net") == "18999.5");
  // The next transaction gets the next number.
  next_vehicle(indicator, ws, "25000");
  const auto next = post_json(agent.http, "/v1/transactions", "k-3", kOpen);
  REQUIRE(next.status == 202);
  CHECK(body_of(next).at("transaction").at("id") == "st-1-T2");
}

TEST_CASE("workstation: one open transaction per plate, cancelling with a reason, refusals") {
  TempDir dir("wl-ws");
  weighlink::testing::PtyScale scale(dir / "scale");
  Agent agent(dir, {}, station_config(scale.path()));
  StreamingScale indicator(scale, mt_frame("0"));
  WsClient ws(agent.http, "/v1/live");
  show(indicator, ws, "28000");

  // Bad input is refused, naming the field, and records nothing.
  const auto bad_plate = post_json(agent.http, "/v1/transactions", "b-1",
                                   R"({"plate":"KCB/1","reference":{"customer":"A"}})");
  CHECK(bad_plate.status == 422);
  CHECK(body_of(bad_plate).at("error") == "invalid_plate");
  const auto bad_choice = post_json(agent.http, "/v1/transactions", "b-2",
                                    R"({"plate":"KCB1","reference":{"customer":"A",)"
                                    R"("direction":"up"}})");
  CHECK(bad_choice.status == 422);
  CHECK(body_of(bad_choice).at("error") == "invalid_reference");
  CHECK(std::string(body_of(bad_choice).at("message").as_string()).find("direction") !=
        std::string::npos);
  const auto missing = post_json(agent.http, "/v1/transactions", "b-3", R"({"plate":"KCB1"})");
  CHECK(missing.status == 422);
  CHECK(std::string(body_of(missing).at("message").as_string()).find("customer") !=
        std::string::npos);
  CHECK(post_json(agent.http, "/v1/transactions", "", kOpen).status == 400);
  CHECK(outbox_rows(agent.http) == 0);

  REQUIRE(post_json(agent.http, "/v1/transactions", "o-1", kOpen).status == 202);
  const auto twice = post_json(agent.http, "/v1/transactions", "o-2", kOpen);
  CHECK(twice.status == 409);
  CHECK(body_of(twice).at("error") == "transaction_open");
  CHECK(std::string(body_of(twice).at("message").as_string()).find("st-1-T1") != std::string::npos);

  const auto no_reason =
      post_json(agent.http, "/v1/transactions/st-1-T1/cancel", "c-1", R"({"operator":"op1"})");
  CHECK(no_reason.status == 422);
  CHECK(body_of(no_reason).at("error") == "reason_required");
  const auto cancel = post_json(agent.http, "/v1/transactions/st-1-T1/cancel", "c-2",
                                R"({"reason":"driver left","operator":"op1"})");
  REQUIRE(cancel.status == 202);
  CHECK(body_of(cancel).at("transaction").at("state") == "cancelled");
  const auto cancelled = listed(agent.http, "cancelled");
  REQUIRE(cancelled.size() == 1);
  CHECK(cancelled.at(0).at("cancel_reason") == "driver left");
  CHECK(listed(agent.http, "open").empty());
  const auto outbox = weighlink::testing::outbox_rows(agent.http);
  REQUIRE(outbox_rows(agent.http) == 2);
  const auto& record = outbox.back();
  CHECK(record.at("kind") == "weighlink.transaction_cancelled");
  CHECK(record.at("payload").at("id") == "st-1-T1");
  CHECK(record.at("payload").at("plate") == "KCB123A");
  CHECK(record.at("payload").at("reason") == "driver left");
  CHECK(record.at("payload").at("first_seq") == outbox.at(outbox.size() - 2).at("seq"));
  CHECK(post_json(agent.http, "/v1/transactions/st-1-T1/complete", "c-3", "{}").status == 409);

  // The plate is free again.
  next_vehicle(indicator, ws, "28000");
  const auto reopened = post_json(agent.http, "/v1/transactions", "o-3", kOpen);
  REQUIRE(reopened.status == 202);
  CHECK(body_of(reopened).at("transaction").at("id") == "st-1-T2");
}

TEST_CASE("workstation: the backend stores the closing weighing and the cancel record") {
  TempDir dir("wl-ws");
  weighlink::testing::PtyScale scale(dir / "scale");
  weighlink::testing::StationBackend backend(dir);
  Agent agent(dir, backend.agent_args(), station_config(scale.path()));
  StreamingScale indicator(scale, mt_frame("0"));
  WsClient ws(agent.http, "/v1/live");

  show(indicator, ws, "32540");
  REQUIRE(post_json(agent.http, "/v1/transactions", "be-1", kOpen).status == 202);
  next_vehicle(indicator, ws, "12480");
  REQUIRE(post_json(agent.http, "/v1/transactions/st-1-T1/complete", "be-2", "{}").status == 202);
  next_vehicle(indicator, ws, "30000");
  REQUIRE(post_json(agent.http, "/v1/transactions", "be-3", kOpen).status == 202);
  REQUIRE(post_json(agent.http, "/v1/transactions/st-1-T2/cancel", "be-4",
                    R"({"reason":"wrong truck"})")
              .status == 202);

  const auto& pg = backend.pg();
  const auto applied =
      "select count(*) from mutation_log where outcome='applied' and kind <> "
      "'weighlink.audit_event'";
  REQUIRE_MESSAGE(eventually([&] { return pg.query_scalar(applied) == "4"; }, 30s, 100ms),
                  agent.process->log());
  CHECK(pg.query_scalar("select coalesce(payload, payload_text::jsonb)->'transaction'->>'net' from "
                        "mutation_log where "
                        "idempotency_key='be-2'") == "20060");
  CHECK(pg.query_scalar("select coalesce(payload, "
                        "payload_text::jsonb)->'transaction'->'first'->>'idempotency_key' from "
                        "mutation_log where idempotency_key='be-2'") == "be-1");
  CHECK(pg.query_scalar("select kind || ' ' || (coalesce(payload, payload_text::jsonb)->>'reason') "
                        "from mutation_log where "
                        "idempotency_key='be-4'") == "weighlink.transaction_cancelled wrong truck");
}
