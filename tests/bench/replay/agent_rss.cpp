// bench_replay, part 3: the agent's memory with a backend configured, as a station uses it.
//
// A throwaway PostgreSQL cluster and weighlink-backend as the drain has them; weighlink-agent with
// --backend and a simulated indicator; one live WebSocket client reading throughout (as the
// operator page keeps one open) and the page fetched once; then --rss-captures captures through
// POST /v1/captures, one at a time as an operator makes them, each replayed to the backend; the
// agent is measured once /v1/status says every one is acknowledged. Reported: VmHWM (the peak),
// VmRSS and its anonymous and file-backed parts, PSS (/proc/PID/smaps_rollup), the threads by
// name, and the largest mappings of /proc/PID/smaps: where the megabytes are.
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "replay_bench.hpp"
#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/http_client.hpp"

namespace weighlink::bench::replay {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace wt = weighlink::testing;

constexpr const char* kRssStation = "st-rss";

// The kB figures of `key`s in a /proc file of "Key:   N kB" lines (status, smaps_rollup).
std::map<std::string, double> kb_fields(const fs::path& file) {
  std::map<std::string, double> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || line.find(" kB") == std::string::npos) continue;
    try {
      out[line.substr(0, colon)] = std::stod(line.substr(colon + 1));
    } catch (const std::exception&) {
    }
  }
  return out;
}

// The threads of `pid` by name (/proc/PID/task/*/comm): "weighlink-agent" 1, "grpc_global_tim" 1.
std::map<std::string, int> thread_names(pid_t pid) {
  std::map<std::string, int> out;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "comm");
    std::string name;
    if (std::getline(in, name)) ++out[name];
  }
  return out;
}

// /proc/PID/smaps summed by what is mapped: a file's path, "[heap]", "[stack]", or "[anon]" for
// anonymous mappings (malloc's arenas and large blocks, thread stacks).
std::vector<RssMapping> mappings(pid_t pid) {
  std::map<std::string, RssMapping> by_name;
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
  RssMapping* current = nullptr;
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    const bool field = colon != std::string::npos && line.find(' ') > colon;
    if (!field) {  // a mapping's header: address perms offset dev inode [path]
      std::istringstream header(line);
      std::string address, perms, offset, dev, inode, path;
      header >> address >> perms >> offset >> dev >> inode;
      std::getline(header >> std::ws, path);
      if (path.empty()) path = "[anon]";
      if (path.rfind("[stack", 0) == 0) path = "[stack]";
      current = &by_name[path];
      current->name = path;
      continue;
    }
    if (!current) continue;
    const auto key = line.substr(0, colon);
    double kb = 0;
    try {
      kb = std::stod(line.substr(colon + 1));
    } catch (const std::exception&) {
      continue;
    }
    if (key == "Rss") current->rss_kb += kb;
    if (key == "Pss") current->pss_kb += kb;
    if (key == "Anonymous") current->anon_kb += kb;
  }
  std::vector<RssMapping> out;
  for (auto& [name, m] : by_name) {
    if (m.rss_kb > 0) out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const RssMapping& a, const RssMapping& b) { return a.rss_kb > b.rss_kb; });
  return out;
}

RssPoint measure(pid_t pid, const std::string& stage) {
  const auto status = kb_fields("/proc/" + std::to_string(pid) + "/status");
  const auto rollup = kb_fields("/proc/" + std::to_string(pid) + "/smaps_rollup");
  auto at = [](const std::map<std::string, double>& m, const char* key) {
    const auto it = m.find(key);
    return it == m.end() ? 0.0 : it->second / 1024.0;
  };
  RssPoint p;
  p.stage = stage;
  p.peak_rss_mb = at(status, "VmHWM");
  p.rss_mb = at(status, "VmRSS");
  p.rss_anon_mb = at(status, "RssAnon");
  p.rss_file_mb = at(status, "RssFile");
  p.pss_mb = at(rollup, "Pss");
  for (const auto& [name, count] : thread_names(pid)) p.threads += count;
  return p;
}

// The agent's outbox as /v1/status has it: every mutation acknowledged, and how many.
struct OutboxState {
  std::int64_t pending = -1;
  std::int64_t acknowledged = 0;
  std::int64_t last_seq = 0;
};

