// Replay under faults: the real agent replays its outbox to the real backend through loopback
// FaultProxy instances that delay, drop, cut mid-stream and blackhole the gRPC connections, while
// producers keep posting mutations; then every acknowledged mutation must be in PostgreSQL exactly
// once, in seq order with no gap, and the agent's outbox must agree. Other tests: a connection
// that goes silent, retries while the backend is unreachable, PostgreSQL stopped and started
// during replay. docs/sync-protocol.md ("How replay is tested under faults") has the figures.
//
// WEIGHLINK_FLAPS (default 50) sets the number of fault cycles, WEIGHLINK_FLAPS_SEED the schedule,
// WEIGHLINK_FLAPS_ADDRESSES (default 1) the number of backend addresses the agent is given.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent_fixture.hpp"
#include "weighlink/testing/fault_proxy.hpp"
#include "weighlink/testing/pg_cluster.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;  // NOLINT(google-build-using-namespace)
using Clock = std::chrono::steady_clock;

namespace {

// The agent's settings for these tests: a Hello every second and at most 1 s between retries, so
// that it meets many faults and recovers quickly; small batches, so that a call is often under
// way when a fault strikes.
constexpr const char* kAgentConfig =
    "hello_interval_ms: 1000\n"
    "replay_backoff_max_ms: 1000\n"
    "replay_batch_size: 50\n";

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::stoull(v);
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string file_tail(const std::filesystem::path& file, std::size_t max_bytes = 6000) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  auto text = ss.str();
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

// Threads that post transaction.created mutations with unique keys to the agent's
// POST /v1/mutations until stopped. A request that gets no answer (timeout) is sent again with the
// same key until it is answered: 202, or 200 for a key the outbox already holds. Both count as
// acknowledged: the agent holds the mutation durably and owes it to the backend.
class Producers {
 public:
  Producers(std::string http, int threads, std::string prefix, std::chrono::milliseconds pause)
      : http_(std::move(http)), prefix_(std::move(prefix)) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, t, pause] { run(t, pause); });
    }
  }
  ~Producers() { stop(); }
  Producers(const Producers&) = delete;
  Producers& operator=(const Producers&) = delete;

  void stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  [[nodiscard]] std::set<std::string> acknowledged() const {
    std::lock_guard lock(mu_);
    return acknowledged_;
  }
  [[nodiscard]] std::vector<std::string> failures() const {
    std::lock_guard lock(mu_);
    return failures_;
  }

 private:
  void run(int thread, std::chrono::milliseconds pause) {
    for (int n = 0; !stop_; ++n) {
      const std::string key = prefix_ + "-" + std::to_string(thread) + "-" + std::to_string(n);
      const std::string body = R"({"kind":"transaction.created","payload":{"key":")" + key +
                               R"(","n":)" + std::to_string(n) + "}}";
      std::optional<int> status;
      std::string answer;
      for (int attempt = 0; attempt < 5 && !status; ++attempt) {
        try {
          auto r = post_json(http_, "/v1/mutations", key, body, {}, 10s);
          status = r.status;
          answer = r.body;
        } catch (const std::exception& e) {
          answer = e.what();
        }
      }
      {
        std::lock_guard lock(mu_);
        if (status && (*status == 202 || *status == 200)) {
          acknowledged_.insert(key);
        } else {
          failures_.push_back(key + ": " + (status ? std::to_string(*status) : "no answer") + " " +
                              answer);
        }
      }
      std::this_thread::sleep_for(pause);
    }
  }

  std::string http_;
  std::string prefix_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::set<std::string> acknowledged_;
  std::vector<std::string> failures_;
  std::vector<std::thread> threads_;
};

// Waits until the agent holds nothing pending, nothing in flight, and its uplink is online.
bool wait_drained(const std::string& http, std::chrono::milliseconds timeout) {
  return eventually(
      [&] {
        const auto s = agent_status(http);
        return s.at("outbox").at("pending") == 0 && s.at("uplink").at("state") == "online" &&
               s.at("uplink").at("in_flight") == 0;
      },
      timeout, 100ms);
}

// The uplink's failed calls in a row (0 after an answer).
std::uint64_t consecutive_failures(const std::string& http) {
  return agent_status(http).at("uplink").at("consecutive_failures").to_number<std::uint64_t>();
}

