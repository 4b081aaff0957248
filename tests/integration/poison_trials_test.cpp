// Poison trials end to end (issue 15): the real agent with a pty scale, the real backend on a
// throwaway PostgreSQL. A bad mutation followed by good ones: the good ones reach PostgreSQL, the
// bad one is a dead letter with its reason, and `outbox discard` empties the station's queue.
// And a backend that fails whole calls holding one mutation (a PostgreSQL trigger stands in for a
// backend bug): the agent finds that one, withholds it behind a marker, and the rest flows.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <boost/json.hpp>
#include <string>

#include "agent_fixture.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;

namespace {

std::uint64_t outbox_count(const std::string& http, const char* state) {
  return agent_status(http).at("outbox").at(state).to_number<std::uint64_t>();
}

std::vector<json::object> items_in(const std::string& http, const std::string& state) {
  const auto page = body_of(http_request(http, "GET", "/v1/outbox?state=" + state));
  std::vector<json::object> out;
  for (const auto& v : page.at("items").as_array()) out.push_back(v.as_object());
  return out;
}

std::string note(int n) {
  return R"({"kind":"note.added","payload":{"n":)" + std::to_string(n) + "}}";
}

}  // namespace

TEST_CASE(
    "poison trials: a weighing the backend refuses is a dead letter with its reason, the "
    "mutations behind it reach PostgreSQL, and discard empties the queue") {
  TempDir dir("wl-poison");
  PtyScale scale(dir / "scale");
  StationBackend backend(dir);
  // A new station: no key registered, unsigned weighings refused (the default for new stations).
  auto refuse = run({bin("weighlink-backend"), "station", "set-unsigned-weighings", "--dsn",
                     backend.pg().dsn(), "--id", "st-1", "refuse"});
  REQUIRE_MESSAGE(refuse.exit_code == 0, refuse.output);
  auto args = backend.agent_args();
  args.insert(args.end(),
              {"--scale-source", "serial:" + scale.path(), "--scale-protocol", "mt-continuous"});
  AgentProcess agent(dir, args, "hello_interval_ms: 1000\n");
  StreamingScale indicator(scale, mt_frame("14200"));

  const auto capture = post_json(agent.http, "/v1/captures", "cap-1", R"({"operator":"op-1"})");
  REQUIRE(capture.status == 202);
  // The audit events of the first start (docs/legal-metrology.md) hold seqs 1..a and are applied
  // too: the weighing is seq a + 1.
  const auto a = agent_status(agent.http).at("audit").at("counter").as_int64();
  const auto applied = std::to_string(a + 3);
  for (int n = 1; n <= 3; ++n) {
    REQUIRE(post_json(agent.http, "/v1/mutations", "note-" + std::to_string(n), note(n)).status ==
            202);
  }
  // The good ones are applied; the weighing is a dead letter with the backend's reason.
  REQUIRE(eventually(
      [&] {
        return backend.pg().query_scalar(
                   "select count(*) from mutation_log where outcome='applied'") == applied;
      },
      30s));
  REQUIRE(eventually([&] { return outbox_count(agent.http, "dead") == 1; }, 30s));
  CHECK(eventually(
      [&] { return outbox_count(agent.http, "acknowledged") == static_cast<std::uint64_t>(a + 3); },
      30s));
  CHECK(outbox_count(agent.http, "pending") == 0);
  const auto dead = items_in(agent.http, "dead");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].at("idempotency_key") == "cap-1");
  CHECK(std::string(dead[0].at("last_error").as_string()).starts_with("unsigned_weighing"));
  CHECK(backend.pg().query_scalar("select count(*) from weighings") == "0");
  CHECK(
      backend.pg().query_scalar(
          "select string_agg(coalesce(payload, payload_text::jsonb)->>'n', ',' order by seq) from "
          "mutation_log where outcome='applied' and kind = 'note.added'") == "1,2,3");

  // Discard: by HTTP a key that is not dead is refused; by the command the dead letter ends.
  auto not_dead = post_json(agent.http, "/v1/outbox/note-1/discard", "", R"({"reason":"x"})");
  CHECK(not_dead.status == 404);
  auto bad_reason =
      post_json(agent.http, "/v1/outbox/cap-1/discard", "", R"({"reason":"a\nforged line"})");
  CHECK(bad_reason.status == 400);
  auto usage = run({bin("weighlink-agent"), "outbox", "discard", "cap-1", "--data-dir",
                    (dir / "data").string(), "--station-id", "st-1"});
  CHECK(usage.exit_code == 2);  // no --reason
  auto discard = run({bin("weighlink-agent"), "outbox", "discard", "cap-1", "--reason",
                      "captured before the station key was registered; re-weighed", "--data-dir",
                      (dir / "data").string(), "--station-id", "st-1"});
  REQUIRE_MESSAGE(discard.exit_code == 0, discard.output);
  const auto status = agent_status(agent.http);
  CHECK(status.at("outbox").at("pending") == 0);
  CHECK(status.at("outbox").at("dead") == 0);
  CHECK(status.at("outbox").at("discarded") == 1);
  const auto discarded = items_in(agent.http, "discarded");
  REQUIRE(discarded.size() == 1);
  CHECK(discarded[0].at("discard_reason") ==
        "captured before the station key was registered; re-weighed");
  // Never sent again, not even by a retry.
  auto retry = http_request(agent.http, "POST", "/v1/outbox/cap-1/retry");
  CHECK(retry.status == 404);
  // Kept and exported, and the evidence chain still verifies.
  auto exported = run({bin("weighlink-agent"), "outbox", "export", "--data-dir",
                       (dir / "data").string(), "--station-id", "st-1"});
  REQUIRE(exported.exit_code == 0);
  CHECK(exported.output.find(R"("discard_reason":"captured before the station key)") !=
        std::string::npos);
  auto verified = run({bin("weighlink-agent"), "verify-evidence", "--data-dir",
                       (dir / "data").string(), "--station-id", "st-1"});
  CHECK_MESSAGE(verified.exit_code == 0, verified.output);
  CHECK(
      http_request(agent.http, "GET", "/metrics").body.find("weighlink_agent_outbox_discarded 1") !=
      std::string::npos);

  // The backend loses everything (as a restore from a backup older than all of it): the agent
  // re-sends the acknowledged rows, and the discarded one's seq goes as a marker without its
  // payload, so the seqs behind it are not held up by the gap.
  (void)backend.pg().query_scalar(
      "DELETE FROM mutation_log; UPDATE stations SET high_water_seq = 0; SELECT 1");
  std::string resent;
  for (std::int64_t seq = 1; seq <= a + 4; ++seq) {
    resent +=
        (seq > 1 ? " " : "") + std::to_string(seq) + (seq == a + 1 ? ":rejected" : ":applied");
  }
  REQUIRE(eventually(
      [&] {
        return backend.pg().query_scalar(
                   "select string_agg(seq || ':' || outcome, ' ' order by seq) from "
                   "mutation_log") == resent;
      },
      30s));
  CHECK(backend.pg()
            .query_scalar("select reason from mutation_log where seq = " + std::to_string(a + 1))
            .starts_with(
                "withheld_by_agent: discarded at the agent: captured before the station key"));
  CHECK(backend.pg().query_scalar("select count(*) from weighings") == "0");
  CHECK(eventually(
      [&] { return outbox_count(agent.http, "acknowledged") == static_cast<std::uint64_t>(a + 3); },
      30s));
  CHECK(outbox_count(agent.http, "discarded") == 1);
  CHECK(outbox_count(agent.http, "pending") == 0);
}

