#include "weighlink/scale/reader.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <exception>
#include <variant>
#include <vector>

#include "weighlink/scale/staleness.hpp"

namespace weighlink::scale {
namespace {

constexpr std::chrono::milliseconds kReadTimeout{50};  // bounds stop() latency and stale checks

std::string_view source_kind(const SourceSpec& spec) {
  struct Visitor {
    std::string_view operator()(const SerialSource&) const { return "serial"; }
    std::string_view operator()(const TcpSource&) const { return "tcp"; }
    std::string_view operator()(const UdpSource&) const { return "udp"; }
    std::string_view operator()(const SimSource&) const { return "sim"; }
  };
  return std::visit(Visitor{}, spec);
}

}  // namespace

// The reader loop's state, kept out of the header so the public class stays small.
class ReaderLoop {
 public:
  ReaderLoop(const ScaleConfig& config, const ScaleEvents& events, const std::atomic<bool>& stop,
             std::atomic<std::uint64_t>& frames, std::atomic<std::uint64_t>& bad_frames,
             std::atomic<std::uint64_t>& skipped_bytes)
      : config_(config),
        events_(events),
        stop_(stop),
        frames_(frames),
        bad_frames_(bad_frames),
        skipped_bytes_(skipped_bytes),
        stale_(config.stale_after) {}

  void run() {
    const auto* serial = std::get_if<SerialSource>(&config_.source);
    if (serial == nullptr) {
      // TCP, UDP and simulated sources are not built yet: say so once and idle, rather than
      // pretending to connect.
      fail_and_idle(std::string(source_kind(config_.source)) +
                    " source not supported yet in this build; use serial:DEV (a pseudo-terminal "
                    "from `weighlink-scale simulate --pty PATH` works)");
      return;
    }
    if (!make_parser(config_.protocol, config_.parser)) {
      fail_and_idle("unknown protocol '" + config_.protocol +
                    "'; run `weighlink-scale protocols` for the list");
      return;
    }
    auto backoff = config_.reopen_backoff_initial;
    while (!stop_) {
      auto opened = open_serial(*serial);
      if (!opened) {
        lost("cannot open " + serial->device + ": " + opened.error().message());
        wait(backoff);
        backoff = std::min(backoff * 2, config_.reopen_backoff_max);
        continue;
      }
      if (read_until_lost(**opened)) backoff = config_.reopen_backoff_initial;
      opened->reset();
      if (!stop_) wait(backoff);
    }
  }

 private:
  // Returns whether any byte arrived (a connection that opens and dies at once keeps backing off).
  bool read_until_lost(ByteSource& source) {
    const std::string description = source.describe();
    spdlog::info("scale {}: connected to {}", config_.id, description);
    last_failure_.clear();
    notify(true, description);

    auto parser = make_parser(config_.protocol, config_.parser);
    ParserStats counted;
    std::array<char, 4096> buffer{};
    std::vector<Reading> readings;
    bool got_bytes = false;
    while (!stop_) {
      const auto n = source.read(buffer, kReadTimeout);
      if (!n) {
        lost("lost " + description + ": " + n.error().message());
        break;
      }
      if (*n > 0) {
        got_bytes = true;
        readings.clear();
        parser->put(std::string_view(buffer.data(), *n), readings);
        publish(readings);
        count(*parser, counted);
      }
      check_stale();
    }
    readings.clear();
    parser->finish(readings);
    publish(readings);
    count(*parser, counted);
    return got_bytes;
  }

  void publish(std::vector<Reading>& readings) {
    const auto now = StaleTracker::Clock::now();
    for (auto& r : readings) {
      stale_.on_reading(r, now);
      emit(r);
    }
  }

  void check_stale() {
    if (auto stale = stale_.poll(StaleTracker::Clock::now())) {
      spdlog::warn("scale {}: stale, no valid reading for {} ms", config_.id,
                   config_.stale_after.count());
      emit(*stale);
    }
  }

  void emit(Reading& r) {
    r.scale = config_.id;
    r.seq = ++seq_;
    r.ts = std::chrono::system_clock::now();
    if (events_.on_reading) events_.on_reading(r);
  }

  void count(const Parser& parser, ParserStats& counted) {
    const auto& s = parser.stats();
    frames_ += s.frames - counted.frames;
    bad_frames_ += s.bad_frames - counted.bad_frames;
    skipped_bytes_ += s.skipped_bytes - counted.skipped_bytes;
    counted = s;
  }

  void lost(const std::string& detail) {
    if (detail == last_failure_) return;  // one log line per state change, not per retry
    spdlog::warn("scale {}: {}; retrying every {} ms at most", config_.id, detail,
                 config_.reopen_backoff_max.count());
    last_failure_ = detail;
    notify(false, detail);
  }

  void notify(bool connected, const std::string& detail) {
    if (events_.on_connection) events_.on_connection(connected, detail);
  }

  // Sleeps in short slices so stop() stays prompt and a disconnected scale still goes stale.
  void wait(std::chrono::milliseconds total) {
    const auto until = std::chrono::steady_clock::now() + total;
    while (!stop_ && std::chrono::steady_clock::now() < until) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      std::this_thread::sleep_for(std::clamp(left, std::chrono::milliseconds(1), kReadTimeout));
      check_stale();
    }
  }

  void fail_and_idle(const std::string& detail) {
    spdlog::error("scale {}: {}", config_.id, detail);
    notify(false, detail);
    while (!stop_) std::this_thread::sleep_for(kReadTimeout);
  }

  const ScaleConfig& config_;
  const ScaleEvents& events_;
  const std::atomic<bool>& stop_;
  std::atomic<std::uint64_t>& frames_;
  std::atomic<std::uint64_t>& bad_frames_;
  std::atomic<std::uint64_t>& skipped_bytes_;
  StaleTracker stale_;
  std::uint64_t seq_ = 0;
  std::string last_failure_;
};

ScaleReader::ScaleReader(ScaleConfig config, ScaleEvents events)
    : config_(std::move(config)), events_(std::move(events)) {}

ScaleReader::~ScaleReader() { stop(); }

void ScaleReader::start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void ScaleReader::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

ParserStats ScaleReader::stats() const {
  ParserStats s;
  s.frames = frames_.load();
  s.bad_frames = bad_frames_.load();
  s.skipped_bytes = skipped_bytes_.load();
  return s;
}

void ScaleReader::run() {
  // Nothing may escape a thread's entry function (callbacks are the caller's code).
  try {
    ReaderLoop loop(config_, events_, stop_, frames_, bad_frames_, skipped_bytes_);
    loop.run();
  } catch (const std::exception& e) {
    spdlog::critical("scale {}: reader stopped: {}", config_.id, e.what());
  } catch (...) {
    spdlog::critical("scale {}: reader stopped by an unknown exception", config_.id);
  }
}

}  // namespace weighlink::scale
