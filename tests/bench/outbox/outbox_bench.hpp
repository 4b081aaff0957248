#pragma once
// bench_outbox's parts (fsync floor, raw SQLite, latency, throughput) and what they share.

#include <atomic>
#include <boost/json/object.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "../bench_util.hpp"
#include "weighlink/sync/outbox.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace weighlink::bench::outbox {

constexpr int kWarmup = 20;  // untimed operations before each latency series

struct Options {
  std::string dir;
  std::string json_path;
  std::size_t iterations = 2000;
  double seconds = 3;
  std::size_t count = 0;  // mutations per producer; 0: run for `seconds`
  std::vector<int> producers{1, 8, 64};
  int busy_timeout_ms = 5000;  // the outbox's own busy_timeout
  double paired_seconds = 4;   // per system in the paired one-producer run; 0: left out
  double paired_slice = 0.25;  // seconds per turn in it
};

// Ends the run at once, from any thread, removing the run's directory (main.cpp).
[[noreturn]] void die(const std::string& message);

// Latencies in milliseconds: {"n", "p50_ms", "p99_ms", "mean_ms", "max_ms"}.
boost::json::object to_json(const Percentiles& ms);
double micros_since(Clock::time_point start);

// ---------------------------------------------------------------------------------------------
// The disk (fsync_floor.cpp).

// Every fsync and fdatasync of this process, SQLite's included.
extern std::atomic<std::uint64_t> g_syncs;

// 4 KiB pwrite + fdatasync `iterations` times (after kWarmup), appending to a new file or
// overwriting a written 1 MiB file in place; milliseconds.
Percentiles measure_fsync(const std::filesystem::path& file, std::size_t iterations, bool append);
// "ext2/3/4", "tmpfs", ... of the filesystem holding `dir`.
std::string filesystem_name(const std::filesystem::path& dir);

// ---------------------------------------------------------------------------------------------
// The two systems (raw_sqlite.cpp), and what they write (throughput.cpp).

std::unique_ptr<sync::Outbox> open_outbox(const std::filesystem::path& file);
// A fresh database with the outbox's own schema, made by the outbox library.
void create_raw_db(const std::filesystem::path& file);

struct RawCounters {
  std::uint64_t busy_begin = 0;   // BEGIN IMMEDIATE returned SQLITE_BUSY after busy_timeout
  std::uint64_t busy_insert = 0;  // INSERT returned SQLITE_BUSY (transaction rolled back)
  std::uint64_t busy_commit = 0;  // COMMIT returned SQLITE_BUSY (COMMIT retried)
  [[nodiscard]] std::uint64_t total() const { return busy_begin + busy_insert + busy_commit; }
};

// What an application without group commit does: one connection (journal_mode=WAL,
// synchronous=FULL, busy_timeout), one transaction per mutation. Errors die().
class RawConnection {
 public:
  RawConnection(const std::filesystem::path& file, int busy_timeout_ms);
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  ~RawConnection();
  // One mutation in its own transaction, durable when this returns (synchronous=FULL).
  void insert(const sync::NewMutation& m, RawCounters& counters);
  [[nodiscard]] std::int64_t count_rows();

 private:
  void exec_retry(const char* sql);
  sqlite3_stmt* prepare(const char* sql);
  [[noreturn]] void fail(const char* what, int rc);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* rollback_ = nullptr;
};

// A weighing.captured payload like the agent's (`n` makes each one different) and a mutation
// with a key unique per run, producer and `n`.
std::string make_payload(std::uint64_t n);
sync::NewMutation make_mutation(const std::string& run, int producer, std::uint64_t n);

// ---------------------------------------------------------------------------------------------
// 1. and 2. Latency, one operation at a time (latency.cpp).

struct LatencyResult {
  Percentiles fsync_append;
  Percentiles fsync_overwrite;
  Percentiles raw;
  Percentiles weighlink;
  double weighlink_commits_per_mutation = 0;
  double weighlink_syncs = -1;  // per mutation; -1: not counted
  double raw_syncs = -1;
  bool counting = false;  // the interposed fsync saw every call of the floor: syncs are valid
  // Pages written to the WAL by one commit of one mutation.
  double weighlink_frames_per_commit = 0;
  double raw_frames_per_commit = 0;
};

LatencyResult run_latency(const Options& options, const std::filesystem::path& dir);
// Syncs per mutation, or -1 when syncs are not counted; as printed ("n/a" for -1).
double per_mutation(bool counting, std::uint64_t syncs, std::uint64_t mutations);
std::string format_syncs(double per_mutation);
inline double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

// ---------------------------------------------------------------------------------------------
// 3. Throughput (throughput.cpp).

struct ThroughputResult {
  std::string system;  // weighlink | raw_sqlite
  int producers = 0;
  std::uint64_t mutations = 0;  // all, those in flight at the stop included
  std::uint64_t in_window = 0;  // completed within `seconds`
  double seconds = 0;           // the measuring window
  double wall_seconds = 0;      // until the last producer returned
  double per_s = 0;             // in_window / seconds
  std::uint64_t commits = 0;
  double commits_per_mutation = 0;
  std::uint64_t syncs = 0;         // fsync + fdatasync calls during the run
  double syncs_per_mutation = -1;  // -1: not counted
  Percentiles latency;
  std::uint64_t min_per_producer = 0;
  std::uint64_t max_per_producer = 0;
  RawCounters busy;
  std::uint64_t rows_in_file = 0;
  Percentiles disk;  // the fsync floor (overwrite) measured just before this point
};

// One producer, weighlink and raw SQLite taking turns in slices (throughput.cpp).
struct PairedResult {
  int slices = 0;  // per system
  double seconds_each = 0;
  double weighlink_per_s = 0;
  double raw_per_s = 0;
  Percentiles weighlink;
  Percentiles raw;
};
PairedResult one_producer_paired(const Options& options, const std::filesystem::path& dir);

ThroughputResult throughput_weighlink(const Options& options, const std::filesystem::path& dir,
                                      int producers);
ThroughputResult throughput_raw(const Options& options, const std::filesystem::path& dir,
                                int producers);

}  // namespace weighlink::bench::outbox
