// bench_replay: the command line and the run of its two parts; the method is below.
//
// 1. Drain (drain.cpp, psql_baseline.cpp). A throwaway PostgreSQL cluster (tests/support
//    PgCluster, fsync on unless --pg-fsync off), `weighlink-backend migrate`, `station add`,
//    `weighlink-backend serve` (defaults). A real weighlink-agent started WITHOUT --backend, with a
//    simulated indicator (sim:static), gets --backlog real captures (POST /v1/captures, --producers
//    keep-alive HTTP clients): real weighing.captured rows in its outbox, evidence frames and hash
//    chain included. It is stopped, its outbox read (read-only) for the baseline, and started again
//    WITH --backend. Timed: from that start until the station's high_water_seq in PostgreSQL
//    reaches the backlog (polled every 20 ms). Baseline, same server, same run, same rows: the real
//    psql binary runs a generated script of batched `INSERT ... VALUES (...),(...) ON CONFLICT DO
//    NOTHING`, --batch rows per statement, each batch its own transaction, into a copy of
//    mutation_log (same columns, same indexes, same foreign key); and again into copies of
//    mutation_log + weighings (what the backend writes for a weighing). Both baselines run before
//    the agent and again after it.
// 2. Fan-in (fanin.cpp, station.cpp). A fresh cluster and backend (default --workers and
//    --max-queue unless given), --stations stations registered with `station add` (each its own
//    token), and as many gRPC clients in this process, each on its own channel (own TCP
//    connection), each holding --per-station mutations generated in memory (capture-shaped
//    payloads, built from the seq when a batch is assembled). All start at once and replay like
//    the agent's worker: Hello first and after every failure but RESOURCE_EXHAUSTED, seq-ordered
//    batches sized by the agent's AdaptiveBatch (or a fixed --fanin-batch), a 5 s deadline, and
//    after a failure the agent's backoff (base/backoff.hpp, full jitter) but never sooner than
//    x-weighlink-retry-after-ms. Reported: drain time, errors by status (RESOURCE_EXHAUSTED apart
//    from DEADLINE_EXCEEDED), the backend's peak RSS (VmHWM), CPU, and a check that PostgreSQL
//    holds exactly stations x per-station rows with every high water at per-station.
// 3. Agent RSS (agent_rss.cpp). A fresh cluster and backend, the agent WITH --backend and a
//    simulated indicator, one live WebSocket client reading throughout and the page fetched once,
//    then --rss-captures captures (POST /v1/captures, one at a time) replayed to the backend.
//    Reported once /v1/status says all are acknowledged: the agent's VmHWM, VmRSS, PSS, threads
//    and largest mappings (issue 21: peak RSS <= 12 MB).
//
// No timing assertions; not part of `make test`. docs/performance.md, "Replay: backlog drain and
// fan-in".
//
// --batch is the agent's replay_batch_size (written to its configuration), psql's rows per
// statement and the simulated stations' largest batch. --pg-statements N loads pg_stat_statements
// and prints PostgreSQL's top N statements during each weighlink phase.

#include <signal.h>  // NOLINT(modernize-deprecated-headers): sigaction is POSIX, not <csignal>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "replay_bench.hpp"

namespace weighlink::bench::replay {

std::atomic<bool> g_stop{false};

void check_stop() {
  if (g_stop) throw std::runtime_error("interrupted");
}

namespace {

constexpr const char* kUsage =
    "usage: bench_replay [--backlog 100000] [--producers 16] [--batch 200]\n"
    "                    [--stations 200] [--per-station 5000] [--fanin-batch adaptive|N]\n"
    "                    [--workers N] [--max-queue N] [--pg-fsync on|off]\n"
    "                    [--parts drain,fanin,rss] [--rss-captures 300] [--timeout S]\n"
    "                    [--pg-statements N] [--json FILE]";

void on_signal(int) { g_stop = true; }

Options parse(int argc, char** argv) {
  Options o;
  Flags flags;
  flags.values = {
      {"--backlog", [&](const std::string& v) { o.backlog = std::stoul(v); }},
      {"--producers", [&](const std::string& v) { o.producers = std::stoi(v); }},
      {"--batch", [&](const std::string& v) { o.batch = std::stoul(v); }},
      {"--stations", [&](const std::string& v) { o.stations = std::stoul(v); }},
      {"--per-station", [&](const std::string& v) { o.per_station = std::stoul(v); }},
      {"--fanin-batch",
       [&](const std::string& v) { o.fanin_batch = v == "adaptive" ? 0 : std::stoul(v); }},
      {"--workers", [&](const std::string& v) { o.workers = v; }},
      {"--max-queue", [&](const std::string& v) { o.max_queue = v; }},
      {"--pg-fsync",
       [&](const std::string& v) {
         if (v != "on" && v != "off") throw std::invalid_argument("--pg-fsync takes on or off");
         o.pg_fsync = v == "on";
       }},
      {"--parts",
       [&](const std::string& v) {
         o.drain = v.find("drain") != std::string::npos;
         o.fanin = v.find("fanin") != std::string::npos;
         o.rss = v.find("rss") != std::string::npos;
       }},
      {"--rss-captures", [&](const std::string& v) { o.rss_captures = std::stoul(v); }},
      {"--timeout", [&](const std::string& v) { o.timeout_s = std::stod(v); }},
      {"--pg-statements", [&](const std::string& v) { o.pg_statements = std::stoi(v); }},
      {"--json", [&](const std::string& v) { o.json_path = v; }},
  };
  parse_flags(argc, argv, flags, kUsage);
  if (o.backlog == 0 || o.producers < 1 || o.batch == 0 || o.stations == 0 || o.per_station == 0 ||
      o.rss_captures == 0) {
    throw std::invalid_argument(
        "--backlog, --producers, --batch, --stations, --per-station and --rss-captures must be "
        ">= 1");
  }
  if (!o.drain && !o.fanin && !o.rss)
    throw std::invalid_argument("--parts takes drain, fanin and rss, separated by commas");
  return o;
}

int run(const Options& options) {
  struct sigaction action {};
  action.sa_handler = on_signal;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  const double load_before = load_average();
  std::printf("bench_replay: %u hardware threads, load average %.2f, PostgreSQL fsync %s\n",
              std::thread::hardware_concurrency(), load_before, options.pg_fsync ? "on" : "off");
  std::fflush(stdout);
  boost::json::object root{{"benchmark", "replay"},
                           {"hardware_threads", std::thread::hardware_concurrency()},
                           {"pg_fsync", options.pg_fsync},
                           {"load_average_before", load_before}};
  try {
    if (options.drain) {
      const auto d = run_drain(options);
      root["drain"] = print_drain(d, options);
      std::fflush(stdout);
    }
    if (options.fanin) {
      const auto f = run_fanin(options);
      root["fanin"] = print_fanin(f, options);
      std::fflush(stdout);
    }
    if (options.rss) root["agent_rss"] = print_agent_rss(run_agent_rss(options));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_replay: %s\n", e.what());
    return 1;
  }
  root["load_average_after"] = load_average();
  if (!options.json_path.empty() && !write_json(options.json_path, root)) {
    std::fprintf(stderr, "bench_replay: cannot write %s\n", options.json_path.c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace weighlink::bench::replay

int main(int argc, char** argv) {
  namespace replay = weighlink::bench::replay;
  return weighlink::bench::bench_main("bench_replay", argc, argv, replay::parse, replay::run);
}
