// The records routes (GET /v1/records, /v1/records/{seq}, /v1/records/{seq}/verify,
// /v1/evidence, the `evidence` status) and `weighlink-agent records` over a real outbox in a temp
// dir, pruned into its evidence archive and altered the way someone with the file would.
#include "weighlink/agent/records.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "core_fixture.hpp"
#include "fake_io.hpp"
#include "weighlink/agent/agent.hpp"
#include "weighlink/agent/api.hpp"
#include "weighlink/agent/config.hpp"
#include "weighlink/agent/tools.hpp"
#include "weighlink/record/evidence.hpp"
#include "weighlink/testing/process.hpp"

namespace json = boost::json;
using namespace weighlink;
using namespace weighlink::agent;

namespace {

// A station's data directory with its key, an outbox of `n` weighings (seq i created at i s), the
// first `pruned` acknowledged and pruned into the archive, and the records routes over it.
struct Records {
  explicit Records(int n, std::uint64_t pruned, std::uint64_t max_archive_mb = 512) {
    config.data_dir = dir.path();
    config.station_id = "st-1";
    config.evidence.max_archive_mb = max_archive_mb;
    REQUIRE(record::create_station_key(station_key_path(config).string()).has_value());
    key = record::read_station_key(station_key_path(config).string()).value();
    sync::OutboxOptions options;
    options.station_id = config.station_id;
    options.signing_key = key;
    apply_evidence_options(config.evidence, options);
    outbox = sync::Outbox::open(outbox_path(config), options).value();
    for (int i = 1; i <= n; ++i) {
      sync::NewMutation m;
      m.idempotency_key = "cap-" + std::to_string(i);
      m.kind = "weighing.captured";
      m.payload_json = R"({"scale":"main","weight":")" + std::to_string(1000 + i) +
                       R"(","unit":"kg","reading_seq":)" + std::to_string(40 + i) +
                       R"(,"raw":"ST,GS,  )" + std::to_string(1000 + i) +
                       R"( kg","evidence":{"frames":[{"seq":40,"raw":"ST,GS,  1000 kg"}]}})";
      m.request_hash = "h" + std::to_string(i);
      m.created_at_ms = std::int64_t{i} * 1000;
      REQUIRE(outbox->enqueue_wait(m).status == sync::EnqueueStatus::accepted);
    }
    std::vector<sync::MutationOutcome> acks;
    for (std::uint64_t seq = 1; seq <= pruned; ++seq) acks.push_back({seq, {}, {}});
    REQUIRE(outbox->mark_results(acks, 50'000).has_value());
    REQUIRE(outbox->prune(pruned, 1'000'000).value().rows == pruned);
    ApiContext ctx;
    ctx.outbox = outbox.get();
    ctx.post = io.post();
    routes = make_records_routes(config, key, ctx);
  }
  ~Records() {
    routes.reset();
    outbox->close();
  }

  HttpResponse get(const std::string& target) {
    HttpRequest r;
    r.method = "GET";
    r.target = target;
    const auto path = target.substr(0, target.find('?'));
    std::optional<HttpResponse> answer;
    Respond respond = [&answer](HttpResponse a) { answer = std::move(a); };
    REQUIRE(routes->handle(r, path, "cid-1", respond));
    REQUIRE(io.run_until([&] { return answer.has_value(); }));
    return *answer;
  }
  json::object body(const std::string& target, int status = 200) {
    const auto r = get(target);
    CHECK_MESSAGE(r.status == status, r.body);
    return json::parse(r.body).as_object();
  }
  void alter(const char* sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(outbox_path(config).c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }

  weighlink::testing::TempDir dir;
  weighlink::agent::testing::FakeIo io;
  AgentConfig config;
  std::vector<unsigned char> key;
  std::unique_ptr<sync::Outbox> outbox;
  std::unique_ptr<ApiRoutes> routes;
};

}  // namespace

