#pragma once
// bench_replay's parts (drain, psql, fan-in, stations, backend, report) and what they share.

#include <grpcpp/support/status.h>
#include <sys/types.h>

#include <atomic>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <latch>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../bench_util.hpp"
#include "weighlink/pg/pg.hpp"
#include "weighlink/sync/outbox.hpp"
#include "weighlink/sync/v1/sync.grpc.pb.h"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"

namespace weighlink::bench::replay {

constexpr const char* kDrainStation = "st-drain";

struct Options {
  std::size_t backlog = 100000;
  int producers = 16;
  std::size_t batch = 200;  // the agent's replay_batch_size
  std::size_t stations = 200;
  std::size_t per_station = 5000;
  std::size_t fanin_batch = 0;  // 0: adaptive, like the agent
  std::string workers;          // passed to serve when set
  std::string max_queue;
  bool pg_fsync = true;
  bool drain = true;
  bool fanin = true;
  bool rss = true;                 // the agent's memory with a backend (agent_rss.cpp)
  std::size_t rss_captures = 300;  // captured and replayed during it
  double timeout_s = 900;          // per timed phase
  int pg_statements = 0;           // > 0: report PostgreSQL's top statements (pg_stat_statements)
  std::string json_path;
};

// SIGINT / SIGTERM: every loop stops; check_stop() throws once it is set.
extern std::atomic<bool> g_stop;
void check_stop();

// Runs `threads` threads that share out the indices 0..count-1: each makes its own worker with
// `make()` (per-thread state, such as a connection) and calls it with every index it takes. The
// first exception stops them all (g_stop) and is thrown again, `what` in front of it.
template <class Make>
void share_out(int threads, std::size_t count, const std::string& what, Make make) {
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::string error;
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      try {
        auto work = make();
        for (std::size_t i = next++; i < count && !g_stop; i = next++) work(i);
      } catch (const std::exception& e) {
        const std::lock_guard lock(mu);
        if (error.empty()) error = e.what();
        g_stop = true;
      }
    });
  }
  for (auto& t : pool) t.join();
  if (!error.empty()) throw std::runtime_error(what + error);
  check_stop();
}

// ---------------------------------------------------------------------------------------------
// The backend and its PostgreSQL (backend.cpp).

// A connection of the benchmark's own (polling, checks) over weighlink::pg, statements
// unbounded; every failure throws with the statement.
class BenchDb {
 public:
  explicit BenchDb(const std::string& dsn);
  // Every row, text columns.
  pg::PgResult query(const std::string& sql);
  // First column of the first row ("" for none or NULL).
  std::string scalar(const std::string& sql);
  std::int64_t number(const std::string& sql);

 private:
  pg::PgConnection conn_;
};

// A part's throwaway cluster (fsync as --pg-fsync says; pg_stat_statements loaded with
// --pg-statements), migrated, and a temporary directory.
struct PartCluster {
  PartCluster(const Options& options, const std::string& dir_prefix);
  testing::PgCluster pg;
  testing::TempDir dir;
};

// The postmaster's pid, from its pid file.
pid_t postmaster_pid(const testing::PgCluster& pg);
// Every PostgreSQL process of the cluster: the postmaster, its live children, and its reaped
// children (cutime), so a psql session's server process counts after it exited.
double postgres_cpu_s(pid_t postmaster);

// --pg-statements N: PostgreSQL's top N statements by total execution time since the last
// pg_stat_statements_reset(): where its time went.
struct Statement {
  std::string query;  // whitespace collapsed
  std::int64_t calls = 0;
  double total_ms = 0;
  std::int64_t rows = 0;
};
std::vector<Statement> top_statements(BenchDb& db, int n);
void print_statements(const std::vector<Statement>& statements);
boost::json::array statements_json(const std::vector<Statement>& statements);

// `serve` flags beyond --dsn and the listeners: --workers and --max-queue when given.
std::vector<std::string> serve_flags(const Options& options);
// The backend's counters from GET /metrics (name with labels -> value), and one of them (0 if
// absent).
std::map<std::string, double> backend_metrics(const std::string& http);
double metric(const std::map<std::string, double>& m, const std::string& name);

// ---------------------------------------------------------------------------------------------
// 1. Drain (drain.cpp) against psql (psql_baseline.cpp).

struct FillResult {
  double seconds = 0;
  std::uint64_t captures = 0;
  std::uint64_t retried = 0;  // 409/503 answers retried (the simulated scale is always stable)
};

// One timed load of the backlog into PostgreSQL: psql's, or the agent's through the backend.
struct TimedRun {
  std::string name;
  double seconds = 0;
  double per_s = 0;
  double client_cpu_s = 0;  // psql; or agent + backend
  double postgres_cpu_s = 0;
  std::int64_t rows = 0;  // checked after the run
  double load_before = 0;
  MachineCpu machine;  // during the run
};

struct DrainResult {
  FillResult fill;
  double payload_bytes_mean = 0;
  std::vector<TimedRun> runs;  // psql ml, psql ml+w, weighlink, psql ml, psql ml+w
  double agent_ready_s = 0;
  double first_row_s = 0;  // the high water first moved
  double agent_cpu_s = 0;
  double backend_cpu_s = 0;
  double agent_peak_rss_mb = 0;
  double backend_peak_rss_mb = 0;
  std::int64_t weighings = 0;
  std::vector<std::string> backend_flags;
  std::vector<Statement> statements;  // --pg-statements, during the weighlink drain
};

