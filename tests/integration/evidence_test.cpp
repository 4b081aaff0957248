// The operator's outbox commands and the evidence chain with the real agent: `weighlink-agent
// outbox list|show|retry|export` while the agent runs, `verify-evidence` on the outbox and on an
// export after someone edited them, and pruning once the real backend reports a durable_seq.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "agent_fixture.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;  // NOLINT(google-build-using-namespace)

namespace {

const std::string kAgent = bin("weighlink-agent");

weighlink::testing::RunResult tool(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), kAgent);
  args.insert(args.end(), {"--data-dir", (dir / "data").string(), "--station-id", "st-1"});
  return weighlink::testing::run(args, 30s);
}

// Runs SQL on the agent's outbox file, as someone with access to the station PC could.
void tamper(const TempDir& dir, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir / "data" / "outbox.db").c_str(), &db) == SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  const std::string error = message ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, error);
}

std::vector<std::string> lines_of(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void write_lines(const std::filesystem::path& file, const std::vector<std::string>& lines) {
  std::ofstream out(file, std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
}

// Waits for a Hello the agent made after this call, with nothing pending: the agent prunes at each
// Hello, so what it kept then, it kept on purpose. The uplink's last_sync moves with every answered
// call and, with nothing pending, only Hellos are made; the first move may still be the answer to
// the last Replay, so two moves.
bool hello_after_now(const std::string& http) {
  const auto last_sync = [&] {
    return json::serialize(agent_status(http).at("uplink").at("last_sync"));
  };
  auto seen = last_sync();
  int moves = 0;
  return eventually(
      [&] {
        if (auto now = last_sync(); now != seen) {
          seen = std::move(now);
          ++moves;
        }
        return moves >= 2;
      },
      20s);
}

}  // namespace

TEST_CASE("evidence: captures are signed and chained, and verify-evidence finds an edit") {
  TempDir dir("wl-evidence");
  PtyScale pty(dir / "scale");
  StreamingScale scale(pty, mt_frame("14200"));
  // The audit events of the first start (docs/legal-metrology.md) take the first seqs: record k
  // of this test is seq a + k.
  std::int64_t a = 0;
  const auto seq = [&a](int k) { return std::to_string(a + k); };
  {
    AgentProcess agent(dir, {"--scale-source", "serial:" + pty.path()});
    a = agent_status(agent.http).at("audit").at("counter").as_int64();
    for (int i = 1; i <= 3; ++i) {
      if (i > 1) return_to_zero(scale, agent.http, "14200");  // the next vehicle
      auto r = post_json(agent.http, "/v1/captures", "cap-" + std::to_string(i),
                         R"({"scale":"main","operator":"op-7","timeout_ms":3000})");
      REQUIRE_MESSAGE(r.status == 202, r.body);
      auto n = post_json(agent.http, "/v1/mutations", "note-" + std::to_string(i),
                         R"({"kind":"note.added","payload":{"text":"x"}})");
      REQUIRE(n.status == 202);
    }
    // The commands work while the agent runs.
    auto verified = tool(dir, {"verify-evidence", "--json"});
    INFO(verified.output);
    CHECK(verified.exit_code == 0);
    auto report = json::parse(last_line(verified.output)).as_object();
    CHECK(report.at("ok") == true);
    CHECK(report.at("records") == a + 6);
    CHECK(report.at("head_seq") == a + 6);

    auto shown = tool(dir, {"outbox", "show", "cap-2"});
    REQUIRE_MESSAGE(shown.exit_code == 0, shown.output);
    auto row = json::parse(last_line(shown.output)).as_object();
    CHECK(row.at("seq") == a + 3);
    CHECK(row.at("kind") == "weighing.captured");
    const auto& payload = row.at("payload").as_object();
    CHECK(payload.at("weight") == "14200");
    CHECK(payload.at("operator") == "op-7");
    CHECK(payload.contains("raw"));
    CHECK(payload.contains("reading_seq"));
    // The frames behind the capture, ending with the captured reading.
    const auto& frames = payload.at("evidence").at("frames").as_array();
    REQUIRE(!frames.empty());
    CHECK(frames.back().at("seq") == payload.at("reading_seq"));
    CHECK(frames.back().at("weight") == "14200");
    CHECK(!frames.back().at("raw").as_string().empty());
    CHECK(row.at("evidence").at("signature").as_string().size() == 64);
    CHECK(agent.process->terminate() == 0);
  }
  REQUIRE(std::filesystem::exists(dir / "data" / "station.key"));

  SUBCASE("a changed weight") {
    tamper(dir,
           "UPDATE mutations SET payload=replace(payload, '14200', '12400') WHERE seq=" + seq(3));
    auto r = tool(dir, {"verify-evidence"});
    CHECK(r.exit_code == 3);
    CHECK(r.output.find("seq " + seq(3) + ": altered") != std::string::npos);
  }
  SUBCASE("a removed record") {
    tamper(dir, "DELETE FROM mutations WHERE seq=" + seq(3));
    auto r = tool(dir, {"verify-evidence"});
    CHECK(r.exit_code == 3);
    CHECK(r.output.find("seq " + seq(4) + ": removed") != std::string::npos);
  }
  SUBCASE("the newest record removed") {
    tamper(dir, "DELETE FROM mutations WHERE seq=" + seq(6));
    auto r = tool(dir, {"verify-evidence"});
    CHECK(r.exit_code == 3);
    CHECK(r.output.find("removed") != std::string::npos);
  }
  SUBCASE("two records swapped") {
    tamper(dir, "UPDATE mutations SET seq=-1 WHERE seq=" + seq(3) +
                    "; UPDATE mutations SET seq=" + seq(3) + " WHERE seq=" + seq(5) +
                    "; UPDATE mutations SET seq=" + seq(5) + " WHERE seq=-1");
    auto r = tool(dir, {"verify-evidence"});
    CHECK(r.exit_code == 3);
    CHECK(r.output.find("EVIDENCE BROKEN") != std::string::npos);
  }
  SUBCASE("another station key") {
    std::ofstream(dir / "other.key") << std::string(64, 'a') << "\n";
    auto r = tool(dir, {"verify-evidence", "--station-key-file", (dir / "other.key").string()});
    CHECK(r.exit_code == 3);
    CHECK(r.output.find("bad_signature") != std::string::npos);
  }
  SUBCASE("an export, reordered and edited") {
    auto exported = tool(dir, {"outbox", "export", "--out", (dir / "export.jsonl").string()});
    REQUIRE_MESSAGE(exported.exit_code == 0, exported.output);
    auto lines = lines_of(dir / "export.jsonl");
    REQUIRE(lines.size() == static_cast<std::size_t>(a + 7));  // header + the records
    CHECK(tool(dir, {"verify-evidence", "--export", (dir / "export.jsonl").string()}).exit_code ==
          0);

    auto swapped = lines;
    std::swap(swapped[a + 2], swapped[a + 3]);
    write_lines(dir / "swapped.jsonl", swapped);
    auto r = tool(dir, {"verify-evidence", "--export", (dir / "swapped.jsonl").string()});
    CHECK(r.exit_code == 3);
    CHECK(r.output.find("reordered") != std::string::npos);

    auto edited = lines;
    const auto at = edited[a + 3].find("14200");
    REQUIRE(at != std::string::npos);
    edited[a + 3].replace(at, 5, "14300");
    write_lines(dir / "edited.jsonl", edited);
    r = tool(dir, {"verify-evidence", "--export", (dir / "edited.jsonl").string()});
    CHECK(r.exit_code == 3);
    CHECK(r.output.find("altered") != std::string::npos);

    write_lines(dir / "garbage.jsonl", {"<html>502 Bad Gateway</html>"});
    r = tool(dir, {"verify-evidence", "--export", (dir / "garbage.jsonl").string()});
    CHECK(r.exit_code == 1);
    CHECK(r.output.find("line 1") != std::string::npos);
  }
}

TEST_CASE(
    "outbox command: list, show and retry work while the agent runs, and bad usage is clear") {
  TempDir dir("wl-outbox-cmd");
  AgentProcess agent(dir, {});
  for (int i = 1; i <= 4; ++i) {
    REQUIRE(post_json(agent.http, "/v1/mutations", "m-" + std::to_string(i),
                      R"({"kind":"note.added","payload":{"n":)" + std::to_string(i) + "}}")
                .status == 202);
  }
  auto listed = tool(dir, {"outbox", "list", "--json"});
  REQUIRE_MESSAGE(listed.exit_code == 0, listed.output);
  std::istringstream in(listed.output);
  int rows = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.front() != '{') continue;
    auto o = json::parse(line).as_object();
    ++rows;
    CHECK(o.at("seq") == rows);
    CHECK(o.at("state") == "pending");
  }
  CHECK(rows == 4);
  auto table = tool(dir, {"outbox", "list", "--after", "2"});
  CHECK(table.output.find("m-3") != std::string::npos);
  CHECK(table.output.find("m-1") == std::string::npos);

  // A mutation the backend rejected (dead-lettered) is released by the command; the running
  // agent sees it at once through its own API.
  tamper(dir,
         "UPDATE mutations SET state='dead', outcome='rejected', last_error='bad plate' "
         "WHERE seq=2");
  auto dead = body_of(http_request(agent.http, "GET", "/v1/outbox?state=dead"));
  REQUIRE(dead.at("items").as_array().size() == 1);
  auto not_dead = tool(dir, {"outbox", "retry", "m-1"});
  CHECK(not_dead.exit_code == 1);
  CHECK(not_dead.output.find("not dead") != std::string::npos);
  auto retried = tool(dir, {"outbox", "retry", "2"});
  INFO(retried.output);
  CHECK(retried.exit_code == 0);
  CHECK(retried.output.find("released m-2") != std::string::npos);
  CHECK(body_of(http_request(agent.http, "GET", "/v1/outbox?state=dead"))
            .at("items")
            .as_array()
            .empty());
  // The agent keeps accepting while the tools use the file.
  CHECK(post_json(agent.http, "/v1/mutations", "m-5", R"({"kind":"note.added","payload":{}})")
            .status == 202);
  CHECK(tool(dir, {"verify-evidence"}).exit_code == 0);

  CHECK(tool(dir, {"outbox", "show", "no-such-key"}).exit_code == 1);
  CHECK(tool(dir, {"outbox", "retry"}).exit_code == 2);
  CHECK(tool(dir, {"outbox", "frobnicate"}).exit_code == 2);
  CHECK(tool(dir, {"outbox", "list", "--state", "lost"}).exit_code == 2);
  TempDir empty("wl-outbox-empty");
  auto missing = tool(empty, {"outbox", "list"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.output.find("no outbox at") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(empty / "data" / "outbox.db"));  // never created
}