TEST_CASE("records: retrieved by seq and by range from the outbox and the evidence archive") {
  Records st(5, 3);
  auto page = st.body("/v1/records?from=2&to=5&limit=2");
  auto items = page["items"].as_array();
  REQUIRE(items.size() == 2);
  CHECK(items[0].at("seq") == 2);
  CHECK(items[0].at("archived") == true);
  CHECK(items[1].at("seq") == 3);
  CHECK(page["next_from"] == 4);
  page = st.body("/v1/records?from=4&to=5&limit=2");
  items = page["items"].as_array();
  REQUIRE(items.size() == 2);
  CHECK(items[0].at("archived") == false);
  CHECK(page["next_from"].is_null());

  // One record as stored: the payload's exact JSON, its chain fields.
  const auto one = st.body("/v1/records/1");
  CHECK(one.at("archived") == true);
  CHECK(one.at("kind") == "weighing.captured");
  CHECK(one.at("payload").at("weight") == "1001");
  CHECK(one.at("state") == "acknowledged");
  CHECK(one.at("record_hash").as_string().size() == 64);
  CHECK(one.at("prev_hash").as_string() == record::kGenesisHash);

  const auto missing = st.body("/v1/records/99", 404);
  CHECK(missing.at("error") == "record_not_found");
  CHECK(st.body("/v1/records?from=x", 400).at("error") == "invalid_from");
  CHECK(st.body("/v1/records?from=5&to=2", 400).at("error") == "invalid_range");
  CHECK(st.body("/v1/records/abc", 404).at("error") == "not_found");

  // Past the retention period (92 days) the archive lets the oldest go, and says so.
  REQUIRE(st.outbox->trim_archive(std::int64_t{93} * 86'400'000).value().rows == 3);
  const auto gone = st.body("/v1/records/2", 404);
  CHECK(gone.at("error") == "record_pruned");
  CHECK(std::string(gone.at("message").as_string()).find("retention") != std::string::npos);
  CHECK(st.body("/v1/records/4").at("archived") == false);
}

TEST_CASE("records: an altered record is flagged by its verification, the chain's and the CLI") {
  Records st(5, 3);
  auto ok = st.body("/v1/records/2/verify");
  CHECK(ok.at("ok") == true);
  CHECK(ok.at("archived") == true);
  CHECK(ok.at("reading").at("reading_seq") == 42);
  CHECK(ok.at("reading").at("raw") == "ST,GS,  1002 kg");
  CHECK(ok.at("reading").at("frames").as_array().size() == 1);
  auto chain = st.body("/v1/evidence");
  CHECK(chain.at("ok") == true);
  CHECK(chain.at("checked") == 5);
  CHECK(chain.at("archived") == 3);
  CHECK(chain.at("head_seq") == 5);

  // Someone with the file raises a weight in the archive and in the outbox.
  st.alter(
      "UPDATE archive SET payload = replace(payload, '\"1002\"', '\"1202\"') WHERE seq = 2;"
      "UPDATE mutations SET payload = replace(payload, '\"1004\"', '\"1404\"') WHERE seq = 4;");
  for (const char* target : {"/v1/records/2/verify", "/v1/records/4/verify"}) {
    const auto bad = st.body(target);
    CHECK(bad.at("ok") == false);
    CHECK(bad.at("hash_ok") == false);
    CHECK(bad.at("signature_ok") == true);
    CHECK(bad.at("problems").as_array().at(0).at("code") == "altered");
  }
  CHECK(st.body("/v1/records/3/verify").at("ok") == true);
  chain = st.body("/v1/evidence");
  CHECK(chain.at("ok") == false);
  const auto& problems = chain.at("problems").as_array();
  REQUIRE(problems.size() >= 2);
  CHECK(problems.at(0).at("code") == "altered");
  CHECK(problems.at(0).at("seq") == 2);

  // weighlink-agent records --verify and verify-evidence say the same, from the file.
  std::ostringstream out, err;
  RecordsCommand c;
  c.from = 1;
  c.to = 5;
  c.verify = true;
  CHECK(run_records_command(st.config, c, out, err) == 0);
  CHECK(out.str().find("NOT VERIFIED [altered]") != std::string::npos);
  std::istringstream lines(out.str());
  int rows = 0;
  for (std::string line; std::getline(lines, line);) ++rows;
  CHECK(rows == 5);
  std::ostringstream vout, verr;
  CHECK(run_verify_evidence(st.config, VerifyEvidenceCommand{}, vout, verr) == 3);
  CHECK(vout.str().find("seq 2: altered") != std::string::npos);
}

TEST_CASE("records: the CLI's range, usage and JSON") {
  Records st(4, 2);
  std::ostringstream out, err;
  RecordsCommand c;
  c.from = 2;
  c.to = 3;
  c.json = true;
  REQUIRE(run_records_command(st.config, c, out, err) == 0);
  std::istringstream lines(out.str());
  std::string line;
  REQUIRE(std::getline(lines, line));
  CHECK(json::parse(line).at("archived") == true);
  REQUIRE(std::getline(lines, line));
  CHECK(json::parse(line).at("seq") == 3);
  CHECK(json::parse(line).at("archived") == false);
  CHECK_FALSE(std::getline(lines, line));

  c.from = 5;
  c.to = 1;
  CHECK(run_records_command(st.config, c, out, err) == 2);
  c.from = 10;
  c.to = 12;
  CHECK(run_records_command(st.config, c, out, err) == 1);
  CHECK(err.str().find("no record") != std::string::npos);
}