DrainResult run_drain(const Options& options);
// `count` real captures into the agent at `address` (POST /v1/captures) from `producers`
// keep-alive HTTP clients, each with its own Idempotency-Key.
FillResult fill_outbox(const std::string& address, std::size_t count, int producers);

// Copies of the backend's tables (schemas psql_log and psql_both) and the psql scripts that fill
// them with `rows`, `batch` rows per statement: DIR/log.sql and DIR/both.sql.
void write_psql_scripts(BenchDb& db, const std::vector<sync::OutboxRow>& rows,
                        const std::filesystem::path& dir, std::size_t batch);
// psql runs both scripts, each timed into an emptied copy (`suffix` ends the runs' names).
void run_psql_pair(const testing::PgCluster& pg, BenchDb& db, const std::filesystem::path& dir,
                   std::size_t expected, const char* suffix, std::vector<TimedRun>& runs);

// ---------------------------------------------------------------------------------------------
// 2. Fan-in (fanin.cpp) of simulated stations (station.cpp).

// What calls got: per station, and summed over the stations.
struct CallCounts {
  std::map<grpc::StatusCode, std::uint64_t> hello_errors;
  std::map<grpc::StatusCode, std::uint64_t> replay_errors;
  std::uint64_t hello_calls = 0;
  std::uint64_t replay_calls = 0;
  std::uint64_t replay_ok = 0;
  std::uint64_t applied = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t rejected = 0;
  std::uint64_t retry_after_hints = 0;
  std::map<std::string, std::string> messages;  // "Hello UNAVAILABLE" -> the first message
  CallCounts& operator+=(const CallCounts& other);
};

struct StationResult {
  CallCounts calls;
  std::uint64_t high_water = 0;
  double finish_s = -1;  // -1: not drained
  std::uint64_t max_batch_trailers = 0;
  double waited_s = 0;  // in backoff
  std::vector<double> ok_latency_ms;
  std::size_t final_batch = 0;
};

struct FaninResult {
  CallCounts calls;
  std::vector<std::string> backend_flags;
  double setup_s = 0;
  double drain_s = 0;  // until the last station's high water reached per_station
  bool drained = false;
  std::size_t stations_drained = 0;
  double first_station_s = 0;
  double median_station_s = 0;
  double waited_s_total = 0;
  Percentiles latency_ms;  // of the Replay calls answered OK
  double mean_batch = 0;
  double backend_idle_rss_mb = 0;
  double backend_peak_rss_mb = 0;  // VmHWM
  double backend_rss_end_mb = 0;
  double backend_cpu_s = 0;
  double postgres_cpu_s = 0;
  double bench_cpu_s = 0;
  double load_before = 0;
  double load_after = 0;
  MachineCpu machine;
  std::int64_t rows = 0;
  std::int64_t weighings = 0;
  std::int64_t stations_at_high_water = 0;
  std::int64_t min_high_water = 0;
  std::int64_t max_high_water = 0;
  std::map<std::string, double> metrics;
  std::vector<std::uint64_t> acked_per_second;
  std::vector<Statement> statements;  // --pg-statements
};

// One simulated station as the agent's worker replays: seqs 1..`total` of `station`.
struct StationPlan {
  std::string station;
  std::string token;
  std::uint64_t total = 0;
  std::size_t max_batch = 0;    // the adaptive batch's ceiling
  std::size_t fixed_batch = 0;  // 0: adaptive
  Clock::time_point deadline;   // gives up past it
};

FaninResult run_fanin(const Options& options);
// Waits at `go`, then replays until the backend holds every seq, the deadline passes or the
// benchmark stops; `acked` counts acknowledged mutations over all stations.
void run_station(const StationPlan& plan, sync::v1::SyncService::Stub& stub,
                 const Clock::time_point& start, std::latch& go, std::atomic<std::uint64_t>& acked,
                 StationResult& r);

// ---------------------------------------------------------------------------------------------
// 3. The agent's memory with a backend configured (agent_rss.cpp).

// What /proc/PID/smaps says of one mapped thing (a file, "[heap]", "[anon]", "[stack]").
struct RssMapping {
  std::string name;
  double rss_kb = 0;
  double pss_kb = 0;
  double anon_kb = 0;
};

// The agent's memory at one stage of the run.
struct RssPoint {
  std::string stage;
  double peak_rss_mb = 0;  // VmHWM
  double rss_mb = 0;       // VmRSS
  double rss_anon_mb = 0;
  double rss_file_mb = 0;
  double pss_mb = 0;  // smaps_rollup
  int threads = 0;
};

struct RssResult {
  std::size_t captures = 0;
  double seconds = 0;  // from the first capture until the last is acknowledged
  std::uint64_t retried = 0;
  std::int64_t last_seq = 0;  // the captures and the agent's audit events
  std::int64_t backend_rows = 0;
  std::uint64_t live_readings = 0;
  std::size_t page_bytes = 0;
  double load_before = 0;
  std::vector<RssPoint> points;  // started; live client and page; captures replayed
  std::map<std::string, int> threads;
  std::vector<RssMapping> mappings;  // at the end, largest RSS first
};

RssResult run_agent_rss(const Options& options);

// grpc::StatusCode's name ("RESOURCE_EXHAUSTED").
std::string code_name(grpc::StatusCode code);

// ---------------------------------------------------------------------------------------------
// The report (report.cpp): printed, and the JSON objects of `make bench`'s replay.json.

boost::json::value print_drain(const DrainResult& d, const Options& options);
boost::json::value print_fanin(const FaninResult& f, const Options& options);
boost::json::value print_agent_rss(const RssResult& r);

}  // namespace weighlink::bench::replay
