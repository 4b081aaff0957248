// bench_outbox, part 3: P producers' durable mutations per second, the outbox against raw SQLite.
#include <algorithm>
#include <cstdio>
#include <latch>
#include <thread>

#include "outbox_bench.hpp"

namespace weighlink::bench::outbox {
namespace {

namespace fs = std::filesystem;

struct ProducerRun {
  std::vector<std::vector<double>> latencies;  // µs, per producer
  std::vector<std::vector<double>> ends;       // s from the start line, per producer
  double window = 0;  // --seconds; with --count, until the last producer returned
  double wall = 0;    // until the last producer returned (calls in flight at the stop included)
};

// Runs `producers` threads, each calling `one(mutation)` (one durable mutation) until the time is
// up or it has done `count`. `setup(p)` runs on producer p's thread before the start line and
// returns its `one`. A call in flight when the time is up finishes; it counts for latency, not
// for throughput (a raw connection asleep in SQLite's busy handler can take seconds to return).
template <class Setup>
ProducerRun run_producers(const Options& options, const std::string& run, int producers,
                          Setup&& setup) {
  ProducerRun out;
  out.latencies.resize(static_cast<std::size_t>(producers));
  out.ends.resize(static_cast<std::size_t>(producers));
  std::atomic<bool> stop{false};
  std::latch ready(producers + 1);
  Clock::time_point start;  // written before the latch opens, read after
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(producers));
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      auto one = setup(p);  // per-thread state (a raw connection) before the clock starts
      auto& us = out.latencies[static_cast<std::size_t>(p)];
      auto& ends = out.ends[static_cast<std::size_t>(p)];
      us.reserve(options.count ? options.count : 4096);
      ends.reserve(options.count ? options.count : 4096);
      ready.arrive_and_wait();
      for (std::uint64_t n = 0;
           options.count ? n < options.count : !stop.load(std::memory_order_relaxed); ++n) {
        auto m = make_mutation(run, p, n);
        const auto t0 = Clock::now();
        one(std::move(m));
        const auto t1 = Clock::now();
        us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        ends.push_back(std::chrono::duration<double>(t1 - start).count());
      }
    });
  }
  start = Clock::now();
  ready.arrive_and_wait();
  if (!options.count) {
    std::this_thread::sleep_until(start + std::chrono::duration<double>(options.seconds));
    stop = true;
  }
  for (auto& t : threads) t.join();
  out.wall = micros_since(start) / 1e6;
  out.window = options.count ? out.wall : options.seconds;
  return out;
}

void fill(ThroughputResult& r, const ProducerRun& run) {
  std::vector<double> all;
  r.min_per_producer = UINT64_MAX;
  for (const auto& us : run.latencies) {
    all.insert(all.end(), us.begin(), us.end());
    r.min_per_producer = std::min<std::uint64_t>(r.min_per_producer, us.size());
    r.max_per_producer = std::max<std::uint64_t>(r.max_per_producer, us.size());
  }
  for (const auto& ends : run.ends) {
    r.in_window += static_cast<std::uint64_t>(
        std::count_if(ends.begin(), ends.end(), [&](double t) { return t <= run.window; }));
  }
  r.mutations = all.size();
  r.seconds = run.window;
  r.wall_seconds = run.wall;
  r.per_s = static_cast<double>(r.in_window) / run.window;
  r.latency = percentiles(std::move(all), 1000.0);
  r.commits_per_mutation =
      r.mutations ? static_cast<double>(r.commits) / static_cast<double>(r.mutations) : 0;
}

}  // namespace

