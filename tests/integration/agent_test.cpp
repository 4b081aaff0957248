// The agent end to end on real parts: a pty scale, the real weighlink-agent binary, a real
// WebSocket client, a real weighlink-backend on a throwaway PostgreSQL cluster.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <fstream>
#include <random>
#include <sstream>

#include "agent_fixture.hpp"
#include "weighlink/testing/fault_proxy.hpp"
#include "weighlink/testing/pg_cluster.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using weighlink::testing::agent_status;
using weighlink::testing::bin;
using weighlink::testing::eventually;
using weighlink::testing::free_loopback_address;
using weighlink::testing::http_request;
using weighlink::testing::mt_frame;
using weighlink::testing::post_json;
using weighlink::testing::read_until;
using weighlink::testing::StreamingScale;
using weighlink::testing::TempDir;
using weighlink::testing::WsClient;

namespace {

using Agent = weighlink::testing::AgentProcess;

bool is_reading(const json::object& m, const char* weight) {
  return m.at("type") == "reading" && m.at("weight") == weight;
}

}  // namespace

TEST_CASE("agent: a frame written to the pty arrives decoded at a live socket client") {
  TempDir dir("wl-agent");
  weighlink::testing::PtyScale scale(dir / "scale");
  Agent agent(dir,
              {"--scale-source", "serial:" + scale.path(), "--scale-protocol", "mt-continuous"});
  WsClient ws(agent.http, "/v1/live");
  auto hello = read_until(ws, [](const json::object& m) { return m.at("type") == "hello"; });
  CHECK(hello.at("station_id") == "st-1");

  scale.write(mt_frame("32540"));
  auto reading = read_until(ws, [](const json::object& m) { return is_reading(m, "32540"); });
  CHECK(reading.at("scale") == "main");
  CHECK(reading.at("unit") == "kg");
  CHECK(reading.at("stable") == true);
  CHECK(reading.at("stale") == false);
  CHECK(reading.at("protocol") == "mt-continuous");
  CHECK(reading.at("seq").as_int64() >= 1);

  scale.write(mt_frame("32560", /*motion=*/true));
  auto moving = read_until(ws, [](const json::object& m) { return is_reading(m, "32560"); });
  CHECK(moving.at("stable") == false);
}

TEST_CASE("agent: garbage on the serial line does not crash it and the next good frame decodes") {
  TempDir dir("wl-agent");
  weighlink::testing::PtyScale scale(dir / "scale");
  Agent agent(dir,
              {"--scale-source", "serial:" + scale.path(), "--scale-protocol", "mt-continuous"});
  WsClient ws(agent.http, "/v1/live");
  std::mt19937 rng(42);
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>(rng() & 0xFF));
  garbage += std::string("\x02\x31\x30", 3);  // a frame start cut short
  INFO("agent log: " << agent.process->log());
  scale.write(garbage);
  scale.write(mt_frame("12340"));
  auto reading = read_until(ws, [](const json::object& m) { return is_reading(m, "12340"); });
  CHECK(reading.at("stable") == true);
  CHECK(agent.process->running());
  auto health = http_request(agent.http, "GET", "/healthz");
  CHECK(health.status == 200);
}

