// bench_outbox: the command line, the run of its three parts, and the report; the method is below.
//
// Durable outbox: enqueue latency against the disk's own fsync latency, and throughput with
// concurrent producers against raw SQLite with the same pragmas, all measured in the same run, in
// the same directory.
//
// 1. fsync floor (fsync_floor.cpp): 4 KiB pwrite + fdatasync, N times, appending to a new file
//    (the file grows, as the WAL does until its first checkpoint) and overwriting a written 1 MiB
//    file in place (as the WAL does after a checkpoint restarts it).
// 2. Latency (latency.cpp): one producer calling Outbox::enqueue_wait N times (unique idempotency
//    keys, a 659-byte weighing.captured payload), beside one raw SQLite connection
//    (raw_sqlite.cpp) doing BEGIN IMMEDIATE; INSERT; COMMIT N times on the same schema. Then the
//    pages one commit writes to the WAL, for each (the WAL's growth over 64 commits after a
//    TRUNCATE checkpoint).
// 3. Throughput (throughput.cpp): P producer threads (1, 8, 64) each calling enqueue_wait in a loop
//    for S seconds (or --count mutations each), against P threads each with its own raw SQLite
//    connection (journal_mode=WAL, synchronous=FULL, busy_timeout, BEGIN IMMEDIATE; INSERT; COMMIT
//    per mutation: an application without group commit). SQLITE_BUSY that outlasts busy_timeout
//    is retried and counted; every run checks the rows in the file against the mutations it
//    counted.
// 4. One producer, paired (throughput.cpp): weighlink and raw SQLite taking turns in 0.25 s slices
//    on one thread, --paired-seconds each, so that a change of the disk's pace falls on both.
//
// Each database is a fresh file in a fresh directory (removed at the end). No timing assertions;
// not part of `make test`. docs/performance.md, "Outbox: durable enqueue and group commit".

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "outbox_bench.hpp"