TEST_CASE("outbox: acknowledged rows are pruned once the backend's durable_seq passes them") {
  TempDir dir("wl-prune");
  StationBackend backend(dir);
  const auto& pg = backend.pg();
  const std::string config = "hello_interval_ms: 1000\noutbox:\n  min_retention_days: 0\n";
  AgentProcess agent(dir, backend.agent_args(), config);
  for (int i = 1; i <= 20; ++i) {
    REQUIRE(post_json(agent.http, "/v1/mutations", "p-" + std::to_string(i),
                      R"({"kind":"note.added","payload":{"n":)" + std::to_string(i) + "}}")
                .status == 202);
  }
  auto status = [&] { return agent_status(agent.http); };
  REQUIRE(eventually([&] { return status().at("outbox").at("acknowledged") == 20; }, 20s));
  // Acknowledged is not enough: nothing goes before a verified backup holds it.
  REQUIRE(hello_after_now(agent.http));
  CHECK(status().at("outbox").at("rows") == 20);

  // A verified backup now holds seq 1..12 (what verify-backup records for the station).
  CHECK(pg.query_scalar(
            "UPDATE stations SET durable_seq = 12 WHERE id = 'st-1' RETURNING durable_seq") ==
        "12");
  REQUIRE(eventually([&] { return status().at("outbox").at("pruned_through_seq") == 12; }, 10s));
  auto s = status().at("outbox").as_object();
  CHECK(s.at("rows") == 8);
  CHECK(s.at("last_seq") == 20);
  auto rows = body_of(http_request(agent.http, "GET", "/v1/outbox?limit=100")).at("items");
  CHECK(rows.as_array().front().at("seq") == 13);
  CHECK(tool(dir, {"verify-evidence"}).exit_code == 0);
  auto metrics = http_request(agent.http, "GET", "/metrics").body;
  CHECK(metrics.find("weighlink_agent_outbox_pruned_through_seq 12") != std::string::npos);

  // Pruned is not gone: the evidence archive keeps them, retrievable and verifiable by seq, over
  // the API and with the command beside the running agent.
  auto range = body_of(http_request(agent.http, "GET", "/v1/records?from=11&to=14")).at("items");
  REQUIRE(range.as_array().size() == 4);
  CHECK(range.as_array().at(1).at("archived") == true);
  CHECK(range.as_array().at(2).at("archived") == false);
  CHECK(range.as_array().at(1).at("payload").at("n") == 12);
  const auto check = body_of(http_request(agent.http, "GET", "/v1/records/5/verify"));
  CHECK(check.at("ok") == true);
  CHECK(check.at("archived") == true);
  const auto chain = body_of(http_request(agent.http, "GET", "/v1/evidence"));
  CHECK(chain.at("ok") == true);
  CHECK(chain.at("checked") == 20);
  CHECK(chain.at("archived") == 12);
  CHECK(status().at("evidence").at("archived_records") == 12);
  const auto listed = tool(dir, {"records", "--from", "1", "--to", "20", "--json", "--verify"});
  CHECK(listed.exit_code == 0);
  CHECK(std::count(listed.output.begin(), listed.output.end(), '\n') == 20);
  CHECK(listed.output.find("\"ok\":false") == std::string::npos);

  // Numbering and the chain continue after a restart with the pruned prefix gone.
  CHECK(agent.process->terminate() == 0);
  AgentProcess again(dir, backend.agent_args(), config);
  auto r = post_json(again.http, "/v1/mutations", "p-21", R"({"kind":"note.added","payload":{}})");
  REQUIRE(r.status == 202);
  CHECK(body_of(r).at("seq") == 21);
  REQUIRE(eventually(
      [&] {
        return pg.query_scalar("select count(*) from mutation_log where station_id='st-1'") == "21";
      },
      20s));
  CHECK(tool(dir, {"verify-evidence"}).exit_code == 0);
}

