// Crash safety of the outbox with real processes: the agent is SIGKILLed at random moments while
// producers post mutations; after every restart each mutation that got a 202 (or a 200 replay) is
// there exactly once, in seq order, with no gap. WEIGHLINK_CRASH_CYCLES sets the number of cycles
// (default 200; run 1000 before changing the outbox) and WEIGHLINK_CRASH_SEED the random seed.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/json.hpp>
#include <cstdlib>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "agent_fixture.hpp"

using namespace std::chrono_literals;
using namespace weighlink::testing;

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// The signed hash chain of the outbox in `dir` is intact (weighlink-agent verify-evidence).
void check_evidence(const TempDir& dir, const std::string& where) {
  const auto r =
      weighlink::testing::run({weighlink::testing::bin("weighlink-agent"), "verify-evidence",
                               "--data-dir", (dir / "data").string(), "--station-id", "st-1"});
  if (r.exit_code != 0) FAIL(where << ": verify-evidence: " << r.output);
}

}  // namespace

TEST_CASE("outbox: SIGKILL at random moments while producers post loses and doubles nothing") {
  TempDir dir("wl-crash");
  const int cycles = env_int("WEIGHLINK_CRASH_CYCLES", 200);
  const auto seed = static_cast<unsigned>(env_int("WEIGHLINK_CRASH_SEED", std::random_device{}()));
  MESSAGE("crash cycles: " << cycles << ", seed: " << seed << " (WEIGHLINK_CRASH_SEED)");
  std::mt19937 rng(seed);
  std::mutex mutex;
  std::set<std::string> acknowledged;  // keys that got 202 or 200
  std::size_t killed_with_requests_in_flight = 0;

  auto verify = [&](const std::string& http, int cycle) {
    std::lock_guard lock(mutex);
    check_outbox(http, acknowledged, "cycle " + std::to_string(cycle));
  };

  for (int cycle = 0; cycle < cycles; ++cycle) {
    AgentProcess agent(dir, {});
    verify(agent.http, cycle);
    if (cycle % 25 == 24) check_evidence(dir, "cycle " + std::to_string(cycle));
    std::atomic<bool> stop{false};
    std::atomic<int> in_flight{0};
    std::atomic<int> answered{0};  // 202 or 200 in this cycle
    std::vector<std::thread> producers;
    producers.reserve(4);
    for (int t = 0; t < 4; ++t) {
      producers.emplace_back([&, t] {
        for (int n = 0; !stop; ++n) {
          const auto key =
              "c" + std::to_string(cycle) + "-p" + std::to_string(t) + "-" + std::to_string(n);
          ++in_flight;
          try {
            auto r = post_json(agent.http, "/v1/mutations", key,
                               R"({"kind":"note.added","payload":{"n":)" + std::to_string(n) + "}}",
                               {}, 2s);
            --in_flight;
            if (r.status == 202 || r.status == 200) {
              std::lock_guard lock(mutex);
              acknowledged.insert(key);
              ++answered;
            } else if (r.status != 409) {
              FAIL("unexpected status " << r.status << ": " << r.body);
            }
          } catch (const std::exception&) {
            --in_flight;  // the agent died under this request: no answer, no promise
            return;
          }
        }
      });
    }
    // The kill comes at a random moment once writes are under way (one answered): the moment is
    // the fault injected; what is checked does not depend on how long it was.
    (void)eventually([&] { return answered > 0; }, 30s, 1ms);
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 150)(rng)));
    if (in_flight > 0) ++killed_with_requests_in_flight;
    agent.process->kill();
    stop = true;
    for (auto& p : producers) p.join();
  }
  AgentProcess agent(dir, {});
  verify(agent.http, cycles);
  check_evidence(dir, "after " + std::to_string(cycles) + " kills");
  MESSAGE("acknowledged " << acknowledged.size() << " mutations over " << cycles
                          << " kills; requests were in flight at " << killed_with_requests_in_flight
                          << " of them");
  CHECK(acknowledged.size() >= static_cast<std::size_t>(cycles));  // one answered per cycle
  CHECK(killed_with_requests_in_flight > static_cast<std::size_t>(cycles) / 2);
}

TEST_CASE("outbox: the files copied at random moments while writes go on open with nothing lost") {
  // A power cut leaves the disk as it was at one instant. The agent is frozen (SIGSTOP) at random
  // moments while producers post, its data directory copied, and it is let go again (SIGCONT).
  // Every copy must open (integrity check) and hold every mutation acknowledged before the
  // freeze, exactly once, in seq order, with no gap.
  TempDir dir("wl-powercut");
  const int snapshots = env_int("WEIGHLINK_POWERCUT_SNAPSHOTS", 40);
  std::mt19937 rng(static_cast<unsigned>(env_int("WEIGHLINK_CRASH_SEED", std::random_device{}())));
  AgentProcess agent(dir, {});
  std::mutex mutex;
  std::set<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::vector<std::thread> producers;
  producers.reserve(4);
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&, t] {
      for (int n = 0; !stop; ++n) {
        const auto key = "p" + std::to_string(t) + "-" + std::to_string(n);
        try {
          auto r = post_json(agent.http, "/v1/mutations", key,
                             R"({"kind":"note.added","payload":{"n":)" + std::to_string(n) + "}}",
                             {}, 30s);
          if (r.status == 202 || r.status == 200) {
            std::lock_guard lock(mutex);
            acknowledged.insert(key);
          }
        } catch (const std::exception&) {
          return;
        }
      }
    });
  }
  std::vector<std::pair<std::filesystem::path, std::set<std::string>>> copies;
  for (int i = 0; i < snapshots; ++i) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(5, 60)(rng)));
    std::set<std::string> before;
    {
      std::lock_guard lock(mutex);
      before = acknowledged;  // answered before the freeze: on disk by then
    }
    agent.process->freeze();
    const auto copy = dir / ("copy-" + std::to_string(i));
    std::filesystem::create_directories(copy);
    for (const auto& f : std::filesystem::directory_iterator(dir / "data")) {
      std::filesystem::copy_file(f.path(), copy / f.path().filename());
    }
    agent.process->thaw();
    copies.emplace_back(copy, std::move(before));
  }
  stop = true;
  for (auto& p : producers) p.join();
  agent.process->terminate();

  std::size_t checked = 0;
  for (const auto& [copy, before] : copies) {
    TempDir run("wl-powercut-open");
    std::filesystem::copy(copy, run / "data");
    AgentProcess opened(run, {});
    check_outbox(opened.http, before, copy.string());
    check_evidence(run, copy.string());
    checked += before.size();
  }
  MESSAGE(copies.size() << " copies opened; " << checked << " acknowledged keys checked");
  CHECK(checked > 0);
}
