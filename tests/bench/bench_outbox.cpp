// Durable outbox: enqueue latency against the disk's own fsync latency, and throughput with
// concurrent producers against raw SQLite with the same pragmas, all measured in the same run, in
// the same directory.
//
// 1. fsync floor: 4 KiB pwrite + fdatasync, N times, appending to a new file (the file grows, as
//    the WAL does until its first checkpoint) and overwriting a written 1 MiB file in place (as the
//    WAL does after a checkpoint restarts it).
// 2. Latency: one producer calling Outbox::enqueue_wait N times (unique idempotency keys, a
//    659-byte weighing.captured payload), beside one raw SQLite connection doing BEGIN IMMEDIATE;
//    INSERT; COMMIT N times on the same schema.
// 3. Throughput: P producer threads (1, 8, 64) each calling enqueue_wait in a loop for S seconds
//    (or --count mutations each), against P threads each with its own raw SQLite connection
//    (journal_mode=WAL, synchronous=FULL, busy_timeout, BEGIN IMMEDIATE; INSERT; COMMIT per
//    mutation: an application without group commit). SQLITE_BUSY that outlasts busy_timeout is
//    retried and counted; every run checks the rows in the file against the mutations it counted.
//
// Each database is a fresh file in a fresh directory (removed at the end). No timing assertions;
// not part of `make test`. docs/performance.md, "Outbox: durable enqueue and group commit".
//
// Usage: bench_outbox [--dir DIR] [--iterations N] [--seconds S] [--count N]
//                     [--producers 1,8,64] [--busy-timeout MS] [--json FILE]

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <latch>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "weighlink/sync/outbox.hpp"

// Every fsync and fdatasync of this process, SQLite's included: these definitions take the place
// of libc's for libsqlite3 too (the executable comes first in symbol lookup), so "syncs per
// mutation" counts what reached the disk, WAL checkpoints included, rather than inferring it from
// commits. If the counter does not move while the fsync floor is measured, the figures say n/a.
namespace {
std::atomic<std::uint64_t> g_syncs{0};
}  // namespace

extern "C" int fdatasync(int fd) {
  g_syncs.fetch_add(1, std::memory_order_relaxed);
  return static_cast<int>(::syscall(SYS_fdatasync, fd));
}

extern "C" int fsync(int fd) {
  g_syncs.fetch_add(1, std::memory_order_relaxed);
  return static_cast<int>(::syscall(SYS_fsync, fd));
}

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace wsync = weighlink::sync;
using weighlink::bench::Clock;
using weighlink::bench::load_average;
using weighlink::bench::nearest_rank;

constexpr int kWarmup = 20;  // untimed operations before each latency series

struct Options {
  std::string dir;
  std::string json_path;
  std::size_t iterations = 2000;
  double seconds = 3;
  std::size_t count = 0;  // mutations per producer; 0: run for `seconds`
  std::vector<int> producers{1, 8, 64};
  int busy_timeout_ms = 5000;  // the outbox's own busy_timeout
};

struct Summary {
  std::size_t n = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double mean_ms = 0;
  double max_ms = 0;
};

// Nearest-rank percentiles over latencies in microseconds.
Summary summarize(std::vector<double> us) {
  Summary s;
  s.n = us.size();
  if (us.empty()) return s;
  std::sort(us.begin(), us.end());
  s.p50_ms = nearest_rank(us, 0.50) / 1000.0;
  s.p99_ms = nearest_rank(us, 0.99) / 1000.0;
  s.mean_ms = std::accumulate(us.begin(), us.end(), 0.0) / static_cast<double>(us.size()) / 1000.0;
  s.max_ms = us.back() / 1000.0;
  return s;
}

json::object to_json(const Summary& s) {
  return json::object{{"n", s.n},
                      {"p50_ms", s.p50_ms},
                      {"p99_ms", s.p99_ms},
                      {"mean_ms", s.mean_ms},
                      {"max_ms", s.max_ms}};
}

double micros_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

fs::path g_run_dir;  // removed by die() too

// Errors end the run at once, from any thread: no destructors run, so the directory goes here.
[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "bench_outbox: %s\n", message.c_str());
  std::fflush(stdout);
  std::fflush(stderr);
  if (!g_run_dir.empty()) {
    std::error_code ec;
    fs::remove_all(g_run_dir, ec);
  }
  std::_Exit(1);
}