// key -> seq from "k1=1,k2=2,..."
std::map<std::string, std::int64_t> parse_pairs(const std::string& text) {
  std::map<std::string, std::int64_t> out;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto eq = item.rfind('=');
    REQUIRE(eq != std::string::npos);
    out.emplace(item.substr(0, eq), std::stoll(item.substr(eq + 1)));
  }
  return out;
}

// Every acknowledged key is in PostgreSQL exactly once, applied, with its own payload; the
// station's seqs are 1..N with no gap and N is the number acknowledged; the high water is N; the
// agent's outbox holds the same keys at the same seqs, all acknowledged. Returns how many the
// agent recorded as DUPLICATE (sent again after the answer to an applied batch was lost).
std::size_t check_exactly_once(const PgCluster& pg, const std::string& http,
                               const std::set<std::string>& acknowledged) {
  const std::string where = " from mutation_log where station_id = 'st-1'";
  const auto n = std::to_string(acknowledged.size());
  CHECK(pg.query_scalar("select count(*)" + where) == n);
  CHECK(pg.query_scalar("select count(distinct idempotency_key)" + where) == n);
  CHECK(pg.query_scalar("select count(distinct seq)" + where) == n);
  CHECK(pg.query_scalar("select coalesce(min(seq), 0) || '-' || coalesce(max(seq), 0)" + where) ==
        (acknowledged.empty() ? std::string("0-0") : "1-" + n));
  CHECK(pg.query_scalar("select count(*)" + where + " and outcome <> 'applied'") == "0");
  CHECK(
      pg.query_scalar(
          "select count(*)" + where +
          " and coalesce(payload, payload_text::jsonb)->>'key' is distinct from idempotency_key") ==
      "0");
  CHECK(pg.query_scalar("select high_water_seq from stations where id = 'st-1'") == n);

  const auto in_pg = parse_pairs(pg.query_scalar(
      "select coalesce(string_agg(idempotency_key || '=' || seq, ',' order by seq), '')" + where));
  std::size_t missing = 0;
  for (const auto& key : acknowledged) {
    if (!in_pg.contains(key)) {
      if (++missing <= 5) FAIL_CHECK("acknowledged key " << key << " is not in PostgreSQL");
    }
  }
  CHECK(missing == 0);

  weighlink::testing::check_outbox(http, acknowledged, "agent outbox");
  std::size_t duplicates = 0;
  std::size_t disagree = 0;
  const auto rows = weighlink::testing::outbox_rows(http);
  CHECK(rows.size() == acknowledged.size());
  for (const auto& row : rows) {
    const std::string key(row.at("idempotency_key").as_string());
    CHECK(row.at("state") == "acknowledged");
    if (row.at("outcome") == "duplicate") ++duplicates;
    const auto it = in_pg.find(key);
    if (it == in_pg.end() || it->second != row.at("seq").as_int64()) {
      if (++disagree <= 5)
        FAIL_CHECK("outbox row " << key << " seq " << row.at("seq")
                                 << " disagrees with PostgreSQL");
    }
  }
  CHECK(disagree == 0);
  return duplicates;
}

// One blackhole in kSilentBlackholeEvery leaves the connections it swallowed silent when it ends:
// only the call deadline (5 s) gets the agent out, onto a new channel (the test "a connection that
// goes silent" below). The others reset them when they end, as a peer that comes back does, which
// keeps the run short.
constexpr int kSilentBlackholeEvery = 5;

// The agent is given one address of the backend, as most stations are. WEIGHLINK_FLAPS_ADDRESSES=2
// gives it two, behind the same faults: it moves to the next one at each failure.
constexpr std::uint64_t kAddresses = 1;

// How much longer a fault is held, at most, when it has not met the agent's traffic yet.
constexpr auto kMaxExtraHold = std::chrono::milliseconds(1000);

constexpr std::array kFaults = {FaultMode::delay, FaultMode::drop, FaultMode::cut,
                                FaultMode::blackhole, FaultMode::pass /* = cut_all() */};