namespace weighlink::bench::outbox {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr const char* kUsage =
    "usage: bench_outbox [--dir DIR] [--iterations N] [--seconds S] [--count N]\n"
    "                    [--producers 1,8,64] [--busy-timeout MS] [--paired-seconds S]\n"
    "                    [--paired-slice S] [--json FILE]";

fs::path g_run_dir;  // removed by die() too

Options parse(int argc, char** argv) {
  Options o;
  Flags flags;
  flags.values = {
      {"--dir", [&](const std::string& v) { o.dir = v; }},
      {"--json", [&](const std::string& v) { o.json_path = v; }},
      {"--iterations", [&](const std::string& v) { o.iterations = std::stoul(v); }},
      {"--seconds", [&](const std::string& v) { o.seconds = std::stod(v); }},
      {"--count", [&](const std::string& v) { o.count = std::stoul(v); }},
      {"--producers",
       [&](const std::string& v) {
         o.producers = parse_counts(v);
         if (std::any_of(o.producers.begin(), o.producers.end(), [](int p) { return p < 1; })) {
           throw std::invalid_argument("--producers takes positive counts, e.g. 1,8,64");
         }
       }},
      {"--busy-timeout", [&](const std::string& v) { o.busy_timeout_ms = std::stoi(v); }},
      {"--paired-seconds", [&](const std::string& v) { o.paired_seconds = std::stod(v); }},
      {"--paired-slice", [&](const std::string& v) { o.paired_slice = std::stod(v); }},
  };
  parse_flags(argc, argv, flags, kUsage);
  if (o.iterations == 0) throw std::invalid_argument("--iterations must be at least 1");
  if (o.paired_slice <= 0) throw std::invalid_argument("--paired-slice must be above 0");
  return o;
}

// A fresh directory under --dir, else under the build directory, else $TMPDIR or /tmp.
fs::path make_run_dir(const Options& options) {
  fs::path parent;
  if (!options.dir.empty()) {
    parent = options.dir;
    fs::create_directories(parent);
  } else if (std::error_code ec; fs::is_directory(WEIGHLINK_BUILD_DIR, ec)) {
    parent = WEIGHLINK_BUILD_DIR;
  } else {
    const char* tmp = std::getenv("TMPDIR");
    parent = tmp && *tmp ? tmp : "/tmp";
  }
  std::string pattern = (parent / "bench-outbox-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) die("cannot create a directory in " + parent.string());
  return fs::absolute(pattern);
}

struct RemoveDir {
  fs::path dir;
  ~RemoveDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

json::value or_null(double x) { return x < 0 ? json::value(nullptr) : json::value(x); }

// The throughput points, weighlink and raw SQLite taking turns at each producer count.
std::vector<ThroughputResult> run_throughput(const Options& options, const fs::path& dir,
                                             bool counting) {
  if (options.count) {
    std::printf("\nThroughput (%zu mutations per producer)\n", options.count);
  } else {
    std::printf(
        "\nThroughput (%.1f s per point; mutations and mut/s: those completed in that "
        "time; latencies: all;\n  wall s: until the last call in flight returned; busy: "
        "raw SQLITE_BUSY after busy_timeout %d ms, retried)\n",
        options.seconds, options.busy_timeout_ms);
  }
  std::printf("  %-9s %9s %10s %7s %9s %11s %9s %8s %8s %9s %12s %7s %9s\n", "system", "producers",
              "mutations", "wall s", "mut/s", "commits/mut", "syncs/mut", "p50 ms", "p99 ms",
              "max ms", "min/max per", "busy", "fsync p50");
  std::vector<ThroughputResult> results;
  for (const int p : options.producers) {
    for (int system = 0; system < 2; ++system) {
      // The disk can change pace between points: its floor next to each, to read rows by.
      const auto disk = measure_fsync(dir / "fsync-point.bin",
                                      std::min<std::size_t>(options.iterations, 200), false);
      auto r =
          system == 0 ? throughput_weighlink(options, dir, p) : throughput_raw(options, dir, p);
      r.disk = disk;
      char spread[32];
      std::snprintf(spread, sizeof spread, "%llu/%llu",
                    static_cast<unsigned long long>(r.min_per_producer),
                    static_cast<unsigned long long>(r.max_per_producer));
      r.syncs_per_mutation = per_mutation(counting, r.syncs, r.mutations);
      std::printf("  %-9s %9d %10llu %7.2f %9.0f %11.3f %9s %8.2f %8.2f %9.2f %12s %7s %9.3f\n",
                  r.system == "weighlink" ? "weighlink" : "raw", p,
                  static_cast<unsigned long long>(r.in_window), r.wall_seconds, r.per_s,
                  r.commits_per_mutation, format_syncs(r.syncs_per_mutation).c_str(), r.latency.p50,
                  r.latency.p99, r.latency.max, spread,
                  r.system == "weighlink" ? "-" : std::to_string(r.busy.total()).c_str(),
                  r.disk.p50);
      std::fflush(stdout);
      results.push_back(std::move(r));
    }
  }
  return results;
}

// weighlink over raw SQLite in mutations per second, at each producer count.
json::array throughput_ratios(const Options& options,
                              const std::vector<ThroughputResult>& results) {
  std::printf("\n  producers   weighlink/raw mut/s\n");
  json::array ratios;
  for (const int p : options.producers) {
    const ThroughputResult* w = nullptr;
    const ThroughputResult* raw = nullptr;
    for (const auto& r : results) {
      if (r.producers != p) continue;
      (r.system == "weighlink" ? w : raw) = &r;
    }
    if (!w || !raw) continue;
    const double x = ratio(w->per_s, raw->per_s);
    std::printf("  %9d   %19.2f\n", p, x);
    ratios.push_back(json::object{{"producers", p}, {"throughput_weighlink_over_raw", x}});
  }
  return ratios;
}

json::object throughput_json(const ThroughputResult& r) {
  return json::object{{"system", r.system},
                      {"producers", r.producers},
                      {"mutations", r.mutations},
                      {"mutations_in_window", r.in_window},
                      {"seconds", r.seconds},
                      {"wall_seconds", r.wall_seconds},
                      {"mutations_per_s", r.per_s},
                      {"commits", r.commits},
                      {"commits_per_mutation", r.commits_per_mutation},
                      {"syncs_per_mutation", or_null(r.syncs_per_mutation)},
                      {"latency", to_json(r.latency)},
                      {"min_per_producer", r.min_per_producer},
                      {"max_per_producer", r.max_per_producer},
                      {"busy_retries", json::object{{"begin", r.busy.busy_begin},
                                                    {"insert", r.busy.busy_insert},
                                                    {"commit", r.busy.busy_commit}}},
                      {"rows_in_file", r.rows_in_file},
                      {"fsync_overwrite_before", to_json(r.disk)}};
}

json::object latency_json(const LatencyResult& l) {
  const auto& w = l.weighlink;
  return json::object{
      {"weighlink", to_json(w)},
      {"weighlink_commits_per_mutation", l.weighlink_commits_per_mutation},
      {"weighlink_syncs_per_mutation", or_null(l.weighlink_syncs)},
      {"raw_sqlite", to_json(l.raw)},
      {"raw_sqlite_syncs_per_mutation", or_null(l.raw_syncs)},
      {"weighlink_wal_frames_per_commit", l.weighlink_frames_per_commit},
      {"raw_sqlite_wal_frames_per_commit", l.raw_frames_per_commit},
      {"weighlink_over_fsync_append", json::object{{"p50", ratio(w.p50, l.fsync_append.p50)},
                                                   {"p99", ratio(w.p99, l.fsync_append.p99)}}},
      {"weighlink_over_fsync_overwrite",
       json::object{{"p50", ratio(w.p50, l.fsync_overwrite.p50)},
                    {"p99", ratio(w.p99, l.fsync_overwrite.p99)}}}};
}

}  // namespace

[[noreturn]] void die(const std::string& message) {
  // No destructors run, so the directory goes here.
  std::fprintf(stderr, "bench_outbox: %s\n", message.c_str());
  std::fflush(stdout);
  std::fflush(stderr);
  if (!g_run_dir.empty()) {
    std::error_code ec;
    fs::remove_all(g_run_dir, ec);
  }
  std::_Exit(1);
}

json::object to_json(const Percentiles& ms) {
  return json::object{{"n", ms.n},
                      {"p50_ms", ms.p50},
                      {"p99_ms", ms.p99},
                      {"mean_ms", ms.mean},
                      {"max_ms", ms.max}};
}

double micros_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

int run(const Options& options) {
  const fs::path dir = make_run_dir(options);
  g_run_dir = dir;
  const RemoveDir cleanup{dir};
  const std::string fs_name = filesystem_name(dir);

  std::printf("bench_outbox: %s (%s), SQLite %s, %u hardware threads\n", dir.c_str(),
              fs_name.c_str(), sqlite3_libversion(), std::thread::hardware_concurrency());
  if (fs_name == "tmpfs") {
    std::printf("  warning: tmpfs keeps nothing across a power cut; fsync there costs nothing\n");
  }
  const double load_before = load_average();
  const auto latency = run_latency(options, dir);
  const auto results = run_throughput(options, dir, latency.counting);
  auto ratios = throughput_ratios(options, results);
  json::value paired = nullptr;
  if (options.paired_seconds > 0) {
    const auto p = one_producer_paired(options, dir);
    std::printf(
        "\nOne producer, paired (the two taking turns, %d slices of %.2f s each):\n"
        "  weighlink %.0f mut/s (p50 %.3f ms), raw SQLite %.0f mut/s (p50 %.3f ms): "
        "weighlink/raw %.2f\n",
        p.slices, options.paired_slice, p.weighlink_per_s, p.weighlink.p50, p.raw_per_s, p.raw.p50,
        ratio(p.weighlink_per_s, p.raw_per_s));
    paired = json::object{{"slices", p.slices},
                          {"slice_seconds", options.paired_slice},
                          {"seconds_each", p.seconds_each},
                          {"weighlink_mutations_per_s", p.weighlink_per_s},
                          {"raw_sqlite_mutations_per_s", p.raw_per_s},
                          {"throughput_weighlink_over_raw", ratio(p.weighlink_per_s, p.raw_per_s)},
                          {"weighlink_latency", to_json(p.weighlink)},
                          {"raw_sqlite_latency", to_json(p.raw)}};
  }
  // The disk's latency drifts (shared hosts): the floor again, after everything else.
  const auto fsync_append_after = measure_fsync(dir / "fsync-append.bin", options.iterations, true);
  const auto fsync_over_after =
      measure_fsync(dir / "fsync-overwrite.bin", options.iterations, false);
  std::printf(
      "\nfsync floor again at the end: append p50 %.3f p99 %.3f ms, overwrite p50 %.3f p99 "
      "%.3f ms\n",
      fsync_append_after.p50, fsync_append_after.p99, fsync_over_after.p50, fsync_over_after.p99);
  const double load_after = load_average();
  std::printf("load average %.2f before, %.2f after\n", load_before, load_after);

  if (!options.json_path.empty()) {
    json::array rows;
    for (const auto& r : results) rows.push_back(throughput_json(r));
    json::object root{{"benchmark", "outbox"},
                      {"filesystem", fs_name},
                      {"sqlite_version", sqlite3_libversion()},
                      {"hardware_threads", std::thread::hardware_concurrency()},
                      {"iterations", options.iterations},
                      {"seconds", options.seconds},
                      {"count_per_producer", options.count},
                      {"busy_timeout_ms", options.busy_timeout_ms},
                      {"payload_bytes", make_payload(0).size()},
                      {"load_average_before", load_before},
                      {"load_average_after", load_after},
                      {"fsync", json::object{{"append", to_json(latency.fsync_append)},
                                             {"overwrite", to_json(latency.fsync_overwrite)}}},
                      {"fsync_at_end", json::object{{"append", to_json(fsync_append_after)},
                                                    {"overwrite", to_json(fsync_over_after)}}},
                      {"latency", latency_json(latency)},
                      {"throughput", std::move(rows)},
                      {"ratios", std::move(ratios)},
                      {"one_producer_paired", std::move(paired)}};
    if (!write_json(options.json_path, root)) die("cannot write " + options.json_path);
  }
  return 0;
}

}  // namespace weighlink::bench::outbox

int main(int argc, char** argv) {
  namespace outbox = weighlink::bench::outbox;
  return weighlink::bench::bench_main("bench_outbox", argc, argv, outbox::parse, outbox::run, 1);
}
