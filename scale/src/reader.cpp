#include "weighlink/scale/reader.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <exception>
#include <variant>

#include "reader_core.hpp"
#include "reader_io.hpp"

namespace weighlink::scale {
namespace {

constexpr std::chrono::milliseconds kReadTimeout{50};  // bounds stop() latency and stale checks

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds ms_until(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now());
}

// The reader thread's loop: blocking reads with a short timeout around the shared ReaderCore.
class ReaderLoop {
 public:
  ReaderLoop(const ScaleConfig& config, const ScaleEvents& events, const std::atomic<bool>& stop,
             detail::ReaderCounters& counters)
      : config_(config), stop_(stop), core_(config, events, counters) {}

  void run() {
    if (const auto error = core_.configuration_error(); !error.empty()) {
      core_.fail(error);
      while (!stop_) std::this_thread::sleep_for(kReadTimeout);
      return;
    }
    // Only TCP: a serial port that goes quiet is an indicator switched off (it reports an unplug
    // itself), and reopening it every few seconds all night would only flap the connection state.
    watch_silence_ = std::holds_alternative<TcpSource>(config_.source) &&
                     config_.reopen_after_silence.count() > 0;
    auto backoff = config_.reopen_backoff_initial;
    while (!stop_) {
      std::string detail;
      auto opened = open_source(config_.source, config_.protocol, &detail);
      if (!opened) {
        const auto error = opened.error();
        core_.lost("cannot open " + detail::describe_spec(config_.source) + ": " +
                   (detail.empty() ? error.message() : detail));
        // A setting this build can never open (a bad sim profile, an unencodable protocol) would
        // fail the same way forever; the log line above says why, retrying stays cheap.
        wait(backoff);
        backoff = next_reopen_backoff(backoff, config_);
        continue;
      }
      if (read_until_lost(**opened)) backoff = config_.reopen_backoff_initial;
      opened->reset();
      core_.disconnected(Clock::now());
      if (!stop_) wait(backoff);
    }
  }

 private:
  // Returns whether any byte arrived (a connection that opens and dies at once keeps backing off).
  bool read_until_lost(ByteSource& source) {
    const std::string description = source.describe();
    core_.connected(description);
    const std::string& poll = core_.poll_request();
    std::array<char, 4096> buffer{};
    bool got_bytes = false;
    auto last_bytes_at = Clock::now();
    auto next_poll = Clock::now();
    while (!stop_) {
      auto timeout = kReadTimeout;
      if (!poll.empty()) {
        if (Clock::now() >= next_poll) {
          if (auto sent = source.write(poll); !sent) {
            core_.lost("lost " + description +
                       " sending the poll request: " + sent.error().message());
            break;
          }
          next_poll = core_.next_poll(next_poll, Clock::now());
        }
        timeout = std::clamp(ms_until(next_poll), std::chrono::milliseconds(1), kReadTimeout);
      }
      const auto n = source.read(buffer, timeout);
      if (!n) {
        core_.lost("lost " + description + ": " + n.error().message());
        break;
      }
      if (*n > 0) {
        got_bytes = true;
        last_bytes_at = Clock::now();
        core_.on_bytes(std::string_view(buffer.data(), *n), last_bytes_at);
      } else if (watch_silence_ && Clock::now() - last_bytes_at >= config_.reopen_after_silence) {
        core_.lost("no byte from " + description + " for " +
                   std::to_string(config_.reopen_after_silence.count()) + " ms; reopening");
        break;
      }
      core_.check_stale(Clock::now());
    }
    return got_bytes;
  }

  // Sleeps in short slices so stop() stays prompt and a disconnected scale still goes stale.
  void wait(std::chrono::milliseconds total) {
    const auto until = Clock::now() + total;
    while (!stop_ && Clock::now() < until) {
      std::this_thread::sleep_for(
          std::clamp(ms_until(until), std::chrono::milliseconds(1), kReadTimeout));
      core_.check_stale(Clock::now());
    }
  }

  const ScaleConfig& config_;
  const std::atomic<bool>& stop_;
  detail::ReaderCore core_;
  bool watch_silence_ = false;
};

}  // namespace

bool reads_on_io_thread(const SourceSpec& source) {
#if defined(_WIN32)
  (void)source;
  return false;
#else
  return std::holds_alternative<SerialSource>(source);
#endif
}

ScaleReader::ScaleReader(ScaleConfig config, ScaleEvents events)
    : config_(std::move(config)),
      events_(std::move(events)),
      counters_(std::make_shared<detail::ReaderCounters>()) {}

ScaleReader::ScaleReader(ScaleConfig config, ScaleEvents events, boost::asio::io_context& io)
    : ScaleReader(std::move(config), std::move(events)) {
  if (reads_on_io_thread(config_.source)) io_ = &io;
}

ScaleReader::~ScaleReader() { stop(); }

void ScaleReader::start() {
  if (io_) {
    if (io_loop_) return;
    io_loop_ = detail::start_io_reader(*io_, config_, events_, counters_);
    return;
  }
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void ScaleReader::stop() {
  if (io_loop_) {
    detail::stop_io_reader(*io_, io_loop_);
    io_loop_.reset();
  }
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

ParserStats ScaleReader::stats() const {
  ParserStats s;
  s.frames = counters_->frames.load();
  s.bad_frames = counters_->bad_frames.load();
  s.skipped_bytes = counters_->skipped_bytes.load();
  return s;
}

void ScaleReader::run() {
  // Nothing may escape a thread's entry function (callbacks are the caller's code).
  try {
    ReaderLoop loop(config_, events_, stop_, *counters_);
    loop.run();
  } catch (const std::exception& e) {
    spdlog::critical("scale {}: reader stopped: {}", config_.id, e.what());
  } catch (...) {
    spdlog::critical("scale {}: reader stopped by an unknown exception", config_.id);
  }
}

}  // namespace weighlink::scale