// A static weighing from a three-deck indicator, shaped like the agent's capture payload
// (agent/src/core/captures.cpp).
std::string make_payload(std::uint64_t n) {
  char buf[1024];
  const int len = std::snprintf(
      buf, sizeof buf,
      R"({"station_id":"ST-0042-KIBWEZI","type":"static","scale":"main","weight":"%llu",)"
      R"("unit":"kg","mode":"gross","tare":"0","reading_seq":%llu,)"
      R"("reading_ts":"2026-11-21T14:03:07.412Z","protocol":"cardinal-deck",)"
      R"("raw":"\u0002D1  12840kg G\r\nD2  15320kg G\r\nD3  %6llukg G\r\nTOTAL %6llukg G\r\n\u0003",)"
      R"("operator":"op-0193","agent_version":"0.1.0","captured_at":"2026-11-21T14:03:07.530Z",)"
      R"("decks":[{"deck":1,"weight":"12840"},{"deck":2,"weight":"15320"},)"
      R"({"deck":3,"weight":"%llu"}],"gvw":"%llu",)"
      R"("reference":{"ticket":"T-2026-%06llu","vehicle":"KCY 482H","trailer":"ZF 7731",)"
      R"("transporter":"Mombasa Freight Ltd","commodity":"cement, bagged","permit":"AL-88812"}})",
      static_cast<unsigned long long>(40000 + n % 1000),
      static_cast<unsigned long long>(1000000 + n),
      static_cast<unsigned long long>(11840 + n % 1000),
      static_cast<unsigned long long>(40000 + n % 1000),
      static_cast<unsigned long long>(11840 + n % 1000),
      static_cast<unsigned long long>(40000 + n % 1000), static_cast<unsigned long long>(n));
  return std::string(buf, static_cast<std::size_t>(std::max(len, 0)));
}

sync::NewMutation make_mutation(const std::string& run, int producer, std::uint64_t n) {
  sync::NewMutation m;
  m.idempotency_key = run + "-" + std::to_string(producer) + "-" + std::to_string(n);
  m.kind = "weighing.captured";
  m.payload_json = make_payload(n);
  // A SHA-256 in hex, the size of the agent's request fingerprint.
  char hash[65];
  std::snprintf(hash, sizeof hash, "%016llx%016llx%016llx%016llx",
                static_cast<unsigned long long>(n), 0x9e3779b97f4a7c15ULL ^ n,
                static_cast<unsigned long long>(producer), 0x243f6a8885a308d3ULL);
  m.request_hash = hash;
  m.created_at_ms = 1'795'000'000'000 + static_cast<std::int64_t>(n);
  return m;
}

ThroughputResult throughput_weighlink(const Options& options, const fs::path& dir, int producers) {
  const auto file = dir / ("throughput-weighlink-" + std::to_string(producers) + ".db");
  auto outbox = open_outbox(file);
  const std::string run = "tw" + std::to_string(producers);
  for (int i = 0; i < kWarmup; ++i) {
    (void)outbox->enqueue_wait(make_mutation(run + "-warm", 0, static_cast<std::uint64_t>(i)));
  }
  const auto before = outbox->stats();
  const auto syncs_before = g_syncs.load();
  std::atomic<std::uint64_t> refused{0};
  const auto produced = run_producers(options, run, producers, [&](int) {
    return [&](sync::NewMutation m) {
      const auto r = outbox->enqueue_wait(std::move(m));
      if (r.status != sync::EnqueueStatus::accepted) ++refused;
    };
  });
  const auto syncs = g_syncs.load() - syncs_before;
  const auto after = outbox->stats();
  outbox->close();
  if (refused) die(std::to_string(refused.load()) + " enqueue_wait calls were not accepted");
  ThroughputResult r;
  r.system = "weighlink";
  r.producers = producers;
  r.commits = after.commits - before.commits;
  r.syncs = syncs;
  fill(r, produced);
  r.rows_in_file = after.pending - before.pending;  // COUNT(*) on the file: all rows stay pending
  if (r.rows_in_file != r.mutations) {
    die("weighlink: " + std::to_string(r.rows_in_file) + " rows added for " +
        std::to_string(r.mutations) + " accepted mutations");
  }
  return r;
}