TEST_CASE("agent: Idempotency-Key rules: missing 400, reuse with another body 422, replay 200") {
  TempDir dir("wl-agent");
  Agent agent(dir, {});
  const std::string body = R"({"kind":"transaction.created","payload":{"plate":"KAA 123A"}})";

  auto missing = post_json(agent.http, "/v1/mutations", "", body);
  CHECK(missing.status == 400);
  CHECK(json::parse(missing.body).at("error") == "idempotency_key_missing");
  CHECK(!missing.headers["x-correlation-id"].empty());
  CHECK(json::parse(missing.body).at("correlation_id").as_string() ==
        missing.headers["x-correlation-id"]);

  auto first = post_json(agent.http, "/v1/mutations", "k-1", body);
  REQUIRE(first.status == 202);
  auto accepted = json::parse(first.body);
  CHECK(accepted.at("idempotency_key") == "k-1");
  CHECK(accepted.at("state") == "queued");
  CHECK(accepted.at("seq") == 1);

  auto again = post_json(agent.http, "/v1/mutations", "k-1", body);
  CHECK(again.status == 200);
  CHECK(json::parse(again.body) == accepted);

  auto reused = post_json(agent.http, "/v1/mutations", "k-1",
                          R"({"kind":"transaction.created","payload":{"plate":"KBB 999B"}})");
  CHECK(reused.status == 422);
  CHECK(json::parse(reused.body).at("error") == "idempotency_key_reused");

  auto not_json = http_request(agent.http, "POST", "/v1/mutations",
                               {{"Idempotency-Key", "k-2"}, {"Content-Type", "text/plain"}}, body);
  CHECK(not_json.status == 415);
  auto bad_json = post_json(agent.http, "/v1/mutations", "k-3", "{\"kind\":");
  CHECK(bad_json.status == 400);

  auto status = agent_status(agent.http);
  CHECK(status.at("outbox").at("pending") == 1);
  CHECK(status.at("uplink").at("state") == "disabled");
}

TEST_CASE("agent: requests from foreign origins and non-local Host names are refused") {
  TempDir dir("wl-agent");
  Agent agent(dir, {});
  auto rebinding = http_request(agent.http, "GET", "/v1/status", {{"Host", "evil.example:8420"}});
  CHECK(rebinding.status == 421);
  auto foreign = http_request(agent.http, "POST", "/v1/mutations",
                              {{"Origin", "https://evil.example"},
                               {"Content-Type", "application/json"},
                               {"Idempotency-Key", "x"}},
                              R"({"kind":"a","payload":{}})");
  CHECK(foreign.status == 403);
  auto preflight =
      http_request(agent.http, "OPTIONS", "/v1/mutations", {{"Origin", "https://evil.example"}});
  CHECK(preflight.status == 403);
  CHECK_THROWS(WsClient(agent.http, "/v1/live", {{"Origin", "https://evil.example"}}));
  auto own = http_request(agent.http, "GET", "/v1/status", {{"Origin", "http://" + agent.http}});
  CHECK(own.status == 200);
  auto page = http_request(agent.http, "GET", "/");
  CHECK(page.status == 200);
  CHECK(page.body.find("/v1/live") != std::string::npos);
}

TEST_CASE(
    "agent: 50 mutations accepted offline survive SIGKILL and reach PostgreSQL exactly once") {
  TempDir dir("wl-agent");
  const std::string dead_backend = free_loopback_address();  // nothing listens there
  weighlink::testing::write_secret_file(dir / "token", "not-yet-issued\n");
  std::vector<std::string> keys;
  {
    Agent agent(dir, {"--backend", dead_backend, "--station-token-file", (dir / "token").string()});
    for (int i = 0; i < 50; ++i) {
      keys.push_back("offline-" + std::to_string(i));
      auto r =
          post_json(agent.http, "/v1/mutations", keys.back(),
                    R"({"kind":"transaction.created","payload":{"n":)" + std::to_string(i) + "}}");
      REQUIRE(r.status == 202);
    }
    auto status = agent_status(agent.http);
    CHECK(status.at("outbox").at("pending") == 50);
    CHECK(status.at("uplink").at("state") != "online");
    agent.process->kill();  // SIGKILL: no chance to flush anything
  }

  weighlink::testing::StationBackend backend(dir);
  const auto& pg = backend.pg();
  Agent agent(dir, backend.agent_args());
  const auto count_sql = "select count(*) from mutation_log where station_id='st-1'";
  const bool all_there = eventually([&] { return pg.query_scalar(count_sql) == "50"; }, 30s, 100ms);
  REQUIRE_MESSAGE(all_there, agent.process->log());
  CHECK(pg.query_scalar("select count(distinct idempotency_key) from mutation_log") == "50");
  CHECK(pg.query_scalar("select min(seq) || '-' || max(seq) from mutation_log") == "1-50");

  REQUIRE(eventually(
      [&] {
        auto s = agent_status(agent.http);
        return s.at("outbox").at("pending") == 0 && s.at("uplink").at("state") == "online";
      },
      10s));

  // Posting the same keys again creates nothing new, here or in PostgreSQL.
  for (int i = 0; i < 50; ++i) {
    auto r =
        post_json(agent.http, "/v1/mutations", keys[i],
                  R"({"kind":"transaction.created","payload":{"n":)" + std::to_string(i) + "}}");
    CHECK(r.status == 200);
    CHECK(json::parse(r.body).at("seq") == i + 1);
  }
  auto status = agent_status(agent.http);
  CHECK(status.at("outbox").at("last_seq") == 50);
  CHECK(status.at("outbox").at("pending") == 0);
  // A new mutation after them: the outbox replays in seq order, so once it is in PostgreSQL
  // anything the repeats had queued would be there too.
  REQUIRE(post_json(agent.http, "/v1/mutations", "after-repeats",
                    R"({"kind":"transaction.created","payload":{"n":50}})")
              .status == 202);
  const auto after_sql = "select seq from mutation_log where idempotency_key='after-repeats'";
  REQUIRE(eventually([&] { return !pg.query_scalar(after_sql).empty(); }, 30s, 100ms));
  CHECK(pg.query_scalar(after_sql) == "51");
  CHECK(pg.query_scalar(count_sql) == "51");
  CHECK(agent.process->terminate() == 0);
  CHECK_FALSE(std::filesystem::exists(dir / "agent.ready"));
}