std::string fault_name(FaultMode f) {
  return f == FaultMode::pass ? "cut_all" : std::string(weighlink::testing::to_string(f));
}

std::string counters_text(const weighlink::testing::FaultProxyCounters& c) {
  std::ostringstream out;
  out << "connections " << c.connections << ", dropped " << c.dropped << ", cut mid-stream "
      << c.cuts << ", blackholed " << c.blackholed << " (" << c.discarded_bytes
      << " bytes discarded), delayed chunks " << c.delayed_chunks << ", closed by cut_all "
      << c.closed_by_cut_all << ", connect failures " << c.connect_failures << ", bytes "
      << c.bytes_to_target << " to the backend and " << c.bytes_to_client << " back";
  return out.str();
}

// One link with the same faults on every address the agent knows: `n` proxies in front of the
// same backend gRPC port, switched together (the agent rotates through its --backend addresses).
class Link {
 public:
  Link(const std::string& target, std::size_t n, std::uint64_t seed) {
    for (std::size_t i = 0; i < n; ++i)
      proxies_.push_back(std::make_unique<FaultProxy>(target, seed + i));
  }
  [[nodiscard]] std::string addresses() const {
    std::string out;
    for (const auto& p : proxies_) out += (out.empty() ? "" : ",") + p->address();
    return out;
  }
  void set_mode(FaultMode mode) {
    for (auto& p : proxies_) p->set_mode(mode);
  }
  void set_delay(std::chrono::milliseconds delay) {
    for (auto& p : proxies_) p->set_delay(delay);
  }
  void set_cut_range(std::uint64_t lo, std::uint64_t hi) {
    for (auto& p : proxies_) p->set_cut_range(lo, hi);
  }
  std::size_t cut_all() {
    std::size_t n = 0;
    for (auto& p : proxies_) n += p->cut_all();
    return n;
  }
  [[nodiscard]] weighlink::testing::FaultProxyCounters counters() const {
    weighlink::testing::FaultProxyCounters sum;
    for (const auto& p : proxies_) {
      const auto c = p->counters();
      sum.connections += c.connections;
      sum.live += c.live;
      sum.connect_failures += c.connect_failures;
      sum.bytes_to_target += c.bytes_to_target;
      sum.bytes_to_client += c.bytes_to_client;
      sum.delayed_chunks += c.delayed_chunks;
      sum.dropped += c.dropped;
      sum.cuts += c.cuts;
      sum.blackholed += c.blackholed;
      sum.discarded_bytes += c.discarded_bytes;
      sum.closed_by_cut_all += c.closed_by_cut_all;
    }
    return sum;
  }

 private:
  std::vector<std::unique_ptr<FaultProxy>> proxies_;
};

// A station whose agent reaches the backend only through `proxy`: online, with one mutation
// ("before") already applied. post() adds one more, which must be accepted (202).
struct ProxiedStation {
  explicit ProxiedStation(std::uint64_t seed)
      : proxy(backend.grpc(), seed), agent(dir, backend.agent_args(proxy.address()), kAgentConfig) {
    REQUIRE(eventually(
        [&] { return agent_status(agent.http).at("uplink").at("state") == "online"; }, 10s));
    post("before");
    REQUIRE(wait_drained(agent.http, 10s));
  }
  void post(const std::string& key) {
    const auto r = post_json(agent.http, "/v1/mutations", key,
                             R"({"kind":"transaction.created","payload":{"key":")" + key + "\"}}");
    REQUIRE(r.status == 202);
    acknowledged.insert(key);
  }

  TempDir dir{"wl-faults"};
  StationBackend backend{dir};
  FaultProxy proxy;
  AgentProcess agent;
  std::set<std::string> acknowledged;
};

}  // namespace