std::string filesystem_name(const fs::path& dir) {
  struct statfs st {};
  if (statfs(dir.c_str(), &st) != 0) return "unknown";
  switch (static_cast<unsigned long>(st.f_type)) {
    case 0xEF53:
      return "ext2/3/4";
    case 0x01021994:
      return "tmpfs";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x794C7630:
      return "overlayfs";
    default: {
      char hex[32];
      std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(st.f_type));
      return hex;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The disk's own fsync latency.

// `append`: each 4 KiB write extends a new file, so fdatasync also writes the new size (a journal
// commit on a journalled filesystem). Otherwise each write overwrites a block of a 1 MiB file
// written and synced beforehand.
Summary measure_fsync(const fs::path& file, std::size_t iterations, bool append) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("cannot create " + file.string() + ": " + std::strerror(errno));
  std::vector<char> block(4096);
  constexpr std::size_t kOverwriteBlocks = 256;
  if (!append) {
    std::memset(block.data(), 'x', block.size());
    for (std::size_t i = 0; i < kOverwriteBlocks; ++i) {
      if (::pwrite(fd, block.data(), block.size(), static_cast<off_t>(i * block.size())) !=
          static_cast<ssize_t>(block.size())) {
        die("pwrite " + file.string() + ": " + std::strerror(errno));
      }
    }
    if (::fsync(fd) != 0) die("fsync " + file.string() + ": " + std::strerror(errno));
  }
  std::vector<double> us;
  us.reserve(iterations);
  for (std::size_t i = 0; i < iterations + kWarmup; ++i) {
    std::memset(block.data(), static_cast<int>('a' + i % 26), block.size());
    const std::size_t at = append ? i : i % kOverwriteBlocks;
    const auto start = Clock::now();
    if (::pwrite(fd, block.data(), block.size(), static_cast<off_t>(at * block.size())) !=
        static_cast<ssize_t>(block.size())) {
      die("pwrite " + file.string() + ": " + std::strerror(errno));
    }
    if (::fdatasync(fd) != 0) die("fdatasync " + file.string() + ": " + std::strerror(errno));
    if (i >= static_cast<std::size_t>(kWarmup)) us.push_back(micros_since(start));
  }
  ::close(fd);
  fs::remove(file);
  return summarize(std::move(us));
}

// ---------------------------------------------------------------------------------------------
// Mutations.

// A static weighing from a three-deck indicator, shaped like the agent's capture payload
// (agent/src/captures.cpp); `n` makes each one different.
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

// Idempotency keys are unique per run, producer and mutation.
wsync::NewMutation make_mutation(const std::string& run, int producer, std::uint64_t n) {
  wsync::NewMutation m;
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

// ---------------------------------------------------------------------------------------------
// Raw SQLite: what an application without group commit does.

struct RawCounters {
  std::uint64_t busy_begin = 0;   // BEGIN IMMEDIATE returned SQLITE_BUSY after busy_timeout
  std::uint64_t busy_insert = 0;  // INSERT returned SQLITE_BUSY (transaction rolled back)
  std::uint64_t busy_commit = 0;  // COMMIT returned SQLITE_BUSY (COMMIT retried)
  [[nodiscard]] std::uint64_t total() const { return busy_begin + busy_insert + busy_commit; }
};

class RawConnection {
 public:
  RawConnection(const fs::path& file, int busy_timeout_ms) {
    if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      die("cannot open " + file.string() + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory"));
    }
    sqlite3_busy_timeout(db_, busy_timeout_ms);
    // journal_mode=WAL persists in the file; synchronous is per connection. Another connection
    // switching the file to WAL at the same moment can make this one busy: retry.
    exec_retry("PRAGMA journal_mode=WAL");
    exec_retry("PRAGMA synchronous=FULL");
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  ~RawConnection() {
    for (auto* s : {begin_, insert_, commit_, rollback_}) sqlite3_finalize(s);
    sqlite3_close_v2(db_);
  }

  // One mutation in its own transaction, durable when this returns (synchronous=FULL).
  void insert(const wsync::NewMutation& m, RawCounters& counters) {
    if (!begin_) {  // prepared at first use: the table may not exist when the connection opens
      begin_ = prepare("BEGIN IMMEDIATE");
      insert_ = prepare(
          "INSERT INTO mutations(seq, idempotency_key, kind, payload, request_hash, state, "
          "created_at_ms) VALUES(NULL,?,?,?,?,'pending',?)");
      commit_ = prepare("COMMIT");
      rollback_ = prepare("ROLLBACK");
    }
    while (true) {
      int rc = step(begin_);
      if (is_busy(rc)) {
        ++counters.busy_begin;
        continue;
      }
      if (rc != SQLITE_DONE) fail("BEGIN IMMEDIATE", rc);
      sqlite3_bind_text(insert_, 1, m.idempotency_key.data(),
                        static_cast<int>(m.idempotency_key.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert_, 2, m.kind.data(), static_cast<int>(m.kind.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert_, 3, m.payload_json.data(), static_cast<int>(m.payload_json.size()),
                        SQLITE_STATIC);
      sqlite3_bind_text(insert_, 4, m.request_hash.data(), static_cast<int>(m.request_hash.size()),
                        SQLITE_STATIC);
      sqlite3_bind_int64(insert_, 5, m.created_at_ms);
      rc = step(insert_);
      sqlite3_clear_bindings(insert_);
      if (rc != SQLITE_DONE) {
        step(rollback_);
        if (is_busy(rc)) {
          ++counters.busy_insert;
          continue;
        }
        fail("INSERT", rc);
      }
      rc = step(commit_);
      while (is_busy(rc)) {  // the transaction stays open: COMMIT again
        ++counters.busy_commit;
        rc = step(commit_);
      }
      if (rc != SQLITE_DONE) {
        step(rollback_);
        fail("COMMIT", rc);
      }
      return;
    }
  }

  void exec_retry(const char* sql) {
    int rc;
    while (is_busy(rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr))) {
    }
    if (rc != SQLITE_OK) fail(sql, rc);
  }

  [[nodiscard]] std::int64_t count_rows() {
    sqlite3_stmt* s = prepare("SELECT COUNT(*) FROM mutations");
    if (sqlite3_step(s) != SQLITE_ROW) fail("SELECT COUNT(*)", sqlite3_errcode(db_));
    const auto n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
  }

 private:
  static bool is_busy(int rc) { return (rc & 0xff) == SQLITE_BUSY; }

  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) fail(sql, sqlite3_errcode(db_));
    return s;
  }
  static int step(sqlite3_stmt* s) {
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc;
  }
  [[noreturn]] void fail(const char* what, int rc) {
    die(std::string("raw SQLite ") + what + ": " + sqlite3_errstr(rc) + " (" + sqlite3_errmsg(db_) +
        ")");
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* rollback_ = nullptr;
};

std::unique_ptr<wsync::Outbox> open_outbox(const fs::path& file) {
  auto outbox = wsync::Outbox::open(file, wsync::OutboxOptions{});
  if (!outbox) die("cannot open the outbox " + file.string() + ": " + outbox.error().message);
  return std::move(*outbox);
}

// A fresh raw database with the outbox's own schema (its tables, index and count triggers, WAL),
// made by opening it as an outbox and closing it: the baseline writes the same table, so the
// comparison cannot drift from the schema.
void create_raw_db(const fs::path& file) { open_outbox(file)->close(); }

// ---------------------------------------------------------------------------------------------
// Throughput.

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
  Summary latency;
  std::uint64_t min_per_producer = 0;
  std::uint64_t max_per_producer = 0;
  RawCounters busy;
  std::uint64_t rows_in_file = 0;
  Summary disk;  // the fsync floor (overwrite) measured just before this point
};

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
  r.latency = summarize(std::move(all));
  r.commits_per_mutation =
      r.mutations ? static_cast<double>(r.commits) / static_cast<double>(r.mutations) : 0;
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
    return [&](wsync::NewMutation m) {
      const auto r = outbox->enqueue_wait(std::move(m));
      if (r.status != wsync::EnqueueStatus::accepted) ++refused;
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
    return [&conn, &c = counters[static_cast<std::size_t>(p)]](const wsync::NewMutation& m) {
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

// ---------------------------------------------------------------------------------------------

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf(
          "usage: bench_outbox [--dir DIR] [--iterations N] [--seconds S] [--count N]\n"
          "                    [--producers 1,8,64] [--busy-timeout MS] [--json FILE]\n");
      std::exit(0);
    }
    if (i + 1 >= argc) die("missing value for " + flag);
    const std::string value = argv[++i];
    if (flag == "--dir") {
      o.dir = value;
    } else if (flag == "--json") {
      o.json_path = value;
    } else if (flag == "--iterations") {
      o.iterations = std::stoul(value);
    } else if (flag == "--seconds") {
      o.seconds = std::stod(value);
    } else if (flag == "--count") {
      o.count = std::stoul(value);
    } else if (flag == "--producers") {
      o.producers = weighlink::bench::parse_counts(value);
      if (std::any_of(o.producers.begin(), o.producers.end(), [](int p) { return p < 1; })) {
        die("--producers takes positive counts, e.g. 1,8,64");
      }
    } else if (flag == "--busy-timeout") {
      o.busy_timeout_ms = std::stoi(value);
    } else {
      die("unknown flag " + flag + " (--help)");
    }
  }
  if (o.iterations == 0) die("--iterations must be at least 1");
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

std::string format_syncs(double per_mutation) {
  if (per_mutation < 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", per_mutation);
  return buf;
}

json::value or_null(double x) { return x < 0 ? json::value(nullptr) : json::value(x); }

void print_summary(const char* name, const Summary& s) {
  std::printf("  %-42s %9.3f %9.3f %9.3f %9.3f\n", name, s.p50_ms, s.p99_ms, s.mean_ms, s.max_ms);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse(argc, argv);
  } catch (const std::exception& e) {  // std::stoi and friends on a malformed value
    die(std::string("bad flag value (") + e.what() + "); --help");
  }
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

  // 1. and 2. Latency, one operation at a time.
  const std::string latency_title =
      "Latency, one at a time (" + std::to_string(options.iterations) + " iterations)";
  std::printf("\n%-44s %9s %9s %9s %9s\n", latency_title.c_str(), "p50 ms", "p99 ms", "mean ms",
              "max ms");
  const auto floor_syncs_before = g_syncs.load();
  const Summary fsync_append = measure_fsync(dir / "fsync-append.bin", options.iterations, true);
  // The interposed fdatasync saw every call of the floor measurement: sync counts are valid.
  const bool counting = g_syncs.load() - floor_syncs_before == options.iterations + kWarmup;
  const auto per_mutation = [counting](std::uint64_t syncs, std::uint64_t mutations) {
    return counting && mutations ? static_cast<double>(syncs) / static_cast<double>(mutations)
                                 : -1.0;
  };
  print_summary("fsync floor: 4 KiB append + fdatasync", fsync_append);
  const Summary fsync_over = measure_fsync(dir / "fsync-overwrite.bin", options.iterations, false);
  print_summary("fsync floor: 4 KiB overwrite + fdatasync", fsync_over);

  Summary raw_latency;
  double raw_latency_syncs = -1;
  {
    const auto file = dir / "latency-raw.db";
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
    raw_latency_syncs = per_mutation(g_syncs.load() - syncs_before, options.iterations);
    raw_latency = summarize(std::move(us));
  }
  print_summary("raw SQLite: BEGIN; INSERT; COMMIT", raw_latency);

  Summary outbox_latency;
  double latency_commits_per_mutation = 0;
  double latency_syncs = -1;
  {
    auto outbox = open_outbox(dir / "latency-weighlink.db");
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
      if (r.status != wsync::EnqueueStatus::accepted) {
        die("enqueue_wait: not accepted (" + r.message + ")");
      }
      if (i >= static_cast<std::size_t>(kWarmup)) us.push_back(elapsed);
    }
    latency_syncs = per_mutation(g_syncs.load() - syncs_before, options.iterations);
    latency_commits_per_mutation = static_cast<double>(outbox->stats().commits - commits_before) /
                                   static_cast<double>(options.iterations);
    outbox->close();
    outbox_latency = summarize(std::move(us));
  }
  print_summary("weighlink: Outbox::enqueue_wait", outbox_latency);
  const auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  std::printf("  weighlink / fsync append:    p50 %.2f  p99 %.2f\n",
              ratio(outbox_latency.p50_ms, fsync_append.p50_ms),
              ratio(outbox_latency.p99_ms, fsync_append.p99_ms));
  std::printf("  weighlink / fsync overwrite: p50 %.2f  p99 %.2f\n",
              ratio(outbox_latency.p50_ms, fsync_over.p50_ms),
              ratio(outbox_latency.p99_ms, fsync_over.p99_ms));
  std::printf("  weighlink / raw SQLite:      p50 %.2f  p99 %.2f\n",
              ratio(outbox_latency.p50_ms, raw_latency.p50_ms),
              ratio(outbox_latency.p99_ms, raw_latency.p99_ms));
  std::printf("  per mutation: weighlink %.3f commits, %s syncs; raw SQLite %s syncs\n",
              latency_commits_per_mutation, format_syncs(latency_syncs).c_str(),
              format_syncs(raw_latency_syncs).c_str());

  // 3. Throughput, weighlink and raw SQLite taking turns at each producer count.
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
      const Summary disk = measure_fsync(dir / "fsync-point.bin",
                                         std::min<std::size_t>(options.iterations, 200), false);
      auto r =
          system == 0 ? throughput_weighlink(options, dir, p) : throughput_raw(options, dir, p);
      r.disk = disk;
      char spread[32];
      std::snprintf(spread, sizeof spread, "%llu/%llu",
                    static_cast<unsigned long long>(r.min_per_producer),
                    static_cast<unsigned long long>(r.max_per_producer));
      r.syncs_per_mutation = per_mutation(r.syncs, r.mutations);
      std::printf("  %-9s %9d %10llu %7.2f %9.0f %11.3f %9s %8.2f %8.2f %9.2f %12s %7s %9.3f\n",
                  r.system == "weighlink" ? "weighlink" : "raw", p,
                  static_cast<unsigned long long>(r.in_window), r.wall_seconds, r.per_s,
                  r.commits_per_mutation, format_syncs(r.syncs_per_mutation).c_str(),
                  r.latency.p50_ms, r.latency.p99_ms, r.latency.max_ms, spread,
                  r.system == "weighlink" ? "-" : std::to_string(r.busy.total()).c_str(),
                  r.disk.p50_ms);
      std::fflush(stdout);
      results.push_back(std::move(r));
    }
  }
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
  // The disk's latency drifts (shared hosts): the floor again, after everything else.
  const Summary fsync_append_after =
      measure_fsync(dir / "fsync-append.bin", options.iterations, true);
  const Summary fsync_over_after =
      measure_fsync(dir / "fsync-overwrite.bin", options.iterations, false);
  std::printf(
      "\nfsync floor again at the end: append p50 %.3f p99 %.3f ms, overwrite p50 %.3f p99 "
      "%.3f ms\n",
      fsync_append_after.p50_ms, fsync_append_after.p99_ms, fsync_over_after.p50_ms,
      fsync_over_after.p99_ms);
  const double load_after = load_average();
  std::printf("load average %.2f before, %.2f after\n", load_before, load_after);

  if (!options.json_path.empty()) {
    json::array rows;
    for (const auto& r : results) {
      rows.push_back(json::object{{"system", r.system},
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
                                  {"fsync_overwrite_before", to_json(r.disk)}});
    }
    json::object root{
        {"benchmark", "outbox"},
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
        {"fsync",
         json::object{{"append", to_json(fsync_append)}, {"overwrite", to_json(fsync_over)}}},
        {"fsync_at_end", json::object{{"append", to_json(fsync_append_after)},
                                      {"overwrite", to_json(fsync_over_after)}}},
        {"latency",
         json::object{{"weighlink", to_json(outbox_latency)},
                      {"weighlink_commits_per_mutation", latency_commits_per_mutation},
                      {"weighlink_syncs_per_mutation", or_null(latency_syncs)},
                      {"raw_sqlite", to_json(raw_latency)},
                      {"raw_sqlite_syncs_per_mutation", or_null(raw_latency_syncs)},
                      {"weighlink_over_fsync_append",
                       json::object{{"p50", ratio(outbox_latency.p50_ms, fsync_append.p50_ms)},
                                    {"p99", ratio(outbox_latency.p99_ms, fsync_append.p99_ms)}}},
                      {"weighlink_over_fsync_overwrite",
                       json::object{{"p50", ratio(outbox_latency.p50_ms, fsync_over.p50_ms)},
                                    {"p99", ratio(outbox_latency.p99_ms, fsync_over.p99_ms)}}}}},
        {"throughput", std::move(rows)},
        {"ratios", std::move(ratios)}};
    if (!weighlink::bench::write_json(options.json_path, root)) {
      die("cannot write " + options.json_path);
    }
  }
  return 0;
}