OutboxState outbox_state(const std::string& http) {
  const auto r = wt::http_request(http, "GET", "/v1/status");
  if (r.status != 200) {
    throw std::runtime_error("GET /v1/status answered " + std::to_string(r.status));
  }
  const auto status = json::parse(r.body);
  const auto& o = status.at("outbox").as_object();
  return {o.at("pending").to_number<std::int64_t>(), o.at("acknowledged").to_number<std::int64_t>(),
          o.at("last_seq").to_number<std::int64_t>()};
}

// One live client that keeps reading (as the operator page does) on its own thread until
// destroyed; `readings` counts the reading messages it got.
class LiveReader {
 public:
  explicit LiveReader(const std::string& http) : ws_(http, "/v1/live") {
    thread_ = std::thread([this] {
      while (!stop_ && !ws_.closed()) {
        const auto message = ws_.read(std::chrono::milliseconds(200));
        if (message && message->find(R"("type":"reading")") != std::string::npos) ++readings_;
      }
    });
  }
  ~LiveReader() {
    stop_ = true;
    thread_.join();
  }
  LiveReader(const LiveReader&) = delete;
  LiveReader& operator=(const LiveReader&) = delete;
  [[nodiscard]] std::uint64_t readings() const { return readings_; }
  [[nodiscard]] bool closed() const { return ws_.closed(); }

 private:
  wt::WsClient ws_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> readings_{0};
  std::thread thread_;
};

