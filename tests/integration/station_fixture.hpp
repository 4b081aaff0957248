#pragma once
// A station that re-sends what a restored or reset backend lacks, as the DR tests drive it: its
// agent (own data dir, token, log) posting transaction.created mutations, and the check that
// every mutation it acknowledged is in PostgreSQL exactly once. Shared by dr_test.cpp (restore
// from an older dump) and monitor_reset_test.cpp (a fresh reset with no dump at all).

#include <boost/json.hpp>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "agent_fixture.hpp"

namespace weighlink::testing {

// A Hello every second and at most 500 ms between retries: a restore is noticed quickly.
inline constexpr const char* kResendAgentConfig =
    "hello_interval_ms: 1000\n"
    "replay_backoff_max_ms: 500\n";

// One station: its token, its agent (own data dir and log) and the keys it acknowledged.
struct Station {
  Station(const std::string& station_id, const PgCluster& pg, const std::string& grpc)
      : id(station_id) {
    write_secret_file(dir / "token", add_station(pg.dsn(), id) + "\n");
    agent = std::make_unique<AgentProcess>(
        dir,
        std::vector<std::string>{"--station-id", id, "--backend", grpc, "--station-token-file",
                                 (dir / "token").string()},
        kResendAgentConfig);
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
  [[nodiscard]] boost::json::object uplink() const {
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
  [[nodiscard]] std::string log() const { return read_file(dir / "agent.log"); }

  std::string id;
  TempDir dir{"wl-station"};
  std::unique_ptr<AgentProcess> agent;
  std::set<std::string> keys;
};

// `what` over the station's rows of mutation_log in `database`.
inline std::string in_pg(const PgCluster& pg, const std::string& what, const std::string& station,
                         const std::string& database = "weighlink") {
  return pg.query_scalar(
      "SELECT " + what + " FROM mutation_log WHERE station_id = '" + station + "'", database);
}

// The station's mutations are in PostgreSQL (`database`) exactly once: one row per key, seqs 1..N
// with no gap, N = what the agent acknowledged, the high water at N, the payload its own; the
// agent's outbox holds the same keys at seqs 1..N, all acknowledged.
inline void check_exactly_once(const PgCluster& pg, const Station& station,
                               const std::string& database = "weighlink") {
  CAPTURE(station.id);
  const auto n = std::to_string(station.keys.size());
  CHECK(in_pg(pg, "count(*)", station.id, database) == n);
  CHECK(in_pg(pg, "count(DISTINCT idempotency_key)", station.id, database) == n);
  CHECK(in_pg(pg, "min(seq) || '-' || max(seq) || '/' || count(DISTINCT seq)", station.id,
              database) == "1-" + n + "/" + n);
  CHECK(in_pg(pg,
              "count(*) FILTER (WHERE coalesce(payload, payload_text::jsonb)->>'key' <> "
              "idempotency_key)",
              station.id, database) == "0");
  CHECK(pg.query_scalar("SELECT high_water_seq FROM stations WHERE id = '" + station.id + "'",
                        database) == n);
  std::set<std::string> keys;
  std::istringstream listed(in_pg(pg, "string_agg(idempotency_key, ' ')", station.id, database));
  for (std::string key; listed >> key;) keys.insert(key);
  CHECK(keys == station.keys);
  check_outbox(station.agent->http, station.keys, station.id + " outbox");
  const auto rows = outbox_rows(station.agent->http);
  CHECK(rows.size() == station.keys.size());
  for (const auto& row : rows) CHECK(row.at("state") == "acknowledged");
}

}  // namespace weighlink::testing
