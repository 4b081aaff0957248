// bench_outbox, parts 1 and 2: one operation at a time: the fsync floor, raw SQLite, the outbox.
#include <sqlite3.h>

#include <cstdio>

#include "outbox_bench.hpp"

namespace weighlink::bench::outbox {
namespace {

void print_row(const char* name, const Percentiles& s) {
  std::printf("  %-42s %9.3f %9.3f %9.3f %9.3f\n", name, s.p50, s.p99, s.mean, s.max);
}

// BEGIN IMMEDIATE; INSERT; COMMIT on one raw connection, `iterations` times after kWarmup.
Percentiles raw_latency(const Options& options, const std::filesystem::path& file,
                        LatencyResult& out) {
  create_raw_db(file);
  RawConnection conn(file, options.busy_timeout_ms);
  RawCounters counters;
  std::vector<double> us;
  us.reserve(options.iterations);
  std::uint64_t syncs_before = 0;
  for (std::size_t i = 0; i < options.iterations + kWarmup; ++i) {
    if (i == static_cast<std::size_t>(kWarmup)) syncs_before = g_syncs.load();
    const auto m = make_mutation("lr", 0, i);
    const auto start = Clock::now();
    conn.insert(m, counters);
    if (i >= static_cast<std::size_t>(kWarmup)) us.push_back(micros_since(start));
  }
  out.raw_syncs = per_mutation(out.counting, g_syncs.load() - syncs_before, options.iterations);
  return percentiles(std::move(us), 1000.0);
}

// Outbox::enqueue_wait from one producer, `iterations` times after kWarmup.
Percentiles outbox_latency(const Options& options, const std::filesystem::path& file,
                           LatencyResult& out) {
  auto outbox = open_outbox(file);
  std::vector<double> us;
  us.reserve(options.iterations);
  std::uint64_t commits_before = 0;
  std::uint64_t syncs_before = 0;
  for (std::size_t i = 0; i < options.iterations + kWarmup; ++i) {
    if (i == static_cast<std::size_t>(kWarmup)) {
      commits_before = outbox->stats().commits;
      syncs_before = g_syncs.load();
    }
    auto m = make_mutation("lw", 0, i);
    const auto start = Clock::now();
    const auto r = outbox->enqueue_wait(std::move(m));
    const double elapsed = micros_since(start);
    if (r.status != sync::EnqueueStatus::accepted) {
      die("enqueue_wait: not accepted (" + r.message + ")");
    }
    if (i >= static_cast<std::size_t>(kWarmup)) us.push_back(elapsed);
  }
  out.weighlink_syncs =
      per_mutation(out.counting, g_syncs.load() - syncs_before, options.iterations);
  out.weighlink_commits_per_mutation =
      static_cast<double>(outbox->stats().commits - commits_before) /
      static_cast<double>(options.iterations);
  outbox->close();
  return percentiles(std::move(us), 1000.0);
}

// The pages one commit writes: the WAL emptied (a TRUNCATE checkpoint from a connection of its
// own), kFrameCommits mutations one at a time through `one`, then the WAL's frames counted from its
// size. Few enough commits that no automatic checkpoint (1 000 frames) restarts the WAL in between.
constexpr int kFrameCommits = 64;

template <class One>
double wal_frames_per_commit(const std::filesystem::path& file, One&& one) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    die("cannot open " + file.string() + " to count its WAL frames");
  }
  sqlite3_busy_timeout(db, 5000);
  auto single_int = [&](const char* sql, int column) {
    sqlite3_stmt* s = nullptr;
    std::int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      v = sqlite3_column_int64(s, column);
    }
    sqlite3_finalize(s);
    return v;
  };
  const auto page_size = single_int("PRAGMA page_size", 0);
  const bool emptied = single_int("PRAGMA wal_checkpoint(TRUNCATE)", 0) == 0;
  sqlite3_close_v2(db);
  if (!emptied || page_size <= 0) die("cannot empty the WAL of " + file.string());
  for (int i = 0; i < kFrameCommits; ++i) one(static_cast<std::uint64_t>(i));
  std::error_code ec;
  const auto wal_bytes = std::filesystem::file_size(file.string() + "-wal", ec);
  if (ec) die("cannot read the size of " + file.string() + "-wal");
  // A WAL is a 32-byte header and frames of a 24-byte header and one page each.
  const auto frames = (static_cast<std::int64_t>(wal_bytes) - 32) / (page_size + 24);
  if (frames >= 1000) die("the WAL of " + file.string() + " was checkpointed while counting");
  return static_cast<double>(frames) / kFrameCommits;
}