TEST_CASE("replay: through a flapping link every acknowledged mutation lands exactly once") {
  const auto flaps = env_number("WEIGHLINK_FLAPS", 50);
  const auto seed = env_number("WEIGHLINK_FLAPS_SEED", std::random_device{}());
  const auto addresses =
      std::max<std::uint64_t>(1, env_number("WEIGHLINK_FLAPS_ADDRESSES", kAddresses));
  MESSAGE("replay faults: " << flaps << " flaps over " << addresses << " backend address(es), seed "
                            << seed << " (WEIGHLINK_FLAPS_SEED=" << seed
                            << " repeats the schedule)");
  const auto start = Clock::now();

  TempDir dir("wl-faults");
  StationBackend backend(dir);
  Link proxy(backend.grpc(), addresses, seed);
  AgentProcess agent(dir, backend.agent_args(proxy.addresses()), kAgentConfig);
  REQUIRE(eventually([&] { return agent_status(agent.http).at("uplink").at("state") == "online"; },
                     10s));

  Producers producers(agent.http, 2, "flap", 20ms);
  std::mt19937_64 rng(seed);
  const auto ms = [&](int lo, int hi) {
    return std::chrono::milliseconds(std::uniform_int_distribution<int>(lo, hi)(rng));
  };
  std::map<std::string, int> by_kind;
  std::map<std::string, int> bit_by_kind;  // flaps whose fault met traffic
  std::size_t silenced_reset = 0;
  int blackholes = 0;
  std::vector<FaultMode> round;
  for (std::uint64_t i = 0; i < flaps; ++i) {
    if (round.empty()) {  // every kind once per round, in a random order
      round.assign(kFaults.begin(), kFaults.end());
      std::shuffle(round.begin(), round.end(), rng);
    }
    const FaultMode fault = round.back();
    round.pop_back();
    ++by_kind[fault_name(fault)];
    auto hold = ms(100, 300);
    const auto before = proxy.counters();
    switch (fault) {
      case FaultMode::delay:
        if (ms(0, 3) == 0ms) {
          // Slower than the call deadline (5 s) allows for a round trip, held long enough to
          // delay the answer too: the backend commits a batch whose answer comes too late.
          proxy.set_delay(ms(2600, 3500));
          hold = ms(3000, 3800);
        } else {
          proxy.set_delay(ms(20, 800));
        }
        proxy.set_mode(FaultMode::delay);
        break;
      case FaultMode::cut:
        proxy.set_cut_range(1, std::uint64_t{256} * 1024);
        proxy.set_mode(FaultMode::cut);
        break;
      case FaultMode::drop:
      case FaultMode::blackhole:
        proxy.set_mode(fault);
        break;
      case FaultMode::pass:
        break;
    }
    // Held for `hold`, and longer (up to kMaxExtraHold) until the fault met the agent's traffic:
    // an agent waiting to reconnect sends nothing, and a fault that meets nothing tests nothing.
    const auto bitten = [&] {
      const auto now = proxy.counters();
      switch (fault) {
        case FaultMode::delay:
          return now.delayed_chunks > before.delayed_chunks;
        case FaultMode::drop:
          return now.dropped > before.dropped;
        case FaultMode::cut:
          return now.cuts > before.cuts;
        case FaultMode::blackhole:
          return now.blackholed > before.blackholed;
        case FaultMode::pass:
          return proxy.cut_all() > 0;
      }
      return false;
    };
    const auto held_from = Clock::now();
    std::this_thread::sleep_for(hold);
    bool bit = bitten();
    while (!bit && Clock::now() - held_from < hold + kMaxExtraHold) {
      std::this_thread::sleep_for(20ms);
      bit = bitten();
    }
    if (bit) ++bit_by_kind[fault_name(fault)];
    proxy.set_mode(FaultMode::pass);
    if (fault == FaultMode::blackhole && blackholes++ % kSilentBlackholeEvery != 0) {
      silenced_reset += proxy.cut_all();
    }
    std::this_thread::sleep_for(ms(100, 250));
  }
  const double flapping = seconds_since(start);
  producers.stop();
  const auto acknowledged = producers.acknowledged();
  const auto failures = producers.failures();
  CHECK_MESSAGE(failures.empty(), failures.size() << " posts got no 200/202, first: "
                                                  << (failures.empty() ? "" : failures.front()));
  REQUIRE(acknowledged.size() > 100);

  // The link is healthy again: the agent must get everything across by itself.
  const auto drain_start = Clock::now();
  const bool drained = wait_drained(agent.http, 60s);
  const double drain = seconds_since(drain_start);
  const auto counters = proxy.counters();
  REQUIRE_MESSAGE(drained, "the agent did not drain its outbox within 60 s of the last fault; "
                               << "status " << json::serialize(agent_status(agent.http))
                               << "\nproxy: " << counters_text(counters) << "\nagent log tail:\n"
                               << file_tail(dir / "agent.log"));
  const auto duplicates = check_exactly_once(backend.pg(), agent.http, acknowledged);

  // The faults really happened.
  if (flaps >= 20) {
    CHECK(counters.dropped > 0);
    CHECK(counters.cuts > 0);
    CHECK(counters.blackholed > 0);
    CHECK(counters.delayed_chunks > 0);
    CHECK(counters.closed_by_cut_all > 0);
  }
  CHECK(agent.process->running());

  std::ostringstream kinds;
  for (const auto& [kind, count] : by_kind) {
    kinds << kind << " " << count << " (" << bit_by_kind[kind] << " met traffic), ";
  }
  MESSAGE("replay faults: " << acknowledged.size() << " mutations acknowledged, all in PostgreSQL "
                            << "exactly once (" << duplicates
                            << " answered DUPLICATE after a lost answer); flaps by kind: "
                            << kinds.str() << "proxy: " << counters_text(counters) << " ("
                            << silenced_reset << " silent ones reset after a blackhole); "
                            << flapping << " s flapping, drained in " << drain << " s, "
                            << seconds_since(start) << " s in all");
  CHECK(agent.process->terminate() == 0);
}