TEST_CASE("agent: clients connecting while readings stream get hello, then readings") {
  // Readings published during a client's WebSocket handshake must wait for it to finish
  // (writing during the handshake once aborted the agent).
  TempDir dir("wl-agent");
  weighlink::testing::PtyScale scale(dir / "scale");
  Agent agent(dir,
              {"--scale-source", "serial:" + scale.path(), "--scale-protocol", "mt-continuous"});
  StreamingScale indicator(scale, mt_frame("9100"), 1ms);
  for (int i = 0; i < 30; ++i) {
    WsClient ws(agent.http, "/v1/live");
    auto first = read_until(ws, [](const json::object&) { return true; });
    CHECK(first.at("type") == "hello");
    read_until(ws, [](const json::object& m) { return is_reading(m, "9100"); });
  }
  indicator.stop();
  CHECK(agent.process->running());
}

TEST_CASE("agent: a backend that takes small batches gets them, and every mutation lands once") {
  TempDir dir("wl-agent");
  {
    Agent offline(dir, {});
    for (int i = 0; i < 60; ++i) {
      REQUIRE(post_json(offline.http, "/v1/mutations", "b-" + std::to_string(i),
                        R"({"kind":"note.added","payload":{"n":)" + std::to_string(i) + "}}")
                  .status == 202);
    }
    CHECK(offline.process->terminate() == 0);
  }
  // The backend refuses batches over 7 mutations; the agent starts with 50 and must adapt.
  weighlink::testing::StationBackend backend(dir, "st-1", {"--max-batch", "7"});
  Agent agent(dir, backend.agent_args());
  const auto count_sql = "select count(*) from mutation_log where station_id='st-1'";
  REQUIRE_MESSAGE(
      eventually([&] { return backend.pg().query_scalar(count_sql) == "60"; }, 30s, 100ms),
      agent.process->log());
  CHECK(backend.pg().query_scalar(
            "select count(distinct idempotency_key) || '/' || min(seq) || '-' || max(seq) "
            "from mutation_log") == "60/1-60");
  auto status = agent_status(agent.http);
  CHECK(status.at("uplink").at("batch_size").as_int64() <= 7);
  const auto metrics = http_request(backend.http(), "GET", "/metrics").body;
  CHECK(metrics.find("weighlink_backend_oversize_total 0\n") == std::string::npos);
}