// Polls `done` every 20 ms until it is true; throws after `timeout_s` or when the agent exits.
template <class F>
void wait_for(wt::Process& agent, double timeout_s, const std::string& what, F&& done) {
  const auto start = Clock::now();
  while (!done()) {
    check_stop();
    if (agent.poll()) throw std::runtime_error("the agent exited:\n" + agent.log());
    if (seconds_since(start) > timeout_s) {
      throw std::runtime_error("agent rss: no " + what + " after " + std::to_string(timeout_s) +
                               " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

RssResult run_agent_rss(const Options& options) {
  RssResult out;
  out.captures = options.rss_captures;
  PartCluster part(options, "wl-bench-rss");
  const auto& dir = part.dir;
  wt::write_secret_file(dir / "token", wt::add_station(part.pg.dsn(), kRssStation) + "\n");
  wt::BackendServer backend(part.pg.dsn(), dir.path(), serve_flags(options));
  std::ofstream(dir / "agent.yaml", std::ios::trunc)
      << "scales:\n  - {id: main, source: 'sim:static?rate=10', protocol: mt-continuous, "
         "zero_return: false}\n";
  std::printf("Agent RSS: agent with --backend, one live client, the page, %zu captures...\n",
              options.rss_captures);
  std::fflush(stdout);
  out.load_before = load_average();
  wt::Process agent({wt::bin("weighlink-agent"), "--config", (dir / "agent.yaml").string(),
                     "--listen", "127.0.0.1:0", "--ready-file", (dir / "agent.ready").string(),
                     "--data-dir", (dir / "agent-data").string(), "--station-id", kRssStation,
                     "--backend", backend.grpc(), "--station-token-file", (dir / "token").string()},
                    dir / "agent-rss.log");
  const auto http = agent.wait_ready(dir / "agent.ready").at("http");
  // Connected to the backend: the start's audit events acknowledged.
  wait_for(agent, options.timeout_s, "acknowledged start", [&] {
    const auto s = outbox_state(http);
    return s.pending == 0 && s.acknowledged > 0 && s.acknowledged == s.last_seq;
  });
  out.points.push_back(measure(agent.pid(), "started, replayed its start"));
  {
    const LiveReader live(http);
    const auto page = wt::http_request(http, "GET", "/");
    if (page.status != 200) {
      throw std::runtime_error("GET / answered " + std::to_string(page.status));
    }
    out.page_bytes = page.body.size();
    wait_for(agent, options.timeout_s, "reading on the live socket",
             [&] { return live.readings() > 0; });
    out.points.push_back(measure(agent.pid(), "live client, page served"));

    const auto start = Clock::now();
    const auto fill = fill_outbox(http, options.rss_captures, 1);
    std::int64_t last_seq = 0;
    wait_for(agent, options.timeout_s, "acknowledgement of every capture", [&] {
      const auto s = outbox_state(http);
      last_seq = s.last_seq;
      return s.pending == 0 && s.acknowledged == s.last_seq;
    });
    out.seconds = seconds_since(start);
    out.retried = fill.retried;
    out.last_seq = last_seq;
    if (live.closed()) throw std::runtime_error("the agent closed the live client");
    out.live_readings = live.readings();
    out.points.push_back(measure(agent.pid(), "captures replayed"));
    out.threads = thread_names(agent.pid());
    out.mappings = mappings(agent.pid());
  }
  BenchDb db(part.pg.dsn());
  out.backend_rows = db.number(
      std::string("SELECT count(*) FROM mutation_log WHERE station_id = '") + kRssStation + "'");
  if (out.backend_rows != out.last_seq) {
    throw std::runtime_error("agent rss: the backend holds " + std::to_string(out.backend_rows) +
                             " of the agent's " + std::to_string(out.last_seq) + " mutations");
  }
  if (agent.terminate() != 0) throw std::runtime_error("the agent did not stop cleanly");
  backend.terminate();
  return out;
}

json::value print_agent_rss(const RssResult& r) {
  std::printf(
      "\nAgent RSS with a backend configured (%zu captures replayed in %.1f s, %llu readings on "
      "the live socket, page %zu bytes; load %.2f)\n",
      r.captures, r.seconds, static_cast<unsigned long long>(r.live_readings), r.page_bytes,
      r.load_before);
  std::printf("  %-30s %8s %8s %8s %8s %8s %7s\n", "stage", "peak MB", "RSS MB", "anon MB",
              "file MB", "PSS MB", "threads");
  json::array stages;
  for (const auto& p : r.points) {
    std::printf("  %-30s %8.2f %8.2f %8.2f %8.2f %8.2f %7d\n", p.stage.c_str(), p.peak_rss_mb,
                p.rss_mb, p.rss_anon_mb, p.rss_file_mb, p.pss_mb, p.threads);
    stages.push_back(json::object{{"stage", p.stage},
                                  {"peak_rss_mb", p.peak_rss_mb},
                                  {"rss_mb", p.rss_mb},
                                  {"rss_anon_mb", p.rss_anon_mb},
                                  {"rss_file_mb", p.rss_file_mb},
                                  {"pss_mb", p.pss_mb},
                                  {"threads", p.threads}});
  }
  std::string names;
  json::object threads;
  for (const auto& [name, count] : r.threads) {
    names += (names.empty() ? "" : ", ") + name + (count > 1 ? " x" + std::to_string(count) : "");
    threads[name] = count;
  }
  std::printf("  threads: %s\n  largest mappings (RSS / PSS / anonymous kB):\n", names.c_str());
  json::array maps;
  for (std::size_t i = 0; i < r.mappings.size(); ++i) {
    const auto& m = r.mappings[i];
    if (i < 12) {
      std::printf("  %8.0f %8.0f %8.0f  %s\n", m.rss_kb, m.pss_kb, m.anon_kb, m.name.c_str());
    }
    maps.push_back(json::object{
        {"name", m.name}, {"rss_kb", m.rss_kb}, {"pss_kb", m.pss_kb}, {"anon_kb", m.anon_kb}});
  }
  const auto& last = r.points.back();
  std::printf("  peak RSS %.2f MB (goal <= 12 MB: %s)\n", last.peak_rss_mb,
              last.peak_rss_mb <= 12.0 ? "met" : "not met");
  return json::object{{"captures", r.captures},
                      {"seconds", r.seconds},
                      {"retried", r.retried},
                      {"mutations", r.last_seq},
                      {"live_readings", r.live_readings},
                      {"page_bytes", r.page_bytes},
                      {"load_average_before", r.load_before},
                      {"peak_rss_mb", last.peak_rss_mb},
                      {"rss_mb", last.rss_mb},
                      {"rss_anon_mb", last.rss_anon_mb},
                      {"rss_file_mb", last.rss_file_mb},
                      {"pss_mb", last.pss_mb},
                      {"threads", last.threads},
                      {"goal_peak_rss_mb", 12.0},
                      {"stages", std::move(stages)},
                      {"thread_names", std::move(threads)},
                      {"mappings", std::move(maps)}};
}

}  // namespace weighlink::bench::replay
