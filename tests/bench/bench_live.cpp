// Live socket latency: serial byte -> WebSocket client, for weighlink-agent's GET /v1/live and, in
// the same run, a minimal Node.js relay standing in for TruConnect's pipeline
// (tests/bench/node-relay/relay.js). For each server and client count a fresh pty and a fresh
// server process: N clients connect, frames of the Mettler Toledo continuous format are written to
// the pty at a fixed rate, each with its own weight, and every client message is matched by that
// weight to the steady-clock time the frame's first byte was written, in this process. Reported:
// p50/p99/max latency over all clients and messages, delivered messages, the server's CPU time
// (utime+stime from /proc) per delivered message, and its peak RSS (VmHWM). A third server, the
// floor, is this binary in --serve-floor mode: one thread that reads the pty and send()s a
// preformatted frame of the agent's size to every client, the least any server must do per
// message (one send per client over loopback TCP, whose receive path the sender's kernel time
// includes). No timing assertions; not part of `make test`. docs/performance.md,
// "Live socket latency".
//
// Usage: bench_live [--seconds S] [--rate HZ] [--clients 1,10,100] [--repeat N] [--json FILE]
//                   [--agent PATH] [--relay-dir DIR] [--no-relay] [--no-agent] [--no-floor]
// --repeat N runs every point N times, the servers taking turns, and pools the runs.

#include <fcntl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "weighlink/scale/encode.hpp"
#include "weighlink/testing/process.hpp"
#include "weighlink/testing/pty_scale.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using weighlink::bench::nearest_rank;
using weighlink::bench::proc_stat;
using weighlink::bench::ProcStat;
using weighlink::testing::Process;
using weighlink::testing::PtyScale;
using weighlink::testing::TempDir;

// Warm-up frames carry weights from kWarmBase up, measured frames from kBase up: a message whose
// weight is below kBase is never counted, so the reading a client gets on connect, the
// auto-detection of the checksum (the agent's first frame waits for the next byte) and connection
// set-up stay out of the figures. Six digits of mt-continuous bound the measured frames.
constexpr std::int64_t kWarmBase = 1000;
constexpr std::int64_t kBase = 100000;
constexpr std::int64_t kMaxFrames = 999999 - kBase;
constexpr std::size_t kMinWarmFrames = 25;
constexpr auto kWarmTimeout = std::chrono::seconds(10);
constexpr auto kDrainTimeout = std::chrono::seconds(2);

struct Options {
  double seconds = 20;
  double rate = 50;
  std::vector<int> clients{1, 10, 100};
  int repeat = 1;
  std::string json_path;
  std::string agent = weighlink::testing::bin("weighlink-agent");
  std::string relay_dir = std::string(WEIGHLINK_BUILD_DIR) + "/bench/node-relay";
  bool agent_enabled = true;
  bool relay_enabled = true;
  bool floor_enabled = true;
};

std::int64_t ns_since_epoch(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// What one measured point shares between the writer (main thread) and the clients (io thread).
struct Run {
  explicit Run(std::size_t frame_count) : frames(frame_count), written_ns(frame_count) {}

  const std::size_t frames;
  // Steady-clock ns at which frame i's first byte was written; 0 until then.
  std::vector<std::atomic<std::int64_t>> written_ns;
  std::atomic<int> clients_warm{0};  // clients that got a warm-up or measured message
  std::atomic<int> clients_done{0};  // clients that got the last measured frame
  // io thread only while it runs:
  std::vector<std::int64_t> latencies_ns;
  std::uint64_t unmatched = 0;  // a measured weight that was not written yet: a bench bug
};

// Returns the frame weight a server message carries, or nullopt for other messages.
using Extract = std::optional<std::int64_t> (*)(std::string_view);

std::optional<std::int64_t> integer_after(std::string_view text, std::string_view key) {
  const auto at = text.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t i = at + key.size();
  if (i >= text.size() || text[i] < '0' || text[i] > '9') return std::nullopt;
  std::int64_t v = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) v = v * 10 + (text[i] - '0');
  return v;
}

