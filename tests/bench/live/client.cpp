// bench_live's measuring side: frames written to a pty, WebSocket clients timing each delivery.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <thread>

#include "live_bench.hpp"
#include "weighlink/scale/encode.hpp"
#include "weighlink/testing/pty_scale.hpp"

namespace weighlink::bench::live {
namespace {

constexpr std::size_t kMinWarmFrames = 25;
constexpr auto kWarmTimeout = std::chrono::seconds(10);
constexpr auto kDrainTimeout = std::chrono::seconds(2);

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

std::optional<std::int64_t> integer_after(std::string_view text, std::string_view key) {
  const auto at = text.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t i = at + key.size();
  if (i >= text.size() || text[i] < '0' || text[i] > '9') return std::nullopt;
  std::int64_t v = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) v = v * 10 + (text[i] - '0');
  return v;
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
  scale::DisplayState state;
  state.weight = scale::Decimal{weight, 0};
  state.unit = "kg";
  state.motion = false;  // the indicator says stable: the reading goes out at once
  return scale::encode_mt_continuous(state, false);
}

// Writes frames weighing first, first+1, ... at `rate` Hz, one at a time, stamping each (when
// `run` is given) just before its first byte goes to the pty. `keep_going` is asked before each.
template <class F>
std::size_t write_frames(testing::PtyScale& pty, std::int64_t first, std::size_t count, double rate,
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

}  // namespace

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

Measurement run_point(const Server& server, int clients, const Options& options) {
  testing::TempDir tmp("wl-bench-live");
  testing::PtyScale pty(tmp / "scale");
  testing::Process process(server.argv(pty.path(), tmp / "ready.json", tmp.path()),
                           tmp / "server.log");
  const auto ready = process.wait_ready(tmp / "ready.json");
  const auto address = ready.at("http");
  const auto [host, port] = testing::split_host_port(address);
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
  result.peak_rss_mb = status_mb(process.pid(), "VmHWM");
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

}  // namespace weighlink::bench::live
