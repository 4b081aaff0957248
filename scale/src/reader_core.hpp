#pragma once
// Internal: what ScaleReader's two ways of waiting share (the reader thread in reader.cpp, the
// agent's io thread in reader_io.cpp): the parser, software stability, staleness, stamping,
// counting and the connection events. No waiting, no clock: every call takes the time.
// Threading: one thread at a time (the reader thread, or the io thread).

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/scale/parser.hpp"
#include "weighlink/scale/reader.hpp"
#include "weighlink/scale/stability.hpp"
#include "weighlink/scale/staleness.hpp"

namespace weighlink::scale::detail {

// ScaleReader::stats(), written by whichever thread reads.
struct ReaderCounters {
  std::atomic<std::uint64_t> frames{0}, bad_frames{0}, skipped_bytes{0};
};

// "serial /dev/ttyUSB0", "tcp 10.0.0.7:4001": a source that is not open yet, for messages.
[[nodiscard]] std::string describe_spec(const SourceSpec& spec);

class ReaderCore {
 public:
  using Clock = std::chrono::steady_clock;

  ReaderCore(const ScaleConfig& config, const ScaleEvents& events, ReaderCounters& counters);

  // Why this configuration can never be read (an unknown protocol, polling without a request);
  // empty when it can.
  [[nodiscard]] std::string configuration_error() const;
  // A configuration error: logged once and reported as not connected.
  void fail(const std::string& detail);

  // The source is open: logged, reported, and a fresh parser.
  void connected(const std::string& description);
  // Bytes from the source at `now`: parsed, stamped, emitted.
  void on_bytes(std::string_view bytes, Clock::time_point now);
  // The source is closed: what the parser still holds is emitted, and stability starts over
  // (whatever happened while disconnected is unknown).
  void disconnected(Clock::time_point now);
  // Emits the stale copy of the last reading when it went stale at `now`.
  void check_stale(Clock::time_point now);
  // When check_stale() has something to do next (nullopt: nothing until a reading arrives).
  [[nodiscard]] std::optional<Clock::time_point> stale_deadline() const {
    return stale_.deadline();
  }
  // The source failed or could not be opened: logged and reported once per distinct reason.
  void lost(const std::string& detail);

  // Polled indicators: the request and how often (an empty request: never).
  [[nodiscard]] const std::string& poll_request() const { return poll_; }
  [[nodiscard]] std::chrono::milliseconds poll_every() const { return poll_every_; }
  // The next poll after one sent at `sent_for`, never in the past of `now`.
  [[nodiscard]] Clock::time_point next_poll(Clock::time_point sent_for,
                                            Clock::time_point now) const {
    const auto next = sent_for + poll_every_;
    return next <= now ? now + poll_every_ : next;
  }

 private:
  void publish(Clock::time_point now);
  void emit(Reading& r);
  void count();
  void notify(bool connected, const std::string& detail);

  const ScaleConfig& config_;
  const ScaleEvents& events_;
  ReaderCounters& counters_;
  StaleTracker stale_;
  ReadingStability stability_;
  const std::chrono::milliseconds poll_every_;
  const std::string poll_;
  std::unique_ptr<Parser> parser_;
  ParserStats counted_;
  std::vector<Reading> readings_;
  std::uint64_t seq_ = 0;
  std::string last_failure_;
};

}  // namespace weighlink::scale::detail