// weighlink-agent: {"type":"reading",...,"weight":"100042",...,"stale":false,...}. A stale
// repeat carries the last weight again and is not a delivery of that frame.
std::optional<std::int64_t> agent_weight(std::string_view text) {
  if (!text.starts_with(R"({"type":"reading")")) return std::nullopt;
  if (text.find(R"("stale":true)") != std::string_view::npos) return std::nullopt;
  return integer_after(text, R"("weight":")");
}

// The relay: {"event":"weights","data":{...,"gvw":100042,...},"timestamp":...}.
std::optional<std::int64_t> relay_weight(std::string_view text) {
  if (!text.starts_with(R"({"event":"weights")")) return std::nullopt;
  return integer_after(text, R"("gvw":)");
}

// One WebSocket client. The handshake is blocking (before the io thread runs); reads are async,
// and the receive time is taken first thing in the read handler.
class LiveClient : public std::enable_shared_from_this<LiveClient> {
 public:
  LiveClient(asio::io_context& ioc, Run& run, Extract extract)
      : ws_(ioc), run_(run), extract_(extract) {}

  void connect(const tcp::endpoint& endpoint, const std::string& host, const std::string& target) {
    beast::get_lowest_layer(ws_).connect(endpoint);
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true));
    ws_.read_message_max(1 << 20);
    ws_.handshake(host, target);
  }

  void start() { do_read(); }

 private:
  void do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&LiveClient::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    const auto now = Clock::now();
    if (ec) return;
    const auto data = buffer_.cdata();
    on_message(std::string_view(static_cast<const char*>(data.data()), data.size()), now);
    buffer_.consume(buffer_.size());
    do_read();
  }

  void on_message(std::string_view text, Clock::time_point now) {
    const auto weight = extract_(text);
    if (!weight || *weight < kWarmBase) return;
    if (!warm_) {
      warm_ = true;
      ++run_.clients_warm;
    }
    const auto index = *weight - kBase;
    if (index < 0 || index >= static_cast<std::int64_t>(run_.frames)) return;
    const auto written =
        run_.written_ns[static_cast<std::size_t>(index)].load(std::memory_order_acquire);
    if (written == 0) {
      ++run_.unmatched;
      return;
    }
    run_.latencies_ns.push_back(ns_since_epoch(now) - written);
    if (index + 1 == static_cast<std::int64_t>(run_.frames) && !done_) {
      done_ = true;
      ++run_.clients_done;
    }
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  Run& run_;
  Extract extract_;
  bool warm_ = false;
  bool done_ = false;
};

std::string mt_frame(std::int64_t weight) {
  weighlink::scale::DisplayState state;
  state.weight = weighlink::scale::Decimal{weight, 0};
  state.unit = "kg";
  state.motion = false;  // the indicator says stable: the reading goes out at once
  return weighlink::scale::encode_mt_continuous(state, false);
}

// The three load averages (1, 5 and 15 minutes), as /proc/loadavg has them.
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// A server under test: how to start it on a pty, and where its live socket is.
struct Server {
  std::string name;
  std::string target;  // the WebSocket path
  Extract extract;
  std::function<std::vector<std::string>(const std::string& device, const fs::path& ready,
                                         const fs::path& tmp)>
      argv;
};

// One run of one server at one client count.
struct Measurement {
  std::vector<std::int64_t> latencies_ns;
  std::uint64_t expected = 0;
  double cpu_s = 0;
  double cpu_user_s = 0;
  double peak_rss_mb = 0;
};

// The runs of one server at one client count, pooled.
struct PointResult {
  std::string server;
  int clients = 0;
  int runs = 0;
  std::uint64_t expected = 0;
  std::uint64_t delivered = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  double cpu_s = 0;
  double cpu_user_s = 0;
  double cpu_us_per_msg = 0;
  double peak_rss_mb = 0;
};

