// Disaster recovery end to end: real PostgreSQL, a real `weighlink-backend serve`, three real
// agents. The backend is backed up, takes more mutations, is stopped and restored from the older
// dump; when it is started again the agents find out by themselves (the generation changed, the
// high water is below what they hold acknowledged) and re-send what the dump lacks, so that every
// mutation is in PostgreSQL exactly once with no operator step (SPEC §5, §6).
//   st-a: mutations acknowledged after the backup, and more queued while the backend is down;
//   st-b: mutations acknowledged after the backup, then idle: only its periodic Hello can notice;
//   st-c: idle since before the backup: nothing lost, it only sees the new generation.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "agent_fixture.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;  // NOLINT(google-build-using-namespace)
using Clock = std::chrono::steady_clock;

namespace {

// A Hello every second and at most 500 ms between retries: the restore is noticed quickly.
constexpr const char* kAgentConfig =
    "hello_interval_ms: 1000\n"
    "replay_backoff_max_ms: 500\n";

// One station: its token, its agent (own data dir and log) and the keys it acknowledged.
struct Station {
  Station(const std::string& station_id, const PgCluster& pg, const std::string& grpc)
      : id(station_id) {
    weighlink::testing::write_secret_file(dir / "token",
                                          weighlink::testing::add_station(pg.dsn(), id) + "\n");
    agent = std::make_unique<AgentProcess>(
        dir,
        std::vector<std::string>{"--station-id", id, "--backend", grpc, "--station-token-file",
                                 (dir / "token").string()},
        kAgentConfig);
  }
  // `n` transaction.created mutations, each accepted durably (202).
  void post(const std::string& phase, int n) {
    for (int i = 0; i < n; ++i) {
      const std::string key = id + "-" + phase + "-" + std::to_string(i);
      const auto r = post_json(agent->http, "/v1/mutations", key,
                               R"({"kind":"transaction.created","payload":{"key":")" + key +
                                   R"(","n":)" + std::to_string(i) + "}}");
      REQUIRE_MESSAGE(r.status == 202, r.body);
      keys.insert(key);
    }
  }
  [[nodiscard]] json::object uplink() const {
    return agent_status(agent->http).at("uplink").as_object();
  }
  // The backend generation the agent last saw (GET /v1/status, uplink.generation).
  [[nodiscard]] std::string generation() const {
    return std::string(uplink().at("generation").as_string());
  }
  // Nothing pending or in flight, online, and its backend's high water at its last seq.
  [[nodiscard]] bool drained() const {
    const auto s = agent_status(agent->http);
    const auto& u = s.at("uplink");
    return s.at("outbox").at("pending") == 0 && u.at("state") == "online" &&
           u.at("in_flight") == 0 && u.at("high_water_seq").to_number<std::size_t>() == keys.size();
  }
  [[nodiscard]] std::string log() const { return weighlink::testing::read_file(dir / "agent.log"); }

  std::string id;
  TempDir dir{"wl-dr"};
  std::unique_ptr<AgentProcess> agent;
  std::set<std::string> keys;
};

std::string in_pg(const PgCluster& pg, const std::string& what, const std::string& station) {
  return pg.query_scalar("SELECT " + what + " FROM mutation_log WHERE station_id = '" + station +
                         "'");
}