TEST_CASE("replay: a connection that goes silent costs one call deadline, then replay resumes") {
  // A middlebox that lost the connection's state, or a backend host gone behind a proxy that
  // still holds the TCP connection, leaves the agent's one HTTP/2 connection open and silent:
  // nothing comes back, nothing closes. The call deadline ends the call; the agent must then leave
  // that connection for a new one instead of sending every later call into it.
  ProxiedStation station(5);
  FaultProxy& proxy = station.proxy;
  const AgentProcess& agent = station.agent;

  proxy.set_mode(FaultMode::blackhole);
  const auto silent_from = Clock::now();
  for (int i = 0; i < 5; ++i) station.post("silent-" + std::to_string(i));
  // The call into the silent connection ends at its deadline (5 s), not later.
  REQUIRE(eventually(
      [&] {
        const auto u = agent_status(agent.http).at("uplink");
        return u.at("state") == "offline" && u.at("last_error") == "Deadline Exceeded";
      },
      10s));
  const double deadline_after = seconds_since(silent_from);
  CHECK(proxy.counters().blackholed >= 1);

  // New connections pass again; the silent one stays silent (it is never closed).
  proxy.set_mode(FaultMode::pass);
  station.post("after");
  const auto pass_from = Clock::now();
  const bool resumed = wait_drained(agent.http, 20s);
  CHECK_MESSAGE(resumed, "the agent still sends into the silent connection "
                             << seconds_since(pass_from) << " s after new connections pass again ("
                             << seconds_since(silent_from)
                             << " s after it went silent, the deadline fired after "
                             << deadline_after << " s): status "
                             << json::serialize(agent_status(agent.http)) << "; proxy "
                             << counters_text(proxy.counters())
                             << "; connections made: " << proxy.counters().connections);
  if (!resumed) {
    // Reset the silent connection so that what follows still checks exactly-once.
    proxy.cut_all();
    REQUIRE(wait_drained(agent.http, 20s));
  }
  check_exactly_once(station.backend.pg(), agent.http, station.acknowledged);
  CHECK(agent.process->terminate() == 0);
}