// Writes frames weighing first, first+1, ... at `rate` Hz, one at a time, stamping each (when
// `run` is given) just before its first byte goes to the pty. `keep_going` is asked before each.
template <class F>
std::size_t write_frames(PtyScale& pty, std::int64_t first, std::size_t count, double rate,
                         Run* run, F&& keep_going) {
  std::vector<std::string> frames;
  frames.reserve(count);
  for (std::size_t i = 0; i < count; ++i) frames.push_back(mt_frame(first + std::int64_t(i)));
  const auto period = std::chrono::duration<double>(1.0 / rate);
  const auto start = Clock::now();
  std::size_t i = 0;
  for (; i < count && keep_going(i); ++i) {
    std::this_thread::sleep_until(start +
                                  std::chrono::duration_cast<Clock::duration>(period * double(i)));
    const auto now = Clock::now();
    if (run) run->written_ns[i].store(ns_since_epoch(now), std::memory_order_release);
    pty.write(frames[i]);
  }
  return i;
}

Measurement run_point(const Server& server, int clients, const Options& options) {
  TempDir tmp("wl-bench-live");
  PtyScale pty(tmp / "scale");
  Process process(server.argv(pty.path(), tmp / "ready.json", tmp.path()), tmp / "server.log");
  const auto ready = process.wait_ready(tmp / "ready.json");
  const auto address = ready.at("http");
  const auto [host, port] = weighlink::testing::split_host_port(address);
  const tcp::endpoint endpoint(asio::ip::make_address(host), port);

  const auto frames = static_cast<std::size_t>(std::llround(options.seconds * options.rate));
  Run run(frames);
  run.latencies_ns.reserve(frames * static_cast<std::size_t>(clients));
  asio::io_context ioc(1);
  std::vector<std::shared_ptr<LiveClient>> list;
  for (int i = 0; i < clients; ++i) {
    list.push_back(std::make_shared<LiveClient>(ioc, run, server.extract));
    list.back()->connect(endpoint, address, server.target);
  }
  for (auto& c : list) c->start();
  std::thread io([&ioc] { ioc.run(); });
  struct Joiner {
    asio::io_context& ioc;
    std::thread& thread;
    ~Joiner() {
      ioc.stop();
      if (thread.joinable()) thread.join();
    }
  } joiner{ioc, io};

  // Warm-up: until every client has had a message from this pty (and a few frames went by).
  const auto warm_deadline = Clock::now() + kWarmTimeout;
  const auto warm_frames =
      std::min<std::size_t>(static_cast<std::size_t>(kBase - kWarmBase),
                            static_cast<std::size_t>(options.rate * 10) + kMinWarmFrames);
  write_frames(pty, kWarmBase, warm_frames, options.rate, nullptr, [&](std::size_t i) {
    return (i < kMinWarmFrames || run.clients_warm.load() < clients) &&
           Clock::now() < warm_deadline;
  });
  if (run.clients_warm.load() < clients) {
    throw std::runtime_error(
        std::to_string(run.clients_warm.load()) + " of " + std::to_string(clients) +
        " clients got a reading during the warm-up; the server's log:\n" + process.log());
  }

  // utime and stime of the server (all its threads). On loopback stime includes the receiving side
  // of TCP: the kernel delivers to the client's socket inside the sender's send().
  const auto cpu_before = proc_stat(process.pid()).value_or(ProcStat{});
  write_frames(pty, kBase, frames, options.rate, &run, [](std::size_t) { return true; });
  const auto drain_deadline = Clock::now() + kDrainTimeout;
  while (run.clients_done.load() < clients && Clock::now() < drain_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto cpu_after = proc_stat(process.pid()).value_or(ProcStat{});
  Measurement result;
  result.peak_rss_mb = weighlink::bench::status_mb(process.pid(), "VmHWM");
  ioc.stop();
  io.join();
  process.terminate();

  result.latencies_ns = std::move(run.latencies_ns);
  result.expected = static_cast<std::uint64_t>(frames) * static_cast<std::uint64_t>(clients);
  result.cpu_user_s = cpu_after.user_s - cpu_before.user_s;
  result.cpu_s = result.cpu_user_s + cpu_after.system_s - cpu_before.system_s;
  if (run.unmatched != 0) {
    std::fprintf(stderr, "bench_live: %llu messages matched no written frame (bench bug)\n",
                 static_cast<unsigned long long>(run.unmatched));
  }
  return result;
}

// Pools the runs: latencies of every client and message of every run, CPU over all delivered
// messages, the highest peak RSS.
PointResult summarize(const std::string& server, int clients, std::vector<Measurement>& runs) {
  PointResult r;
  r.server = server;
  r.clients = clients;
  r.runs = static_cast<int>(runs.size());
  std::vector<std::int64_t> all;
  for (auto& m : runs) {
    all.insert(all.end(), m.latencies_ns.begin(), m.latencies_ns.end());
    r.expected += m.expected;
    r.cpu_s += m.cpu_s;
    r.cpu_user_s += m.cpu_user_s;
    r.peak_rss_mb = std::max(r.peak_rss_mb, m.peak_rss_mb);
  }
  std::sort(all.begin(), all.end());
  r.delivered = all.size();
  r.p50_ms = static_cast<double>(nearest_rank(all, 0.50)) / 1e6;
  r.p99_ms = static_cast<double>(nearest_rank(all, 0.99)) / 1e6;
  r.max_ms = all.empty() ? 0 : static_cast<double>(all.back()) / 1e6;
  if (!all.empty()) r.cpu_us_per_msg = r.cpu_s * 1e6 / static_cast<double>(all.size());
  return r;
}

std::optional<std::string> find_in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return std::nullopt;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const auto candidate = fs::path(dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return std::nullopt;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Copies the relay into `dir` (a build directory, never the source tree) and installs its
// locked dependencies there with `npm ci` unless that lock is already installed. Returns the
// node binary, or nullopt with the reason the relay is skipped.
std::optional<std::string> prepare_relay(const fs::path& dir, std::string* why) {
  auto node = find_in_path("node");
  const auto npm = find_in_path("npm");
  if (!node || !npm) {
    *why = std::string(node ? "npm" : "node") + " is not installed (PATH)";
    return std::nullopt;
  }
  const fs::path source = fs::path(WEIGHLINK_SOURCE_DIR) / "tests/bench/node-relay";
  std::error_code ec;
  fs::create_directories(dir, ec);
  for (const char* file : {"relay.js", "package.json", "package-lock.json"}) {
    if (!ec) fs::copy_file(source / file, dir / file, fs::copy_options::overwrite_existing, ec);
  }
  if (ec) {
    *why = "cannot copy the relay from " + source.string() + " to " + dir.string() + ": " +
           ec.message();
    return std::nullopt;
  }
  const auto stamp = dir / "node_modules/.bench-installed-lock.json";
  const auto lock = read_text(dir / "package-lock.json");
  if (!fs::exists(dir / "node_modules/ws/package.json") || read_text(stamp) != lock) {
    std::printf("installing the relay's dependencies: npm ci --prefix %s\n", dir.c_str());
    std::fflush(stdout);
    const auto installed = weighlink::testing::run(
        {*npm, "ci", "--prefix", dir.string(), "--no-audit", "--no-fund", "--loglevel=error"},
        std::chrono::minutes(5));
    if (installed.exit_code != 0) {
      *why = "npm ci failed in " + dir.string() + ":\n" + installed.output;
      return std::nullopt;
    }
    std::ofstream(stamp, std::ios::binary) << lock;
  }
  return node;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    if (flag == "--no-relay") {
      o.relay_enabled = false;
    } else if (flag == "--no-agent") {
      o.agent_enabled = false;
    } else if (flag == "--no-floor") {
      o.floor_enabled = false;
    } else if (has_value && flag == "--seconds") {
      o.seconds = std::stod(argv[++i]);
    } else if (has_value && flag == "--repeat") {
      o.repeat = std::stoi(argv[++i]);
    } else if (has_value && flag == "--rate") {
      o.rate = std::stod(argv[++i]);
    } else if (has_value && flag == "--clients") {
      o.clients = weighlink::bench::parse_counts(argv[++i]);
    } else if (has_value && flag == "--json") {
      o.json_path = argv[++i];
    } else if (has_value && flag == "--agent") {
      o.agent = argv[++i];
    } else if (has_value && flag == "--relay-dir") {
      o.relay_dir = argv[++i];
    } else {
      throw std::invalid_argument(
          "unknown flag or missing value: " + flag +
          "\nusage: bench_live [--seconds S] [--rate HZ] [--clients 1,10,100] [--repeat N] "
          "[--json FILE] [--agent PATH] [--relay-dir DIR] [--no-relay] [--no-agent] "
          "[--no-floor]");
    }
  }
  const double frames = o.seconds * o.rate;
  if (o.rate <= 0 || frames < 1 || frames > double(kMaxFrames) || o.clients.empty() ||
      o.repeat < 1) {
    throw std::invalid_argument(
        "need --rate > 0, 1 <= seconds x rate <= " + std::to_string(kMaxFrames) +
        ", at least one client count and --repeat >= 1");
  }
  return o;
}

void print_row(const PointResult& r) {
  std::printf("%-10s %7d %8.3f %8.3f %8.3f %9llu %9llu %11.1f %12.1f\n", r.server.c_str(),
              r.clients, r.p50_ms, r.p99_ms, r.max_ms, static_cast<unsigned long long>(r.delivered),
              static_cast<unsigned long long>(r.expected), r.cpu_us_per_msg, r.peak_rss_mb);
  std::fflush(stdout);
}

boost::json::object to_json(const PointResult& r) {
  return {{"server", r.server},
          {"clients", r.clients},
          {"runs", r.runs},
          {"expected", r.expected},
          {"delivered", r.delivered},
          {"p50_ms", r.p50_ms},
          {"p99_ms", r.p99_ms},
          {"max_ms", r.max_ms},
          {"cpu_s", r.cpu_s},
          {"cpu_user_s", r.cpu_user_s},
          {"cpu_us_per_msg", r.cpu_us_per_msg},
          {"peak_rss_mb", r.peak_rss_mb}};
}

// --- The floor server (bench_live --serve-floor --device D --ready-file F) ---------------------

// A server WebSocket text frame (unmasked) holding `payload`.
std::string ws_text_frame(std::string_view payload) {
  std::string frame;
  frame.push_back('\x81');
  if (payload.size() < 126) {
    frame.push_back(static_cast<char>(payload.size()));
  } else {
    frame.push_back(static_cast<char>(126));
    frame.push_back(static_cast<char>((payload.size() >> 8) & 0xFF));
    frame.push_back(static_cast<char>(payload.size() & 0xFF));
  }
  frame.append(payload);
  return frame;
}

// The agent's reading message for a Toledo frame, fields in the agent's order, so the floor
// sends as many bytes as the agent does. nullopt for a malformed frame.
std::optional<std::string> floor_message(std::string_view frame, std::uint64_t seq) {
  const auto stx = frame.find('\x02');
  if (stx == std::string_view::npos || frame.size() - stx < 16) return std::nullopt;
  frame.remove_prefix(stx);
  std::int64_t weight = 0;
  for (std::size_t i = 4; i < 10; ++i) {
    if (frame[i] < '0' || frame[i] > '9') return std::nullopt;
    weight = weight * 10 + (frame[i] - '0');
  }
  std::string raw;
  for (const char c : frame.substr(0, 16)) {
    char escaped[8];
    if (static_cast<unsigned char>(c) < 0x20) {
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(c));
      raw += escaped;
    } else if (c == '"' || c == '\\') {
      raw += '\\';
      raw += c;
    } else {
      raw += c;
    }
  }
  raw += "\\r";
  char text[1024];
  std::snprintf(text, sizeof text,
                R"({"type":"reading","scale":"main","seq":%llu,"ts":"2026-11-21T08:15:02.113Z",)"
                R"("protocol":"mt-continuous","weight":"%lld","decimals":0,"unit":"kg",)"
                R"("mode":"gross","tare":"0","stable":true,"stable_source":"indicator",)"
                R"("overload":false,"underload":false,"center_zero":false,"stale":false,)"
                R"("raw":"%s"})",
                static_cast<unsigned long long>(seq), static_cast<long long>(weight), raw.c_str());
  return std::string(text);
}

