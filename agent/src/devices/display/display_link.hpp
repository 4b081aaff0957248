#pragma once
// One remote display: its own thread opens the port or connection (reopening with capped,
// jittered backoff while it is absent or after it is lost), writes a frame for every new reading
// of its scale (latest wins when the line is slower than the indicator) and repeats the last one
// every interval, so a display that blanks on silence keeps showing the weight.
// Threading: put() and health() from any thread (the io thread); the I/O only on its own thread,
// so a slow, absent or unplugged display never blocks the agent.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "weighlink/agent/devices.hpp"
#include "weighlink/agent/display_config.hpp"
#include "weighlink/agent/display_frames.hpp"
#include "weighlink/scale/source.hpp"

namespace weighlink::agent::display {

class DisplayLink {
 public:
  explicit DisplayLink(DisplayConfig config);
  ~DisplayLink();  // stops and joins
  DisplayLink(const DisplayLink&) = delete;
  DisplayLink& operator=(const DisplayLink&) = delete;

  void start();  // idempotent
  void stop();   // idempotent; returns once the thread has ended

  // The latest reading of the scale (readings of other scales are the caller's to filter).
  void put(const scale::Reading& reading);

  [[nodiscard]] const DisplayConfig& config() const { return config_; }
  [[nodiscard]] DeviceHealth health() const;
  [[nodiscard]] std::uint64_t frames() const { return frames_; }

 private:
  void run();
  // Writes frames until the display is lost (the error, for the operator) or stop() (nullopt).
  std::optional<std::string> serve(scale::ByteSource& port);
  // Waits `delay` unless stop() comes first; false when stopping.
  bool pause(std::chrono::milliseconds delay);
  void set_state(const std::string& state, const std::string& detail);
  [[nodiscard]] std::string target() const;

  const DisplayConfig config_;
  const StaleStyle stale_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<scale::Reading> latest_;
  std::uint64_t version_ = 0;  // bumped by put()
  bool stop_ = false;
  std::string state_ = "offline";
  std::string detail_ = "not opened yet";
  std::int64_t since_ms_ = 0;
  std::atomic<std::uint64_t> frames_{0};
  std::thread thread_;
};

}  // namespace weighlink::agent::display