// The station's mutations are in PostgreSQL exactly once: one row per key, seqs 1..N with no
// gap, N = what the agent acknowledged, the high water at N, the payload its own; the agent's
// outbox holds the same keys at seqs 1..N, all acknowledged.
void check_exactly_once(const PgCluster& pg, const Station& station) {
  CAPTURE(station.id);
  const auto n = std::to_string(station.keys.size());
  CHECK(in_pg(pg, "count(*)", station.id) == n);
  CHECK(in_pg(pg, "count(DISTINCT idempotency_key)", station.id) == n);
  CHECK(in_pg(pg, "min(seq) || '-' || max(seq) || '/' || count(DISTINCT seq)", station.id) ==
        "1-" + n + "/" + n);
  CHECK(in_pg(pg, "count(*) FILTER (WHERE payload->>'key' <> idempotency_key)", station.id) == "0");
  CHECK(pg.query_scalar("SELECT high_water_seq FROM stations WHERE id = '" + station.id + "'") ==
        n);
  std::set<std::string> keys;
  std::istringstream listed(in_pg(pg, "string_agg(idempotency_key, ' ')", station.id));
  for (std::string key; listed >> key;) keys.insert(key);
  CHECK(keys == station.keys);
  weighlink::testing::check_outbox(station.agent->http, station.keys, station.id + " outbox");
  const auto rows = weighlink::testing::outbox_rows(station.agent->http);
  CHECK(rows.size() == station.keys.size());
  for (const auto& row : rows) CHECK(row.at("state") == "acknowledged");
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

TEST_CASE("dr: restored from an older backup, the agents re-send what it lacks, exactly once") {
  const auto start = Clock::now();
  PgCluster pg;
  weighlink::testing::migrate(pg.dsn());
  TempDir dir("wl-dr");
  // A fixed address: the backend is stopped and started again where the agents look for it.
  const auto grpc = weighlink::testing::free_loopback_address();
  weighlink::testing::BackendServer backend(pg.dsn(), dir.path(), {}, grpc);
  std::map<std::string, std::unique_ptr<Station>> stations;
  for (const char* id : {"st-a", "st-b", "st-c"}) {
    stations[id] = std::make_unique<Station>(id, pg, grpc);
  }
  Station& a = *stations["st-a"];
  Station& b = *stations["st-b"];
  Station& c = *stations["st-c"];
  const auto all_drained = [&] { return a.drained() && b.drained() && c.drained(); };

  for (auto& [id, station] : stations) station->post("before", 100);
  REQUIRE(eventually(all_drained, 20s));
  const auto old_generation =
      pg.query_scalar("SELECT value FROM backend_meta WHERE key = 'generation'");
  for (auto& [id, station] : stations) CHECK(station->generation() == old_generation);

  const auto dump = weighlink::testing::backup(pg.dsn(), dir / "backups");

  // After the backup: st-a and st-b go on, and everything is acknowledged by the backend.
  a.post("after", 100);
  b.post("after", 100);
  REQUIRE(eventually(all_drained, 20s));
  CHECK(in_pg(pg, "count(*)", "st-a") == "200");
  CHECK(in_pg(pg, "count(*)", "st-b") == "200");

  // Disaster: the backend is stopped and the database restored from the older dump, while st-a
  // keeps taking mutations into its outbox.
  CHECK(backend.terminate() == 0);
  a.post("down", 50);
  const auto restored = weighlink::testing::run(
      {bin("weighlink-backend"), "restore", "--file", dump.string(), "--dsn", pg.dsn(), "--force"},
      60s);
  INFO(restored.output);
  REQUIRE(restored.exit_code == 0);
  const auto new_generation = last_line(restored.output);
  CHECK(new_generation != old_generation);
  CHECK(in_pg(pg, "count(*)", "st-a") == "100");
  CHECK(in_pg(pg, "count(*)", "st-b") == "100");
  CHECK(c.generation() == old_generation);  // it cannot know yet

  // Back up: no operator step from here on.
  const auto back = Clock::now();
  backend.start();
  const bool caught_up = eventually(
      [&] {
        return all_drained() && a.generation() == new_generation &&
               b.generation() == new_generation && c.generation() == new_generation;
      },
      30s, 100ms);
  const double caught_up_s = seconds_since(back);
  REQUIRE_MESSAGE(caught_up, "the agents did not catch up within 30 s of the restored backend: "
                                 << "st-a " << json::serialize(agent_status(a.agent->http))
                                 << "\nst-b " << json::serialize(agent_status(b.agent->http))
                                 << "\nst-c " << json::serialize(agent_status(c.agent->http))
                                 << "\nst-b log:\n"
                                 << b.log());
  CHECK(a.keys.size() == 250);
  CHECK(b.keys.size() == 200);
  CHECK(c.keys.size() == 100);
  for (auto& [id, station] : stations) check_exactly_once(pg, *station);
  CHECK(pg.query_scalar("SELECT count(*) FROM mutation_log") == "550");

  // Each agent logged the restore it noticed; those the dump lacked mutations of re-sent them.
  const std::string changed =
      "backend generation changed from " + old_generation + " to " + new_generation;
  for (auto& [id, station] : stations) {
    const std::string& station_id = id;  // doctest's CAPTURE cannot take a structured binding
    CAPTURE(station_id);
    CHECK(station->log().find(changed) != std::string::npos);
  }
  CHECK(a.log().find("re-sending") != std::string::npos);
  CHECK(b.log().find("holds this station only up to seq 100") != std::string::npos);
  CHECK(c.log().find("re-sending") == std::string::npos);  // nothing lost, nothing re-sent
  MESSAGE("dr: caught up " << caught_up_s << " s after the restored backend started; "
                           << seconds_since(start) << " s in all; restore said:\n"
                           << restored.output);
  for (auto& [id, station] : stations) CHECK(station->agent->process->terminate() == 0);
}
