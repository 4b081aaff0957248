// Two backend replicas on one PostgreSQL, three agents spread across them (each lists both, in
// its own order), mutations posted the whole time while each replica is SIGKILLed and restarted
// in turn: agents fail over and re-send batches the other replica may already have applied.
// Every acknowledged mutation must be in PostgreSQL exactly once, in seq order.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <mutex>
#include <set>
#include <thread>

#include "agent_fixture.hpp"

using namespace std::chrono_literals;
using weighlink::testing::AgentProcess;
using weighlink::testing::bin;
using weighlink::testing::body_of;
using weighlink::testing::eventually;
using weighlink::testing::http_request;
using weighlink::testing::PgCluster;
using weighlink::testing::post_json;
using weighlink::testing::Process;
using weighlink::testing::TempDir;

namespace {

std::string free_loopback_address() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return "127.0.0.1:" + std::to_string(a.local_endpoint().port());
}

// One replica on a fixed address, so agents find it again after a restart.
class Replica {
 public:
  Replica(const PgCluster& pg, const TempDir& dir, std::string name)
      : pg_(pg), dir_(dir), name_(std::move(name)), address_(free_loopback_address()) {
    start();
  }
  void start() {
    const auto ready = dir_ / (name_ + ".ready");
    std::filesystem::remove(ready);
    process_ = std::make_unique<Process>(
        std::vector<std::string>{bin("weighlink-backend"), "serve", "--dsn", pg_.dsn(),
                                 "--grpc-listen", address_, "--http-listen", "127.0.0.1:0",
                                 "--ready-file", ready.string(), "--workers", "2"},
        dir_ / (name_ + ".log"));
    process_->wait_ready(ready);
  }
  void kill() { process_->kill(); }
  [[nodiscard]] const std::string& address() const { return address_; }

 private:
  const PgCluster& pg_;
  const TempDir& dir_;
  std::string name_;
  std::string address_;
  std::unique_ptr<Process> process_;
};

}  // namespace

TEST_CASE("replicas: agents spread over two replicas that die in turn apply everything once") {
  TempDir dir("wl-replicas");
  PgCluster pg;
  REQUIRE(
      weighlink::testing::run({bin("weighlink-backend"), "migrate", "--dsn", pg.dsn()}).exit_code ==
      0);
  Replica a(pg, dir, "a");
  Replica b(pg, dir, "b");

  constexpr int kStations = 3;
  std::vector<std::unique_ptr<TempDir>> dirs;
  std::vector<std::unique_ptr<AgentProcess>> agents;
  for (int i = 0; i < kStations; ++i) {
    const std::string id = "st-" + std::to_string(i + 1);
    auto added = weighlink::testing::run(
        {bin("weighlink-backend"), "station", "add", "--dsn", pg.dsn(), "--id", id});
    REQUIRE(added.exit_code == 0);
    dirs.push_back(std::make_unique<TempDir>("wl-replica-agent"));
    auto& d = *dirs.back();
    std::ofstream(d / "token") << weighlink::testing::last_line(added.output) << "\n";
    const std::string order =
        i % 2 == 0 ? a.address() + "," + b.address() : b.address() + "," + a.address();
    agents.push_back(std::make_unique<AgentProcess>(
        d,
        std::vector<std::string>{"--station-id", id, "--backend", order, "--station-token-file",
                                 (d / "token").string()},
        "hello_interval_ms: 300\n"));
  }

  std::mutex mutex;
  std::vector<std::set<std::string>> acknowledged(kStations);
  std::atomic<bool> stop{false};
  std::vector<std::thread> producers;
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
  // Each replica dies (SIGKILL, mid-batch for whoever was using it) and comes back, twice.
  for (int round = 0; round < 2; ++round) {
    std::this_thread::sleep_for(700ms);
    a.kill();
    std::this_thread::sleep_for(700ms);
    a.start();
    std::this_thread::sleep_for(700ms);
    b.kill();
    std::this_thread::sleep_for(700ms);
    b.start();
  }
  std::this_thread::sleep_for(500ms);
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
    auto status = body_of(http_request(agents[i]->http, "GET", "/v1/status"));
    CHECK(status.at("outbox").at("pending") == 0);
    CHECK(status.at("outbox").at("dead") == 0);
    // The kills were felt: every agent lost its replica at least once and failed over.
    CHECK(agents[i]->process->log().find("uplink to") != std::string::npos);
  }
  MESSAGE("acknowledged " << acknowledged[0].size() << " + " << acknowledged[1].size() << " + "
                          << acknowledged[2].size() << " mutations across 4 replica kills");
}