TEST_CASE("replay: while the backend is unreachable every retry really tries the backend") {
  // docs/architecture.md: failures back off exponentially with full jitter, capped by
  // replay_backoff_max_ms (1 s here; the schedule itself is unit-tested in backoff_test.cpp).
  // Each retry must really try the backend, so that the agent is back within about the cap once
  // the backend can be reached again, not after the longer backoff that gRPC keeps for its own
  // connection attempts (1 s, growing by 1.6 up to 120 s): one connection attempt per failure.
  ProxiedStation station(9);
  FaultProxy& proxy = station.proxy;
  const AgentProcess& agent = station.agent;

  // Every connection is closed as soon as it is made: each of the agent's retries must show up
  // as a connection attempt at the proxy (not be held back by gRPC's own reconnect backoff).
  proxy.set_mode(FaultMode::drop);
  proxy.cut_all();
  station.post("during");
  auto failures = [&] { return consecutive_failures(agent.http); };
  const auto failed_before = failures();
  const auto tried_before = proxy.counters().connections;
  // Eight more failed replay attempts, waited for as they happen (bounded by the wait itself).
  REQUIRE(eventually([&] { return failures() >= failed_before + 8; }, 60s));
  const auto failed = failures() - failed_before;
  const auto attempts = proxy.counters().connections - tried_before;
  MESSAGE(failed << " failed replay attempts made " << attempts << " connection attempts");
  CHECK_MESSAGE(attempts + 1 >= failed, "only " << attempts << " connection attempts for " << failed
                                                << " failed replay attempts: the agent's calls "
                                                   "fail without trying the backend");
  // And once the backend can be reached, everything lands.
  proxy.set_mode(FaultMode::pass);
  const bool drained = wait_drained(agent.http, 30s);
  REQUIRE(drained);
  check_exactly_once(station.backend.pg(), agent.http, station.acknowledged);
  CHECK(agent.process->terminate() == 0);
}

TEST_CASE("replay: PostgreSQL stopped and started during replay resumes by itself, exactly once") {
  const auto start = Clock::now();
  TempDir dir("wl-faults");
  StationBackend backend(dir);
  FaultProxy proxy(backend.grpc(), 3);
  proxy.set_delay(20ms);  // a WAN-like link in front of the backend
  proxy.set_mode(FaultMode::delay);
  AgentProcess agent(dir, backend.agent_args(proxy.address()), kAgentConfig);
  PgCluster& pg = backend.pg();
  const auto in_pg = [&] {
    return std::stoull(pg.query_scalar("select count(*) from mutation_log"));
  };

  Producers producers(agent.http, 2, "pg", 5ms);
  int stopped_in_flight = 0;  // cycles that stopped PostgreSQL with a Replay call under way
  for (int cycle = 0; cycle < 3; ++cycle) {
    // Stop it while the agent has mutations to send, at best with a Replay call under way.
    const auto before = in_pg();
    REQUIRE(eventually([&] { return in_pg() > before; }, 20s));
    if (eventually([&] { return agent_status(agent.http).at("uplink").at("in_flight") != 0; }, 2s,
                   1ms)) {
      ++stopped_in_flight;
    }
    const bool crash = cycle % 2 == 1;
    pg.stop(crash);
    // The outage is seen: calls fail, the agent goes offline and backs off.
    CHECK(eventually([&] { return agent_status(agent.http).at("uplink").at("state") == "offline"; },
                     10s));
    if (cycle == 2) proxy.cut_all();  // and the link flaps while the database is down
    // Down until the agent has met the outage twice more: its retries fail and back off.
    const auto failed_at_stop = consecutive_failures(agent.http);
    CHECK(eventually([&] { return consecutive_failures(agent.http) >= failed_at_stop + 2; }, 20s));
    pg.start();
    // Replay resumes with no operator step.
    const auto at_restart = in_pg();
    REQUIRE_MESSAGE(eventually([&] { return in_pg() > at_restart; }, 30s),
                    "replay did not resume after PostgreSQL restarted (cycle "
                        << cycle << ")\nbackend log tail:\n"
                        << file_tail(dir / "backend.log") << "\nagent log tail:\n"
                        << file_tail(dir / "agent.log"));
  }
  producers.stop();
  const auto acknowledged = producers.acknowledged();
  CHECK(producers.failures().empty());
  REQUIRE_MESSAGE(wait_drained(agent.http, 30s), json::serialize(agent_status(agent.http)));
  const auto duplicates = check_exactly_once(pg, agent.http, acknowledged);
  MESSAGE("PostgreSQL restarts: " << acknowledged.size() << " mutations acknowledged, all in "
                                  << "PostgreSQL exactly once (" << duplicates
                                  << " answered DUPLICATE), " << stopped_in_flight
                                  << " of 3 stops with a Replay call under way, "
                                  << seconds_since(start) << " s");
  CHECK(agent.process->terminate() == 0);
}
