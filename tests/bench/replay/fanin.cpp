// bench_replay, part 2: many simulated stations reconnecting to one backend at once.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <thread>

#include "replay_bench.hpp"
#include "weighlink/testing/backend.hpp"

namespace weighlink::bench::replay {
namespace {

namespace pb = weighlink::sync::v1;
namespace wt = weighlink::testing;

// The stations' ids ("fan-000", ...) and tokens, registered with `station add` from 4 threads.
void register_stations(const std::string& dsn, std::vector<std::string>& ids,
                       std::vector<std::string>& tokens) {
  std::printf("Fan-in: registering %zu stations...\n", ids.size());
  std::fflush(stdout);
  share_out(4, ids.size(), "", [&] {
    return [&](std::size_t i) {
      char id[32];
      std::snprintf(id, sizeof id, "fan-%03zu", i);
      ids[i] = id;
      tokens[i] = wt::add_station(dsn, ids[i]);
    };
  });
}

// Sums the stations' results into `out`: calls, outcomes, finish times, Replay latencies.
void add_up(const std::vector<StationResult>& results, FaninResult& out) {
  std::vector<double> latencies;
  std::vector<double> finishes;
  double batches_sent = 0;
  for (const auto& r : results) {
    out.calls += r.calls;
    out.waited_s_total += r.waited_s;
    latencies.insert(latencies.end(), r.ok_latency_ms.begin(), r.ok_latency_ms.end());
    batches_sent += static_cast<double>(r.ok_latency_ms.size());
    if (r.finish_s >= 0) finishes.push_back(r.finish_s);
  }
  out.stations_drained = finishes.size();
  out.drained = finishes.size() == results.size();
  if (!finishes.empty()) {
    std::sort(finishes.begin(), finishes.end());
    out.first_station_s = finishes.front();
    out.median_station_s = nearest_rank(finishes, 0.5);
    out.drain_s = finishes.back();
  }
  const auto& c = out.calls;
  out.mean_batch = batches_sent > 0
                       ? static_cast<double>(c.applied + c.duplicates + c.rejected) / batches_sent
                       : 0;
  out.latency_ms = percentiles(std::move(latencies));
}

}  // namespace

FaninResult run_fanin(const Options& options) {
  FaninResult out;
  const auto setup_start = Clock::now();
  PartCluster part(options, "wl-bench-fanin");
  const std::size_t n = options.stations;
  std::vector<std::string> ids(n);
  std::vector<std::string> tokens(n);
  register_stations(part.pg.dsn(), ids, tokens);
  out.backend_flags = serve_flags(options);
  wt::BackendServer backend(part.pg.dsn(), part.dir.path(), out.backend_flags);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  out.backend_idle_rss_mb = status_mb(backend.process().pid(), "VmRSS");

  // One channel per station: its own subchannel, hence its own TCP connection, as stations have.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<pb::SyncService::Stub>> stubs;
  for (std::size_t i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channels.push_back(
        grpc::CreateCustomChannel(backend.grpc(), grpc::InsecureChannelCredentials(), args));
    stubs.push_back(pb::SyncService::NewStub(channels.back()));
  }
  out.setup_s = seconds_since(setup_start);

  std::vector<StationResult> results(n);
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::size_t> exited{0};
  std::latch go(static_cast<std::ptrdiff_t>(n) + 1);
  Clock::time_point start;  // written before the latch opens
  const pid_t master = postmaster_pid(part.pg);
  BenchDb db(part.pg.dsn());
  db.scalar("CHECKPOINT");
  if (options.pg_statements > 0) db.scalar("SELECT pg_stat_statements_reset()");
  out.load_before = load_average();
  const double pg_before = postgres_cpu_s(master);
  const double backend_before = cpu_seconds(backend.process().pid());
  std::vector<std::thread> threads;
  threads.reserve(n);
  const std::uint64_t total = options.per_station;
  std::printf("Fan-in: %zu stations x %zu mutations, starting at once...\n", n,
              options.per_station);
  std::fflush(stdout);
  // Thread start-up is not timed: every station waits at the latch.
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(options.timeout_s));
  for (std::size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      const StationPlan plan{ids[i],        tokens[i],           total,
                             options.batch, options.fanin_batch, deadline};
      run_station(plan, *stubs[i], start, go, acked, results[i]);
      ++exited;
    });
  }
  const double self_before = rusage_cpu_s(RUSAGE_SELF);
  const MachineCpu machine_before = machine_cpu();
  start = Clock::now();
  go.arrive_and_wait();
  const std::uint64_t target = total * n;
  auto next_sample = start + std::chrono::seconds(1);
  auto next_print = start + std::chrono::seconds(10);
  while (true) {
    if (g_stop || seconds_since(start) > options.timeout_s) break;
    if (exited.load() == n) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (Clock::now() >= next_sample) {
      out.acked_per_second.push_back(acked.load());
      next_sample += std::chrono::seconds(1);
    }
    if (Clock::now() >= next_print) {
      std::printf("  %.0f s: %llu of %llu acknowledged\n", seconds_since(start),
                  static_cast<unsigned long long>(acked.load()),
                  static_cast<unsigned long long>(target));
      std::fflush(stdout);
      next_print += std::chrono::seconds(10);
    }
  }
  for (auto& t : threads) t.join();
  out.machine = machine_cpu() - machine_before;
  out.bench_cpu_s = rusage_cpu_s(RUSAGE_SELF) - self_before;
  out.acked_per_second.push_back(acked.load());
  out.backend_cpu_s = cpu_seconds(backend.process().pid()) - backend_before;
  out.postgres_cpu_s = postgres_cpu_s(master) - pg_before;
  out.load_after = load_average();
  out.backend_peak_rss_mb = status_mb(backend.process().pid(), "VmHWM");
  out.backend_rss_end_mb = status_mb(backend.process().pid(), "VmRSS");
  out.metrics = backend_metrics(backend.http());
  if (options.pg_statements > 0) out.statements = top_statements(db, options.pg_statements);
  add_up(results, out);

  out.rows = db.number("SELECT count(*) FROM mutation_log");
  out.weighings = db.number("SELECT count(*) FROM weighings");
  out.stations_at_high_water =
      db.number("SELECT count(*) FROM stations WHERE high_water_seq = " + std::to_string(total));
  out.min_high_water = db.number("SELECT min(high_water_seq) FROM stations");
  out.max_high_water = db.number("SELECT max(high_water_seq) FROM stations");
  backend.terminate();
  return out;
}

}  // namespace weighlink::bench::replay
