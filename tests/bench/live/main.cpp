// bench_live: the command line, the servers taking turns, and the report; the method is below.
//
// Live socket latency: serial byte -> WebSocket client, for weighlink-agent's GET /v1/live and, in
// the same run, a minimal Node.js relay standing in for TruConnect's pipeline
// (tests/bench/node-relay/relay.js, node_relay.cpp). For each server and client count a fresh pty
// and a fresh server process: N clients connect, frames of the Mettler Toledo continuous format
// are written to the pty at a fixed rate, each with its own weight, and every client message is
// matched by that weight to the steady-clock time the frame's first byte was written, in this
// process (client.cpp). Reported: p50/p99/max latency over all clients and messages, delivered
// messages, the server's CPU time (utime+stime from /proc) per delivered message, and its peak
// RSS (VmHWM). A third server, the floor, is this binary in --serve-floor mode (floor_server.cpp).
// No timing assertions; not part of `make test`. docs/performance.md, "Live socket latency".
//
// --repeat N runs every point N times, the servers taking turns, and pools the runs.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdio>
#include <map>
#include <stdexcept>

#include "live_bench.hpp"

namespace weighlink::bench::live {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: bench_live [--seconds S] [--rate HZ] [--clients 1,10,100] [--repeat N] "
    "[--json FILE] [--agent PATH] [--relay-dir DIR] [--no-relay] [--no-agent] [--no-floor]";

// The runs of one server at one client count, pooled.
struct PointResult {
  std::string server;
  int clients = 0;
  int runs = 0;
  std::uint64_t expected = 0;
  Percentiles latency_ms;  // n: delivered
  double cpu_s = 0;
  double cpu_user_s = 0;
  double cpu_us_per_msg = 0;
  double peak_rss_mb = 0;
};

Options parse_options(int argc, char** argv) {
  Options o;
  Flags flags;
  flags.switches = {{"--no-relay", [&] { o.relay_enabled = false; }},
                    {"--no-agent", [&] { o.agent_enabled = false; }},
                    {"--no-floor", [&] { o.floor_enabled = false; }}};
  flags.values = {
      {"--seconds", [&](const std::string& v) { o.seconds = std::stod(v); }},
      {"--repeat", [&](const std::string& v) { o.repeat = std::stoi(v); }},
      {"--rate", [&](const std::string& v) { o.rate = std::stod(v); }},
      {"--clients", [&](const std::string& v) { o.clients = parse_counts(v); }},
      {"--json", [&](const std::string& v) { o.json_path = v; }},
      {"--agent", [&](const std::string& v) { o.agent = v; }},
      {"--relay-dir", [&](const std::string& v) { o.relay_dir = v; }},
  };
  parse_flags(argc, argv, flags, kUsage);
  const double frames = o.seconds * o.rate;
  if (o.rate <= 0 || frames < 1 || frames > double(kMaxFrames) || o.clients.empty() ||
      o.repeat < 1) {
    throw std::invalid_argument(
        "need --rate > 0, 1 <= seconds x rate <= " + std::to_string(kMaxFrames) +
        ", at least one client count and --repeat >= 1");
  }
  return o;
}

// The servers under test, those enabled: the agent, the relay (when node and npm are there; else
// `relay_skipped` says why), the floor.
std::vector<Server> servers_under_test(const Options& options, std::string& relay_skipped) {
  std::vector<Server> servers;
  if (options.agent_enabled) {
    servers.push_back(
        {"weighlink", "/v1/live", &agent_weight,
         [&](const std::string& device, const fs::path& ready, const fs::path& tmp) {
           return std::vector<std::string>{
               options.agent,           "--listen",       "127.0.0.1:0",
               "--ready-file",          ready.string(),   "--data-dir",
               (tmp / "data").string(), "--scale-source", "serial:" + device + "?baud=9600",
               "--scale-protocol",      "mt-continuous"};
         }});
  }
  if (options.relay_enabled) {
    const fs::path dir = options.relay_dir;
    if (const auto node = prepare_relay(dir, &relay_skipped)) {
      servers.push_back(
          {"relay", "/", &relay_weight,
           [node = *node, dir](const std::string& device, const fs::path& ready, const fs::path&) {
             return std::vector<std::string>{node,           (dir / "relay.js").string(),
                                             "--device",     device,
                                             "--port",       "0",
                                             "--ready-file", ready.string()};
           }});
    }
  } else {
    relay_skipped = "--no-relay";
  }
  if (options.floor_enabled) {
    servers.push_back({"floor", "/", &agent_weight,
                       [self = fs::read_symlink("/proc/self/exe").string()](
                           const std::string& device, const fs::path& ready, const fs::path&) {
                         return std::vector<std::string>{self,   "--serve-floor", "--device",
                                                         device, "--ready-file",  ready.string()};
                       }});
  }
  return servers;
}

// Pools the runs: latencies of every client and message of every run, CPU over all delivered
// messages, the highest peak RSS.
PointResult summarize(const std::string& server, int clients,
                      const std::vector<Measurement>& runs) {
  PointResult r;
  r.server = server;
  r.clients = clients;
  r.runs = static_cast<int>(runs.size());
  std::vector<double> all;
  for (const auto& m : runs) {
    for (const auto ns : m.latencies_ns) all.push_back(static_cast<double>(ns));
    r.expected += m.expected;
    r.cpu_s += m.cpu_s;
    r.cpu_user_s += m.cpu_user_s;
    r.peak_rss_mb = std::max(r.peak_rss_mb, m.peak_rss_mb);
  }
  r.latency_ms = percentiles(std::move(all), 1e6);
  if (r.latency_ms.n != 0) r.cpu_us_per_msg = r.cpu_s * 1e6 / static_cast<double>(r.latency_ms.n);
  return r;
}

void print_row(const PointResult& r) {
  std::printf("%-10s %7d %8.3f %8.3f %8.3f %9llu %9llu %11.1f %12.1f\n", r.server.c_str(),
              r.clients, r.latency_ms.p50, r.latency_ms.p99, r.latency_ms.max,
              static_cast<unsigned long long>(r.latency_ms.n),
              static_cast<unsigned long long>(r.expected), r.cpu_us_per_msg, r.peak_rss_mb);
  std::fflush(stdout);
}

boost::json::object to_json(const PointResult& r) {
  return {{"server", r.server},
          {"clients", r.clients},
          {"runs", r.runs},
          {"expected", r.expected},
          {"delivered", r.latency_ms.n},
          {"p50_ms", r.latency_ms.p50},
          {"p99_ms", r.latency_ms.p99},
          {"max_ms", r.latency_ms.max},
          {"cpu_s", r.cpu_s},
          {"cpu_user_s", r.cpu_user_s},
          {"cpu_us_per_msg", r.cpu_us_per_msg},
          {"peak_rss_mb", r.peak_rss_mb}};
}

// weighlink over the relay (and the floor's CPU over the relay's) at each client count.
boost::json::array print_ratios(const Options& options, const std::vector<PointResult>& results) {
  auto find = [&](const std::string& server, int clients) -> const PointResult* {
    for (const auto& r : results) {
      if (r.server == server && r.clients == clients) return &r;
    }
    return nullptr;
  };
  boost::json::array ratios;
  bool header = false;
  for (const int clients : options.clients) {
    const auto* a = find("weighlink", clients);
    const auto* b = find("relay", clients);
    if (!a || !b || b->latency_ms.p99 <= 0 || b->cpu_us_per_msg <= 0 || b->peak_rss_mb <= 0) {
      continue;
    }
    if (!header) {
      std::printf(
          "\nweighlink / relay (goals: p99 <= 1, CPU per message <= 0.1; agent RSS <= 15 MB); "
          "last column: floor / relay\n");
      std::printf("%7s %8s %8s %11s %12s %15s\n", "clients", "p50", "p99", "CPU/msg", "peak RSS",
                  "floor CPU/msg");
      header = true;
    }
    const double p50 = b->latency_ms.p50 > 0 ? a->latency_ms.p50 / b->latency_ms.p50 : 0;
    const double p99 = a->latency_ms.p99 / b->latency_ms.p99;
    const double cpu = a->cpu_us_per_msg / b->cpu_us_per_msg;
    const double rss = a->peak_rss_mb / b->peak_rss_mb;
    const auto* floor = find("floor", clients);
    const double floor_cpu = floor ? floor->cpu_us_per_msg / b->cpu_us_per_msg : 0;
    std::printf("%7d %8.2f %8.2f %11.3f %12.2f %15.3f\n", clients, p50, p99, cpu, rss, floor_cpu);
    ratios.push_back({{"clients", clients},
                      {"p50", p50},
                      {"p99", p99},
                      {"cpu_per_msg", cpu},
                      {"peak_rss", rss},
                      {"floor_cpu_per_msg", floor_cpu}});
  }
  return ratios;
}

// weighlink over the C floor at each client count (issue 21's goals: p99 <= 1.1, CPU per
// message <= 1.3).
boost::json::array print_floor_ratios(const Options& options,
                                      const std::vector<PointResult>& results) {
  boost::json::array ratios;
  for (const int clients : options.clients) {
    const PointResult* a = nullptr;
    const PointResult* f = nullptr;
    for (const auto& r : results) {
      if (r.clients != clients) continue;
      if (r.server == "weighlink") a = &r;
      if (r.server == "floor") f = &r;
    }
    if (!a || !f || f->latency_ms.p50 <= 0 || f->latency_ms.p99 <= 0 || f->cpu_us_per_msg <= 0) {
      continue;
    }
    if (ratios.empty()) {
      std::printf("\nweighlink / floor (goals: p99 <= 1.1, CPU per message <= 1.3)\n");
      std::printf("%7s %8s %8s %11s\n", "clients", "p50", "p99", "CPU/msg");
    }
    const double p50 = a->latency_ms.p50 / f->latency_ms.p50;
    const double p99 = a->latency_ms.p99 / f->latency_ms.p99;
    const double cpu = a->cpu_us_per_msg / f->cpu_us_per_msg;
    std::printf("%7d %8.2f %8.2f %11.3f\n", clients, p50, p99, cpu);
    ratios.push_back({{"clients", clients}, {"p50", p50}, {"p99", p99}, {"cpu_per_msg", cpu}});
  }
  return ratios;
}

int run(const Options& options) {
  std::string relay_skipped;
  const auto servers = servers_under_test(options, relay_skipped);
  const std::string load_before = load_averages();
  std::printf(
      "live socket latency: pty byte -> WebSocket client, mt-continuous at %.0f Hz, %.0f s per "
      "point, %d run(s) each, load average %s\n",
      options.rate, options.seconds, options.repeat, load_before.c_str());
  if (!relay_skipped.empty()) std::printf("node relay skipped: %s\n", relay_skipped.c_str());

  // Interleaved: the servers take turns at each client count, and repeats go round again, so
  // load from elsewhere on the machine falls on all of them alike.
  std::map<std::pair<std::string, int>, std::vector<Measurement>> runs;
  int failures = 0;
  for (int repeat = 1; repeat <= options.repeat; ++repeat) {
    for (const int clients : options.clients) {
      for (const auto& server : servers) {
        try {
          std::vector<Measurement> one;
          one.push_back(run_point(server, clients, options));
          const auto r = summarize(server.name, clients, one);
          std::printf("  run %d/%d %-10s %4d clients: p50 %.3f ms, p99 %.3f ms, %.1f us/msg\n",
                      repeat, options.repeat, server.name.c_str(), clients, r.latency_ms.p50,
                      r.latency_ms.p99, r.cpu_us_per_msg);
          std::fflush(stdout);
          runs[{server.name, clients}].push_back(std::move(one.front()));
        } catch (const std::exception& e) {
          ++failures;
          std::fprintf(stderr, "bench_live: %s with %d clients failed: %s\n", server.name.c_str(),
                       clients, e.what());
        }
      }
    }
  }
  std::vector<PointResult> results;
  std::printf("%-10s %7s %8s %8s %8s %9s %9s %11s %12s\n", "server", "clients", "p50 ms", "p99 ms",
              "max ms", "delivered", "expected", "CPU us/msg", "peak RSS MB");
  for (const auto& server : servers) {
    for (const int clients : options.clients) {
      auto it = runs.find({server.name, clients});
      if (it == runs.end()) continue;
      results.push_back(summarize(server.name, clients, it->second));
      print_row(results.back());
    }
  }
  auto ratios = print_ratios(options, results);
  auto floor_ratios = print_floor_ratios(options, results);
  const std::string load_after = load_averages();
  std::printf("load average after: %s\n", load_after.c_str());

  if (!options.json_path.empty()) {
    boost::json::array rows;
    for (const auto& r : results) rows.push_back(to_json(r));
    boost::json::object doc{{"benchmark", "live"},
                            {"protocol", "mt-continuous"},
                            {"rate_hz", options.rate},
                            {"seconds", options.seconds},
                            {"repeat", options.repeat},
                            {"load_average_before", load_before},
                            {"load_average_after", load_after},
                            {"results", std::move(rows)},
                            {"ratios", std::move(ratios)},
                            {"floor_ratios", std::move(floor_ratios)}};
    if (!relay_skipped.empty()) doc["relay_skipped"] = relay_skipped;
    if (!write_json(options.json_path, doc)) {
      std::fprintf(stderr, "bench_live: cannot write %s\n", options.json_path.c_str());
      return 1;
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace weighlink::bench::live

int main(int argc, char** argv) {
  namespace live = weighlink::bench::live;
  if (argc > 1 && std::string_view(argv[1]) == "--serve-floor") {
    return live::serve_floor(argc, argv);
  }
  return weighlink::bench::bench_main("bench_live", argc, argv, live::parse_options, live::run);
}