TEST_CASE("outbox: retention keeps acknowledged rows younger than min_retention_days") {
  TempDir dir("wl-retain");
  StationBackend backend(dir);
  CHECK(backend.pg().query_scalar(
            "UPDATE stations SET durable_seq = 100 WHERE id = 'st-1' RETURNING 1") == "1");
  AgentProcess agent(dir, backend.agent_args(),
                     "hello_interval_ms: 1000\noutbox:\n  min_retention_days: 1\n");
  for (int i = 1; i <= 5; ++i) {
    REQUIRE(post_json(agent.http, "/v1/mutations", "r-" + std::to_string(i),
                      R"({"kind":"note.added","payload":{}})")
                .status == 202);
  }
  auto status = [&] { return agent_status(agent.http); };
  REQUIRE(eventually([&] { return status().at("outbox").at("acknowledged") == 5; }, 20s));
  // A Hello since, with durable_seq 100: the rows were looked at and kept for their age.
  REQUIRE(hello_after_now(agent.http));
  CHECK(status().at("uplink").at("durable_seq") == 100);
  CHECK(status().at("outbox").at("rows") == 5);
  CHECK(status().at("outbox").at("pruned_through_seq") == 0);
}

TEST_CASE("evidence: the backend verifies the agent's signatures with the registered station key") {
  TempDir dir("wl-evidence");
  StationBackend backend(dir);
  PtyScale pty(dir / "scale");
  StreamingScale scale(pty, mt_frame("6100"));
  std::vector<std::string> args{"--scale-source", "serial:" + pty.path()};
  for (const auto& a : backend.agent_args()) args.push_back(a);
  AgentProcess agent(dir, args, "capture_timeout_ms: 3000\n");
  // The agent made its key on first start; the operator registers that file with the backend.
  const auto key_file = dir / "data" / "station.key";
  REQUIRE(std::filesystem::exists(key_file));
  backend.set_key(key_file);

  auto cap = post_json(agent.http, "/v1/captures", "cap-1",
                       R"({"scale":"main","operator":"op-7","timeout_ms":3000})");
  REQUIRE_MESSAGE(cap.status == 202, cap.body);
  return_to_zero(scale, agent.http, "6100");  // the next vehicle
  const std::string axles = "/v1/axle-sessions/main";
  REQUIRE(post_json(agent.http, axles + "/start", "", R"({"expected_axles":2})").status == 200);
  auto a1 = post_json(agent.http, axles + "/axles", "a-1", "{}");
  REQUIRE_MESSAGE(a1.status == 200, a1.body);
  scale.set(mt_frame("8200"));
  auto a2 = post_json(agent.http, axles + "/axles", "a-2", "{}");
  REQUIRE_MESSAGE(a2.status == 200, a2.body);
  auto done = post_json(agent.http, axles + "/complete", "axle-1", R"({"operator":"op-7"})");
  REQUIRE_MESSAGE(done.status == 202, done.body);
  REQUIRE(post_json(agent.http, "/v1/mutations", "note-1",
                    R"({"kind":"note.added","payload":{"text":"x"}})")
              .status == 202);

  const auto& pg = backend.pg();
  REQUIRE(eventually(
      [&] {
        return pg.query_scalar(
                   "select count(*) from mutation_log where outcome='applied' and "
                   "kind <> 'weighlink.audit_event'") == "3";
      },
      30s));
  // The audit events of the first start may have reached the backend before the key was
  // registered; everything after it is verified.
  CHECK(pg.query_scalar("select count(*) from mutation_log where not signature_verified and "
                        "kind <> 'weighlink.audit_event'") == "0");
  const auto unverified =
      pg.query_scalar("select count(*) from mutation_log where not signature_verified");
  CHECK(pg.query_scalar("select weighing_type || ' ' || weight::text from weighings where "
                        "idempotency_key='cap-1'") == "static 6100");
  CHECK(pg.query_scalar("select weighing_type || ' ' || gvw::text from weighings where "
                        "idempotency_key='axle-1'") == "axle 14300");
  CHECK(pg.query_scalar("select string_agg(axle || ':' || weight::text, ' ' order by axle) from "
                        "weighing_axles where idempotency_key='axle-1'") == "1:6100 2:8200");
  CHECK(pg.query_scalar("select count(*) from weighing_axles where reading_seq is null or raw is "
                        "null or captured_ts is null") == "0");

  // What the backend stored is what the agent's outbox shows.
  for (const std::string key : {"cap-1", "axle-1", "note-1"}) {
    auto shown = tool(dir, {"outbox", "show", key});
    REQUIRE_MESSAGE(shown.exit_code == 0, shown.output);
    const auto row = json::parse(last_line(shown.output)).as_object();
    const auto& evidence = row.at("evidence").as_object();
    const std::string where = "from mutation_log where idempotency_key='" + key + "'";
    CHECK(pg.query_scalar("select record_hash " + where) == evidence.at("hash").as_string());
    CHECK(pg.query_scalar("select signature " + where) == evidence.at("signature").as_string());
    CHECK(pg.query_scalar("select prev_hash " + where) == evidence.at("prev_hash").as_string());
    CHECK(pg.query_scalar("select seq " + where) == std::to_string(row.at("seq").as_int64()));
  }
  const auto metrics = http_request(backend.http(), "GET", "/metrics").body;
  CHECK(metrics.find("weighlink_backend_unsigned_mutations_total " + unverified + "\n") !=
        std::string::npos);
  CHECK(agent.process->terminate() == 0);

  // An inspector checks any station's record at the backend: signature and chain link.
  auto verify = [&](int seq) {
    return run({bin("weighlink-backend"), "records", "verify", "--dsn", pg.dsn(), "--station",
                "st-1", "--seq", std::to_string(seq)});
  };
  // The three records after the audit events of the first start, in seq order.
  const auto seq_of = [&](const std::string& key) {
    return std::stoi(
        pg.query_scalar("select seq from mutation_log where idempotency_key='" + key + "'"));
  };
  const int first = seq_of("cap-1");
  const int axle = seq_of("axle-1");
  const int note = seq_of("note-1");
  REQUIRE(axle == first + 1);
  REQUIRE(note == axle + 1);
  for (int seq : {first, axle, note}) {
    const auto r = verify(seq);
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    const auto report = json::parse(last_line(r.output)).as_object();
    CHECK(report.at("ok") == true);
    CHECK(report.at("chain_ok") == true);
    CHECK(report.at("hash_verified_on_arrival") == true);
    // The hash recomputed from the exact text the agent signed (payload_text) and the columns.
    CHECK(report.at("hash_ok") == true);
  }
  CHECK(verify(note + 100).exit_code == 1);
  const auto problem_codes = [](const json::value& report) {
    std::string codes;
    for (const auto& p : report.at("problems").as_array()) {
      codes += std::string(p.at("code").as_string()) + "@" + std::to_string(p.at("seq").as_int64());
    }
    return codes;
  };
  const auto where_seq = [](int seq) { return " where seq = " + std::to_string(seq); };
  // The payload is stored once (schema v7): the signed text, no jsonb beside it.
  CHECK(pg.query_scalar("select payload is null and payload_text is not null from mutation_log" +
                        where_seq(first)) == "t");
  // A row that holds both (recorded before v7) whose jsonb someone edited: it no longer says
  // what the signed text says.
  REQUIRE(pg.query_scalar("update mutation_log set payload = jsonb_set(payload_text::jsonb, "
                          "'{weight}', '\"9999\"')" +
                          where_seq(first) + " returning 1") == "1");
  auto edited = verify(first);
  CHECK_MESSAGE(edited.exit_code == 3, edited.output);
  auto report = json::parse(last_line(edited.output));
  CHECK(report.at("hash_ok") == false);
  CHECK(report.at("signature_ok") == true);
  CHECK(report.at("idempotency_key") == "cap-1");
  CHECK(problem_codes(report) == "altered@" + std::to_string(first));
  // Put back as it was (jsonb of the signed text), it verifies again.
  REQUIRE(pg.query_scalar("update mutation_log set payload = payload_text::jsonb" +
                          where_seq(first) + " returning 1") == "1");
  CHECK(verify(first).exit_code == 0);
  // ... or edits the signed text itself (and the jsonb with it): the hash no longer matches.
  REQUIRE(pg.query_scalar("update mutation_log set payload_text = replace(payload_text, "
                          "'\"x\"', '\"y\"'), payload = '{\"text\":\"y\"}'" +
                          where_seq(note) + " returning 1") == "1");
  edited = verify(note);
  CHECK_MESSAGE(edited.exit_code == 3, edited.output);
  report = json::parse(last_line(edited.output));
  CHECK(report.at("hash_ok") == false);
  CHECK(report.at("idempotency_key") == "note-1");
  CHECK(problem_codes(report) == "altered@" + std::to_string(note));
  // A row recorded before the text was kept (NULL): the hash is unknown, and said so.
  REQUIRE(pg.query_scalar("update mutation_log set payload_text = null, payload = "
                          "'{\"text\":\"x\"}'" +
                          where_seq(note) + " returning 1") == "1");
  const auto old_row = verify(note);
  CHECK_MESSAGE(old_row.exit_code == 0, old_row.output);
  report = json::parse(last_line(old_row.output));
  CHECK(report.at("hash_ok").is_null());
  CHECK(report.at("hash_unknown_reason").as_string().size() > 0);
  // Someone with the database swaps a record's hash: its signature and the next link break.
  REQUIRE(pg.query_scalar("update mutation_log set record_hash = repeat('ab', 32) where seq = " +
                          std::to_string(axle) + " returning 1") == "1");
  const auto bad = verify(axle);
  CHECK(bad.exit_code == 3);
  CHECK(json::parse(last_line(bad.output)).at("signature_ok") == false);
  const auto next = verify(note);
  CHECK(next.exit_code == 3);
  CHECK(json::parse(last_line(next.output)).at("chain_ok") == false);
}