void count_frames(const Options& options, const std::filesystem::path& dir, LatencyResult& out) {
  {
    const auto file = dir / "frames-raw.db";
    create_raw_db(file);
    RawConnection conn(file, options.busy_timeout_ms);
    RawCounters counters;
    for (int i = 0; i < kWarmup; ++i) {
      conn.insert(make_mutation("fr-warm", 0, static_cast<std::uint64_t>(i)), counters);
    }
    out.raw_frames_per_commit = wal_frames_per_commit(
        file, [&](std::uint64_t n) { conn.insert(make_mutation("fr", 0, n), counters); });
  }
  const auto file = dir / "frames-weighlink.db";
  auto outbox = open_outbox(file);
  for (int i = 0; i < kWarmup; ++i) {
    (void)outbox->enqueue_wait(make_mutation("fw-warm", 0, static_cast<std::uint64_t>(i)));
  }
  const auto commits_before = outbox->stats().commits;
  out.weighlink_frames_per_commit = wal_frames_per_commit(file, [&](std::uint64_t n) {
    if (outbox->enqueue_wait(make_mutation("fw", 0, n)).status != sync::EnqueueStatus::accepted) {
      die("enqueue_wait: not accepted while counting WAL frames");
    }
  });
  if (outbox->stats().commits - commits_before != kFrameCommits) {
    die("the outbox did not commit each mutation alone while counting WAL frames");
  }
  outbox->close();
}

}  // namespace

std::string format_syncs(double per_mutation) {
  if (per_mutation < 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", per_mutation);
  return buf;
}

double per_mutation(bool counting, std::uint64_t syncs, std::uint64_t mutations) {
  return counting && mutations ? static_cast<double>(syncs) / static_cast<double>(mutations) : -1.0;
}

LatencyResult run_latency(const Options& options, const std::filesystem::path& dir) {
  LatencyResult out;
  const std::string title =
      "Latency, one at a time (" + std::to_string(options.iterations) + " iterations)";
  std::printf("\n%-44s %9s %9s %9s %9s\n", title.c_str(), "p50 ms", "p99 ms", "mean ms", "max ms");
  const auto floor_syncs_before = g_syncs.load();
  out.fsync_append = measure_fsync(dir / "fsync-append.bin", options.iterations, true);
  // The interposed fdatasync saw every call of the floor measurement: sync counts are valid.
  out.counting = g_syncs.load() - floor_syncs_before == options.iterations + kWarmup;
  print_row("fsync floor: 4 KiB append + fdatasync", out.fsync_append);
  out.fsync_overwrite = measure_fsync(dir / "fsync-overwrite.bin", options.iterations, false);
  print_row("fsync floor: 4 KiB overwrite + fdatasync", out.fsync_overwrite);
  out.raw = raw_latency(options, dir / "latency-raw.db", out);
  print_row("raw SQLite: BEGIN; INSERT; COMMIT", out.raw);
  out.weighlink = outbox_latency(options, dir / "latency-weighlink.db", out);
  print_row("weighlink: Outbox::enqueue_wait", out.weighlink);
  const auto& w = out.weighlink;
  std::printf("  weighlink / fsync append:    p50 %.2f  p99 %.2f\n",
              ratio(w.p50, out.fsync_append.p50), ratio(w.p99, out.fsync_append.p99));
  std::printf("  weighlink / fsync overwrite: p50 %.2f  p99 %.2f\n",
              ratio(w.p50, out.fsync_overwrite.p50), ratio(w.p99, out.fsync_overwrite.p99));
  std::printf("  weighlink / raw SQLite:      p50 %.2f  p99 %.2f\n", ratio(w.p50, out.raw.p50),
              ratio(w.p99, out.raw.p99));
  std::printf("  per mutation: weighlink %.3f commits, %s syncs; raw SQLite %s syncs\n",
              out.weighlink_commits_per_mutation, format_syncs(out.weighlink_syncs).c_str(),
              format_syncs(out.raw_syncs).c_str());
  count_frames(options, dir, out);
  std::printf("  WAL frames (pages) per commit: weighlink %.2f, raw SQLite %.2f\n",
              out.weighlink_frames_per_commit, out.raw_frames_per_commit);
  return out;
}

}  // namespace weighlink::bench::outbox