TEST_CASE("agent: a batch waiting for its answer is counted in flight, and still pending") {
  // A slow link (1.5 s each way through a loopback proxy): the mutations posted while the first
  // Hello is in the air go in one batch, shown as in flight while its answer is on the way.
  TempDir dir("wl-agent");
  weighlink::testing::StationBackend backend(dir);
  weighlink::testing::FaultProxy proxy(backend.grpc());
  proxy.set_delay(1500ms);
  proxy.set_mode(weighlink::testing::FaultMode::delay);
  Agent agent(dir, backend.agent_args(proxy.address()));
  for (int i = 0; i < 5; ++i) {
    REQUIRE(post_json(agent.http, "/v1/mutations", "f-" + std::to_string(i),
                      R"({"kind":"note.added","payload":{}})")
                .status == 202);
  }
  json::object seen;
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        seen = agent_status(agent.http);
                        return seen.at("uplink").at("in_flight") == 5;
                      },
                      20s, 20ms),
                  agent.process->log());
  CHECK(seen.at("outbox").at("pending") == 5);  // on disk, pending until the answer
  REQUIRE(eventually(
      [&] {
        seen = agent_status(agent.http);
        return seen.at("outbox").at("acknowledged") == 5;
      },
      20s));
  CHECK(seen.at("uplink").at("in_flight") == 0);
  CHECK(backend.pg().query_scalar("select count(*) from mutation_log") == "5");
}

TEST_CASE("agent: a rotated token written to the token file is picked up with no restart") {
  TempDir dir("wl-agent");
  weighlink::testing::StationBackend backend(dir);
  std::string old_token;
  std::getline(std::ifstream(backend.token_file()), old_token);
  Agent agent(dir, backend.agent_args(), "hello_interval_ms: 1000\n");
  const auto count_sql = "select count(*) from mutation_log where station_id='st-1'";
  REQUIRE(post_json(agent.http, "/v1/mutations", "t-1", R"({"kind":"note.added","payload":{}})")
              .status == 202);
  REQUIRE(eventually([&] { return backend.pg().query_scalar(count_sql) == "1"; }, 20s));

  const auto rotated = weighlink::testing::run({bin("weighlink-backend"), "station", "rotate-token",
                                                "--dsn", backend.pg().dsn(), "--id", "st-1"});
  REQUIRE_MESSAGE(rotated.exit_code == 0, rotated.output);
  const auto new_token = weighlink::testing::last_line(rotated.output);
  CHECK(new_token != old_token);
  // The old token is refused at once: the next mutation waits in the outbox.
  REQUIRE(post_json(agent.http, "/v1/mutations", "t-2", R"({"kind":"note.added","payload":{}})")
              .status == 202);
  REQUIRE(eventually(
      [&] {
        auto s = agent_status(agent.http);
        return s.at("uplink").at("state") == "offline";
      },
      20s));
  auto status = agent_status(agent.http);
  CHECK(std::string(status.at("uplink").at("last_error").as_string()).find("token") !=
        std::string::npos);
  CHECK(backend.pg().query_scalar(count_sql) == "1");

  // An emptied token file is logged with what to write there, not retried in silence.
  std::ofstream(backend.token_file(), std::ios::trunc) << "\n";
  CHECK(eventually(
      [&] { return agent.process->log().find("is empty; write the token") != std::string::npos; },
      20s));
  std::ofstream(backend.token_file(), std::ios::trunc) << new_token << "\n";
  REQUIRE_MESSAGE(eventually([&] { return backend.pg().query_scalar(count_sql) == "2"; }, 30s),
                  agent.process->log());
  // No token in any log line, old or new.
  std::ostringstream backend_log;
  backend_log << std::ifstream(dir / "backend.log").rdbuf();
  const auto logs = agent.process->log() + backend_log.str();
  CHECK(logs.find(old_token) == std::string::npos);
  CHECK(logs.find(new_token) == std::string::npos);
  CHECK(weighlink::testing::run({bin("weighlink-backend"), "station", "rotate-token", "--dsn",
                                 backend.pg().dsn(), "--id", "nope"})
            .exit_code == 1);
}