TEST_CASE("records: the archive's use in /v1/status and /metrics, with the alarm at 80 %") {
  Records st(3, 3, 1);  // a 1 MiB cap
  json::object status;
  st.routes->status(status);
  auto evidence = status.at("evidence").as_object();
  CHECK(evidence.at("retention_days") == 92);
  CHECK(evidence.at("archived_records") == 3);
  CHECK(evidence.at("max_archive_bytes") == 1024 * 1024);
  CHECK(evidence.at("alarm") == false);

  // 900 kB more records pass into the archive: 80 % of the cap.
  for (int i = 4; i <= 12; ++i) {
    sync::NewMutation m;
    m.idempotency_key = "big-" + std::to_string(i);
    m.kind = "weighing.captured";
    m.payload_json = R"({"note":")" + std::string(100'000, 'x') + R"("})";
    m.request_hash = "b";
    m.created_at_ms = 1000;
    REQUIRE(st.outbox->enqueue_wait(m).status == sync::EnqueueStatus::accepted);
    REQUIRE(st.outbox
                ->mark_results(std::vector<sync::MutationOutcome>{{std::uint64_t(i), {}, {}}}, 2000)
                .has_value());
  }
  REQUIRE(st.outbox->prune(12, 1'000'000).value().rows == 9);
  status = {};
  st.routes->status(status);
  evidence = status.at("evidence").as_object();
  CHECK(evidence.at("alarm") == true);
  CHECK(evidence.at("used_percent").as_uint64() >= 80);
  std::string metrics;
  st.routes->metrics(metrics);
  CHECK(metrics.find("weighlink_agent_evidence_alarm 1") != std::string::npos);
  CHECK(metrics.find("weighlink_agent_record_readback_failures_total 0") != std::string::npos);
}

TEST_CASE("records: a record that reads back different is answered 500 record_readback_failed") {
  weighlink::agent::testing::Station st;
  auto& api = st.api();
  // Something between the agent and the disk changes what is stored.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((st.dir.path() / "outbox.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "CREATE TRIGGER garble AFTER INSERT ON mutations BEGIN UPDATE mutations "
                       "SET payload = replace(payload, '41', '91') WHERE seq = NEW.seq; END;",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  HttpRequest r;
  r.method = "POST";
  r.target = "/v1/mutations";
  r.headers = {
      {"host", "127.0.0.1:8420"}, {"content-type", "application/json"}, {"idempotency-key", "n-1"}};
  r.body = R"({"kind":"note.added","payload":{"n":41}})";
  std::optional<HttpResponse> answer;
  api.handle(r, [&answer](HttpResponse a) { answer = std::move(a); });
  REQUIRE(st.io.run_until([&] { return answer.has_value(); }));
  CHECK(answer->status == 500);
  const auto b = json::parse(answer->body).as_object();
  CHECK(b.at("error") == "record_readback_failed");
  CHECK(std::string(b.at("message").as_string()).find("payload") != std::string::npos);
  CHECK(st.outbox->stats().readback_failures == 1);
}

TEST_CASE("records: config evidence is read, and a bad value names the file, the key and why") {
  weighlink::testing::TempDir dir;
  const auto file = dir.path() / "agent.yaml";
  auto load = [&](const std::string& text) {
    std::ofstream(file) << text;
    return load_config_file(file);
  };
  CHECK(load("station_id: a\n").evidence.retention_days == 92);
  const auto c = load("evidence:\n  retention_days: 400\n  max_archive_mb: 64\n");
  CHECK(c.evidence.retention_days == 400);
  CHECK(c.evidence.max_archive_mb == 64);
  sync::OutboxOptions o;
  apply_evidence_options(c.evidence, o);
  CHECK(o.evidence_retention_ms == std::int64_t{400} * 86'400'000);
  CHECK(o.archive_max_bytes == std::uint64_t{64} * 1024 * 1024);
  auto refused = [&](const std::string& text, const std::string& expected) {
    try {
      (void)load(text);
      FAIL("accepted: " << text);
    } catch (const std::exception& e) {
      const std::string what = e.what();
      CHECK_MESSAGE(what.find(file.string()) != std::string::npos, what);
      CHECK_MESSAGE(what.find(expected) != std::string::npos, what);
    }
  };
  refused("evidence:\n  retention_days: 4000\n", "evidence.retention_days: must be");
  refused("evidence:\n  retention_days: soon\n", "evidence.retention_days: expected");
  refused("evidence:\n  max_archive_mb: 0\n", "evidence.max_archive_mb: must be");
  refused("evidence:\n  keep: 1\n", "evidence.keep: unknown key");
  refused("evidence: 92\n", "evidence: expected a mapping");
}