TEST_CASE(
    "poison trials: a mutation that makes the backend fail whole calls is found, withheld "
    "behind a marker, and the rest flows") {
  TempDir dir("wl-poison");
  StationBackend backend(dir);
  // A backend bug stands in: any call that stores this payload fails as a whole (P0001 is no
  // data error the backend can pin on one row, so it fails the Replay with INTERNAL).
  (void)backend.pg().query_scalar(R"sql(
    CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF coalesce(NEW.payload::text, NEW.payload_text) LIKE '%poison%' THEN RAISE EXCEPTION 'a backend bug'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER poison BEFORE INSERT ON mutation_log FOR EACH ROW EXECUTE FUNCTION poison();
    SELECT 1)sql");
  AgentProcess agent(dir, backend.agent_args(), "hello_interval_ms: 1000\n");
  for (int n = 1; n <= 10; ++n) {
    const std::string body =
        n == 6 ? R"({"kind":"note.added","payload":{"tag":"poison"}})" : note(n);
    REQUIRE(post_json(agent.http, "/v1/mutations", "m-" + std::to_string(n), body).status == 202);
  }
  REQUIRE(eventually([&] { return outbox_count(agent.http, "acknowledged") == 9; }, 60s));
  REQUIRE(eventually([&] { return outbox_count(agent.http, "dead") == 1; }, 30s));
  CHECK(outbox_count(agent.http, "pending") == 0);
  const auto dead = items_in(agent.http, "dead");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].at("idempotency_key") == "m-6");
  CHECK(std::string(dead[0].at("last_error").as_string()).starts_with("withheld: "));
  const auto status = agent_status(agent.http);
  CHECK(status.at("uplink").at("withheld") == 1);
  // The backend holds the nine, and the marker for seq 6 (no payload), in seq order.
  CHECK(backend.pg().query_scalar(
            "select string_agg(seq || ':' || outcome, ' ' order by seq) from mutation_log") ==
        "1:applied 2:applied 3:applied 4:applied 5:applied 6:rejected 7:applied 8:applied "
        "9:applied 10:applied");
  CHECK(backend.pg()
            .query_scalar("select reason from mutation_log where seq = 6")
            .starts_with("withheld_by_agent: "));
  CHECK(backend.pg().query_scalar("select high_water_seq from stations where id='st-1'") == "10");
  CHECK(read_file(dir / "agent.log").find("withheld mutation seq 6") != std::string::npos);

  // The backend is fixed; the operator retries the dead letter: the mutation takes its marker's
  // place, at seq 6, applied.
  (void)backend.pg().query_scalar("DROP TRIGGER poison ON mutation_log; SELECT 1");
  REQUIRE(http_request(agent.http, "POST", "/v1/outbox/m-6/retry").status == 200);
  REQUIRE(eventually([&] { return outbox_count(agent.http, "acknowledged") == 10; }, 30s));
  CHECK(outbox_count(agent.http, "dead") == 0);
  CHECK(backend.pg().query_scalar("select outcome || ' ' || (coalesce(payload, "
                                  "payload_text::jsonb)->>'tag') from mutation_log "
                                  "where seq = 6") == "applied poison");
  CHECK(backend.pg().query_scalar("select count(*) from mutation_log") == "10");
}