TEST_CASE("outbox: a station reinstalled while offline replays its captures above the old seqs") {
  // The station PC is reinstalled (new disk, new outbox, new station key) while the link is down.
  // Its new outbox numbers from 1, but the backend holds seqs 1-10 from the earlier
  // installation: at the first contact the agent renumbers what it queued, signs it again, and
  // everything lands, each once.
  TempDir dir("wl-reinstall");
  StationBackend backend(dir);
  const auto& pg = backend.pg();
  const auto count = [&](const std::string& where = "true") {
    return pg.query_scalar("select count(*) from mutation_log where station_id='st-1' and " +
                           where);
  };
  auto post_notes = [](const AgentProcess& agent, const std::string& prefix, int n) {
    for (int i = 1; i <= n; ++i) {
      auto r = post_json(agent.http, "/v1/mutations", prefix + std::to_string(i),
                         R"({"kind":"note.added","payload":{"n":)" + std::to_string(i) + "}}");
      REQUIRE(r.status == 202);
      CHECK(body_of(r).at("seq") == i);
    }
  };
  {
    TempDir first("wl-install-1");
    AgentProcess agent(first, backend.agent_args());
    post_notes(agent, "old-", 10);
    REQUIRE(eventually([&] { return count() == "10"; }, 20s));
    CHECK(agent.process->terminate() == 0);
  }
  TempDir second("wl-install-2");
  {
    AgentProcess offline(second, {});  // no link yet
    post_notes(offline, "new-", 4);
    CHECK(offline.process->terminate() == 0);
  }
  backend.set_key(second / "data" / "station.key");  // the technician registers the new key
  AgentProcess agent(second, backend.agent_args(), "hello_interval_ms: 1000\n");
  REQUIRE_MESSAGE(eventually([&] { return count() == "14"; }, 20s), agent.process->log());
  CHECK(pg.query_scalar("select string_agg(idempotency_key || ':' || seq, ' ' order by seq) from "
                        "mutation_log where idempotency_key like 'new-%'") ==
        "new-1:11 new-2:12 new-3:13 new-4:14");
  CHECK(count("outcome <> 'applied'") == "0");
  CHECK(count("idempotency_key like 'new-%' and not signature_verified") == "0");
  REQUIRE(
      eventually([&] { return agent_status(agent.http).at("outbox").at("pending") == 0; }, 10s));
  CHECK(agent_status(agent.http).at("outbox").at("dead") == 0);
  CHECK(agent.process->log().find("earlier installation") != std::string::npos);
  const auto verified = tool(second, {"verify-evidence"});
  CHECK_MESSAGE(verified.exit_code == 0, verified.output);
  // Numbering goes on from there.
  auto next =
      post_json(agent.http, "/v1/mutations", "new-5", R"({"kind":"note.added","payload":{}})");
  REQUIRE(next.status == 202);
  CHECK(body_of(next).at("seq") == 15);
  CHECK(agent.process->terminate() == 0);
}