int serve_floor(int argc, char** argv) {
  std::string device;
  std::string ready_file;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::string_view(argv[i]) == "--device") device = argv[i + 1];
    if (std::string_view(argv[i]) == "--ready-file") ready_file = argv[i + 1];
  }
  const int fd = ::open(device.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "floor: cannot open %s\n", device.c_str());
    return 1;
  }
  termios tio{};
  if (::tcgetattr(fd, &tio) == 0) {
    ::cfmakeraw(&tio);
    ::tcsetattr(fd, TCSANOW, &tio);
  }
  asio::io_context ioc(1);
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::mutex mu;
  std::vector<int> clients;  // raw descriptors after the handshake
  std::thread accepting([&] {
    while (true) {
      beast::error_code ec;
      tcp::socket socket(ioc);
      acceptor.accept(socket, ec);
      if (ec) return;
      websocket::stream<tcp::socket> ws(std::move(socket));
      ws.accept(ec);
      if (ec) continue;
      ws.next_layer().set_option(tcp::no_delay(true), ec);
      const int client = ws.next_layer().release(ec);
      if (ec) continue;
      const std::lock_guard lock(mu);
      clients.push_back(client);
    }
  });
  accepting.detach();  // the process ends by SIGTERM
  {
    const std::string tmp = ready_file + ".tmp";
    std::ofstream(tmp) << R"({"http":"127.0.0.1:)" << acceptor.local_endpoint().port() << "\"}\n";
    fs::rename(tmp, ready_file);
  }
  std::string pending;
  std::vector<int> targets;
  std::uint64_t seq = 0;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return 0;
    pending.append(buffer, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (auto cr = pending.find('\r'); cr != std::string::npos; cr = pending.find('\r', start)) {
      const auto text = floor_message(std::string_view(pending).substr(start, cr - start), ++seq);
      start = cr + 1;
      if (!text) continue;
      const auto frame = ws_text_frame(*text);
      {
        const std::lock_guard lock(mu);
        targets = clients;
      }
      for (const int client : targets) {
        (void)::send(client, frame.data(), frame.size(), MSG_NOSIGNAL);
      }
    }
    pending.erase(0, start);
  }
}
}  // namespace

