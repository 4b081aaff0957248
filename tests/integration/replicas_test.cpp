// Two backend replicas on one PostgreSQL, three agents spread across them (each lists both, in
// its own order), mutations posted the whole time while each replica is SIGKILLed and restarted
// in turn: agents fail over and re-send batches the other replica may already have applied.
// Every acknowledged mutation must be in PostgreSQL exactly once, in seq order.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "agent_fixture.hpp"

using namespace std::chrono_literals;
using namespace weighlink::testing;  // NOLINT(google-build-using-namespace)

TEST_CASE("replicas: agents spread over two replicas that die in turn apply everything once") {
  TempDir dir("wl-replicas");
  PgCluster pg;
  migrate(pg.dsn());
  // Each replica on a fixed address, so agents find it again after a restart.
  const std::vector<std::string> workers{"--workers", "2"};
  BackendServer a(pg.dsn(), dir.path(), workers, free_loopback_address(), "a");
  BackendServer b(pg.dsn(), dir.path(), workers, free_loopback_address(), "b");

  constexpr int kStations = 3;
  std::vector<std::unique_ptr<TempDir>> dirs;
  std::vector<std::unique_ptr<AgentProcess>> agents;
  for (int i = 0; i < kStations; ++i) {
    const std::string id = "st-" + std::to_string(i + 1);
    const auto token = add_station(pg.dsn(), id);
    dirs.push_back(std::make_unique<TempDir>("wl-replica-agent"));
    auto& d = *dirs.back();
    weighlink::testing::write_secret_file(d / "token", token + "\n");
    const std::string order = i % 2 == 0 ? a.grpc() + "," + b.grpc() : b.grpc() + "," + a.grpc();
    agents.push_back(std::make_unique<AgentProcess>(
        d,
        std::vector<std::string>{"--station-id", id, "--backend", order, "--station-token-file",
                                 (d / "token").string()},
        "hello_interval_ms: 1000\n"));
  }

  std::mutex mutex;
  std::vector<std::set<std::string>> acknowledged(kStations);
  std::atomic<bool> stop{false};
  std::vector<std::thread> producers;
  producers.reserve(kStations);
  for (int i = 0; i < kStations; ++i) {
    producers.emplace_back([&, i] {
      for (int n = 0; !stop; ++n) {
        const auto key = "r" + std::to_string(i) + "-" + std::to_string(n);
        auto r = post_json(agents[i]->http, "/v1/mutations", key,
                           R"({"kind":"note.added","payload":{"n":)" + std::to_string(n) + "}}");
        if (r.status == 202) {
          std::lock_guard lock(mutex);
          acknowledged[i].insert(key);
        }
        std::this_thread::sleep_for(5ms);
      }
    });
  }
  // Waits until every station has more rows in PostgreSQL than now: each agent is replaying
  // through a replica that is up.
  const auto rows_per_station = [&] {
    std::vector<std::string> rows;
    rows.reserve(kStations);
    for (int i = 0; i < kStations; ++i) {
      rows.push_back(pg.query_scalar("select count(*) from mutation_log where station_id='st-" +
                                     std::to_string(i + 1) + "'"));
    }
    return rows;
  };
  const auto all_progress = [&](const char* when) {
    const auto before = rows_per_station();
    const bool moved = eventually(
        [&] {
          const auto now = rows_per_station();
          for (int i = 0; i < kStations; ++i) {
            if (std::stoll(now[i]) <= std::stoll(before[i])) return false;
          }
          return true;
        },
        30s, 50ms);
    if (!moved) {
      stop = true;
      for (auto& p : producers) p.join();
      FAIL("not every station replayed " << when);
    }
  };
  // Each replica dies (SIGKILL, mid-batch for whoever was using it) and comes back, twice; each
  // step once every station has replayed more since the last one.
  for (int round = 0; round < 2; ++round) {
    all_progress("before a was killed");
    a.kill();
    all_progress("while a was down");
    a.start();
    all_progress("before b was killed");
    b.kill();
    all_progress("while b was down");
    b.start();
  }
  all_progress("after both were back");
  stop = true;
  for (auto& p : producers) p.join();

  for (int i = 0; i < kStations; ++i) {
    const std::string id = "st-" + std::to_string(i + 1);
    const auto expected = std::to_string(acknowledged[i].size());
    const auto count = "select count(*) from mutation_log where station_id='" + id + "'";
    REQUIRE_MESSAGE(
        eventually([&] { return pg.query_scalar(count) == expected; }, 60s, 100ms),
        id << ": " << pg.query_scalar(count) << " rows, " << expected << " acknowledged");
    CHECK(pg.query_scalar("select count(distinct idempotency_key) || ' ' || min(seq) || '-' || "
                          "max(seq) from mutation_log where station_id='" +
                          id + "'") == expected + " 1-" + expected);
    CHECK(pg.query_scalar("select high_water_seq from stations where id='" + id + "'") == expected);
    auto status = agent_status(agents[i]->http);
    CHECK(status.at("outbox").at("pending") == 0);
    CHECK(status.at("outbox").at("dead") == 0);
    // The kills were felt: every agent lost its replica at least once and failed over.
    CHECK(agents[i]->process->log().find("uplink to") != std::string::npos);
  }
  MESSAGE("acknowledged " << acknowledged[0].size() << " + " << acknowledged[1].size() << " + "
                          << acknowledged[2].size() << " mutations across 4 replica kills");
}