TEST_CASE(
    "poison trials: a TruLoad capture typed \"gross weight\" under a 200-character "
    "transaction id reaches PostgreSQL with the app's text, and the captures behind it too") {
  TempDir dir("wl-poison");
  PtyScale scale(dir / "scale");
  StationBackend backend(dir);
  const std::string config =
      truconnect_config(scale.path(), "mt-continuous", "mobile", "hello_interval_ms: 1000\n");
  AgentProcess agent(dir, backend.agent_args(), config);
  StreamingScale indicator(scale, mt_frame("9100"));
  WsClient ws(agent.address("truconnect_ws"), "/");
  next_event(ws, "connected");
  ws.write(R"({"event":"register","data":{"stationCode":"ROMIA","mode":"mobile"}})");
  next_event(ws, "register-ack");
  const std::string long_id(200, 'T');
  ws.write(R"({"event":"transaction-sync","data":{"transactionId":")" + long_id + R"("}})");
  next_event(ws, "transaction-sync-ack");
  ws.write(R"({"event":"capture-request","data":{"type":"gross weight"}})");
  REQUIRE(next_event(ws, "capture-ack").at("success") == true);
  return_to_zero(indicator, agent.http, "9100");  // the next vehicle
  ws.write(R"({"event":"transaction-sync","data":{"transactionId":"T-2"}})");
  next_event(ws, "transaction-sync-ack");
  ws.write(R"({"event":"capture-request","data":{"type":"tare"}})");
  REQUIRE(next_event(ws, "capture-ack").at("success") == true);
  REQUIRE(eventually(
      [&] { return backend.pg().query_scalar("select count(*) from weighings") == "2"; }, 30s));
  CHECK(backend.pg().query_scalar("select count(*) from mutation_log where outcome='rejected'") ==
        "0");
  CHECK(backend.pg().query_scalar(
            "select coalesce(payload, payload_text::jsonb)->'reference'->>'type' from mutation_log "
            "where kind = "
            "'weighing.captured' order by seq limit 1") == "gross weight");
  CHECK(backend.pg().query_scalar("select length(coalesce(payload, "
                                  "payload_text::jsonb)->'reference'->>'transaction_id') from "
                                  "mutation_log where kind = 'weighing.captured' order by seq "
                                  "limit 1") == "200");
  CHECK(outbox_count(agent.http, "dead") == 0);
  CHECK(outbox_count(agent.http, "pending") == 0);
}

TEST_CASE(
    "poison trials: a pending mutation older than outbox.alert_pending_after_s raises the "
    "stuck alarm: a log line, uplink.stuck and the gauge") {
  TempDir dir("wl-poison");
  {
    AgentProcess offline(dir, {});
    REQUIRE(post_json(offline.http, "/v1/mutations", "old-1", note(1)).status == 202);
    (void)offline.process->terminate();
  }
  // As if it had waited two hours: the outbox file is edited while the agent is stopped.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir / "data" / "outbox.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE mutations SET created_at_ms = created_at_ms - 7200000", nullptr,
                       nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  // A backend address where nothing listens: the queue cannot move.
  write_secret_file(dir / "token", "no-such-token\n");
  AgentProcess agent(
      dir, {"--backend", free_loopback_address(), "--station-token-file", (dir / "token").string()},
      "hello_interval_ms: 1000\noutbox:\n  alert_pending_after_s: 3600\n");
  REQUIRE(
      eventually([&] { return agent_status(agent.http).at("uplink").at("stuck") == true; }, 30s));
  CHECK(agent_status(agent.http).at("outbox").at("oldest_pending_age_s").to_number<int>() >= 7200);
  const auto metrics = http_request(agent.http, "GET", "/metrics").body;
  CHECK(metrics.find("weighlink_agent_outbox_stuck 1") != std::string::npos);
  CHECK(eventually(
      [&] {
        return read_file(dir / "agent.log")
                   .find(
                       "the oldest pending mutation has waited more "
                       "than 3600 s") != std::string::npos;
      },
      10s));
}