int main(int argc, char** argv) try {
  if (argc > 1 && std::string_view(argv[1]) == "--serve-floor") return serve_floor(argc, argv);
  Options options;
  try {
    options = parse_options(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_live: %s\n", e.what());
    return 2;
  }

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
  std::string relay_skipped;
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

  const std::string load_before = load_average();
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
                      repeat, options.repeat, server.name.c_str(), clients, r.p50_ms, r.p99_ms,
                      r.cpu_us_per_msg);
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
    if (!a || !b || b->p99_ms <= 0 || b->cpu_us_per_msg <= 0 || b->peak_rss_mb <= 0) continue;
    if (!header) {
      std::printf(
          "\nweighlink / relay (goals: p99 <= 1, CPU per message <= 0.1; agent RSS <= 15 MB); "
          "last column: floor / relay\n");
      std::printf("%7s %8s %8s %11s %12s %15s\n", "clients", "p50", "p99", "CPU/msg", "peak RSS",
                  "floor CPU/msg");
      header = true;
    }
    const double p50 = b->p50_ms > 0 ? a->p50_ms / b->p50_ms : 0;
    const double p99 = a->p99_ms / b->p99_ms;
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
  const std::string load_after = load_average();
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
                            {"ratios", std::move(ratios)}};
    if (!relay_skipped.empty()) doc["relay_skipped"] = relay_skipped;
    if (!weighlink::bench::write_json(options.json_path, doc)) {
      std::fprintf(stderr, "bench_live: cannot write %s\n", options.json_path.c_str());
      return 1;
    }
  }
  return failures == 0 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_live: %s\n", e.what());
  return 1;
}
