#include "weighlink/scale/reader.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <exception>
#include <variant>
#include <vector>

#include "weighlink/base/host_port.hpp"
#include "weighlink/scale/stability.hpp"
#include "weighlink/scale/staleness.hpp"

namespace weighlink::scale {
namespace {

constexpr std::chrono::milliseconds kReadTimeout{50};  // bounds stop() latency and stale checks

using Clock = std::chrono::steady_clock;

std::string describe_spec(const SourceSpec& spec) {
  struct Visitor {
    std::string operator()(const SerialSource& s) const {
      return s.usb ? "serial USB " + describe(*s.usb) : s.device;
    }
    std::string operator()(const TcpSource& s) const {
      return "tcp " + base::format_host_port(s.host, s.port);
    }
    std::string operator()(const UdpSource& s) const {
      return "udp " + base::format_host_port(s.host, s.port) +
             (s.from.empty() ? "" : " from " + s.from);
    }
    std::string operator()(const SimSource& s) const { return "sim " + s.profile; }
  };
  return std::visit(Visitor{}, spec);
}

std::chrono::milliseconds ms_until(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now());
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
        stale_(config.stale_after),
        stability_(config.stability),
        poll_every_(effective_poll_interval(config)),
        poll_(poll_request(config)) {}

  void run() {
    if (!make_parser(config_.protocol, config_.parser)) {
      fail_and_idle("unknown protocol '" + config_.protocol +
                    "'; run `weighlink-scale protocols` for the list");
      return;
    }
    if (poll_every_.count() > 0 && poll_.empty()) {
      fail_and_idle("poll_interval is set but protocol '" + config_.protocol +
                    "' has no usual request; set poll_command");
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
        lost("cannot open " + describe_spec(config_.source) + ": " +
             (detail.empty() ? error.message() : detail));
        // A setting this build can never open (a bad sim profile, an unencodable protocol) would
        // fail the same way forever; the log line above says why, retrying stays cheap.
        wait(backoff);
        backoff = next_reopen_backoff(backoff, config_);
        continue;
      }
      if (read_until_lost(**opened)) backoff = config_.reopen_backoff_initial;
      opened->reset();
      stability_.reset();  // whatever happened while disconnected is unknown
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
    auto last_bytes_at = Clock::now();
    auto next_poll = Clock::now();
    while (!stop_) {
      auto timeout = kReadTimeout;
      if (!poll_.empty()) {
        if (Clock::now() >= next_poll) {
          if (auto sent = source.write(poll_); !sent) {
            lost("lost " + description + " sending the poll request: " + sent.error().message());
            break;
          }
          next_poll += poll_every_;
          if (next_poll <= Clock::now()) next_poll = Clock::now() + poll_every_;
        }
        timeout = std::clamp(ms_until(next_poll), std::chrono::milliseconds(1), kReadTimeout);
      }
      const auto n = source.read(buffer, timeout);
      if (!n) {
        lost("lost " + description + ": " + n.error().message());
        break;
      }
      if (*n > 0) {
        got_bytes = true;
        last_bytes_at = Clock::now();
        readings.clear();
        parser->put(std::string_view(buffer.data(), *n), readings);
        if (parser->stats().bad_frames != counted.bad_frames) stability_.reset();
        publish(readings);
        count(*parser, counted);
      } else if (watch_silence_ && Clock::now() - last_bytes_at >= config_.reopen_after_silence) {
        lost("no byte from " + description + " for " +
             std::to_string(config_.reopen_after_silence.count()) + " ms; reopening");
        break;
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
    const auto now = Clock::now();
    for (auto& r : readings) {
      stability_.apply(r, now);
      stale_.on_reading(r, now);
      emit(r);
    }
  }

  void check_stale() {
    if (auto stale = stale_.poll(Clock::now())) {
      spdlog::warn("scale {}: stale, no valid reading for {} ms", config_.id,
                   config_.stale_after.count());
      stability_.reset();
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
    const auto until = Clock::now() + total;
    while (!stop_ && Clock::now() < until) {
      std::this_thread::sleep_for(
          std::clamp(ms_until(until), std::chrono::milliseconds(1), kReadTimeout));
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
  ReadingStability stability_;
  const std::chrono::milliseconds poll_every_;
  const std::string poll_;
  bool watch_silence_ = false;
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