ThroughputResult throughput_raw(const Options& options, const fs::path& dir, int producers) {
  const auto file = dir / ("throughput-raw-" + std::to_string(producers) + ".db");
  create_raw_db(file);
  const std::string run = "tr" + std::to_string(producers);
  {
    RawConnection warm(file, options.busy_timeout_ms);
    RawCounters ignored;
    for (int i = 0; i < kWarmup; ++i) {
      warm.insert(make_mutation(run + "-warm", 0, static_cast<std::uint64_t>(i)), ignored);
    }
  }
  std::vector<RawCounters> counters(static_cast<std::size_t>(producers));
  // Connections are opened by their threads before the start line and closed after the stop.
  std::vector<std::unique_ptr<RawConnection>> connections(static_cast<std::size_t>(producers));
  const auto syncs_before = g_syncs.load();
  const auto produced = run_producers(options, run, producers, [&](int p) {
    auto& conn = connections[static_cast<std::size_t>(p)];
    conn = std::make_unique<RawConnection>(file, options.busy_timeout_ms);
    return [&conn, &c = counters[static_cast<std::size_t>(p)]](const sync::NewMutation& m) {
      conn->insert(m, c);
    };
  });
  const auto syncs = g_syncs.load() - syncs_before;
  connections.clear();  // the last close checkpoints: not counted
  ThroughputResult r;
  r.system = "raw_sqlite";
  r.producers = producers;
  for (const auto& c : counters) {
    r.busy.busy_begin += c.busy_begin;
    r.busy.busy_insert += c.busy_insert;
    r.busy.busy_commit += c.busy_commit;
  }
  // One transaction per mutation: every successful insert is one commit.
  std::uint64_t done = 0;
  for (const auto& us : produced.latencies) done += us.size();
  r.commits = done;
  r.syncs = syncs;
  fill(r, produced);
  RawConnection check(file, options.busy_timeout_ms);
  r.rows_in_file = static_cast<std::uint64_t>(check.count_rows()) - kWarmup;
  if (r.rows_in_file != r.mutations) {
    die("raw SQLite: " + std::to_string(r.rows_in_file) + " rows added for " +
        std::to_string(r.mutations) + " counted mutations");
  }
  return r;
}

// One producer, the two systems taking turns in short slices (weighlink, raw, raw, weighlink, ...)
// on files kept open: a disk that changes pace for seconds, or a neighbour's build, falls on both
// alike, which two 3 s points one after the other do not ensure on a shared machine.
PairedResult one_producer_paired(const Options& options, const fs::path& dir) {
  PairedResult out;
  auto outbox = open_outbox(dir / "paired-weighlink.db");
  const auto raw_file = dir / "paired-raw.db";
  create_raw_db(raw_file);
  RawConnection raw(raw_file, options.busy_timeout_ms);
  RawCounters counters;
  auto weighlink_one = [&](const sync::NewMutation& m) {
    if (outbox->enqueue_wait(m).status != sync::EnqueueStatus::accepted) {
      die("enqueue_wait: not accepted in the paired run");
    }
  };
  for (int i = 0; i < kWarmup; ++i) {
    weighlink_one(make_mutation("pw-warm", 0, static_cast<std::uint64_t>(i)));
    raw.insert(make_mutation("pr-warm", 0, static_cast<std::uint64_t>(i)), counters);
  }
  const auto slice = std::chrono::duration<double>(options.paired_slice);
  out.slices = std::max(1, static_cast<int>(options.paired_seconds / options.paired_slice + 0.5));
  std::vector<double> us[2];
  double seconds[2] = {0, 0};
  std::uint64_t n = 0;
  for (int s = 0; s < 2 * out.slices; ++s) {
    const int system = (s % 2) ^ ((s / 2) % 2);  // 0 1 1 0 0 1 1 0 ...: neither always first
    const auto start = Clock::now();
    const auto end = start + std::chrono::duration_cast<Clock::duration>(slice);
    for (auto now = start; now < end; ++n) {
      auto m = make_mutation(system == 0 ? "pw" : "pr", 0, n);
      if (system == 0) {
        weighlink_one(m);
      } else {
        raw.insert(m, counters);
      }
      const auto t = Clock::now();
      us[system].push_back(std::chrono::duration<double, std::micro>(t - now).count());
      now = t;
    }
    seconds[system] += micros_since(start) / 1e6;
  }
  outbox->close();
  out.seconds_each = (seconds[0] + seconds[1]) / 2;
  out.weighlink_per_s = static_cast<double>(us[0].size()) / seconds[0];
  out.raw_per_s = static_cast<double>(us[1].size()) / seconds[1];
  out.weighlink = percentiles(std::move(us[0]), 1000.0);
  out.raw = percentiles(std::move(us[1]), 1000.0);
  return out;
}

}  // namespace weighlink::bench::outbox
