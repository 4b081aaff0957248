#pragma once
// ScaleReader: one thread per scale that opens the source (reopening with capped backoff after a
// failure, an unplug, a dropped TCP connection or a silent source), sends poll requests to polled
// indicators, feeds the parser, decides software stability, stamps readings (scale id, seq, time)
// and reports staleness. Callbacks run on the reader thread: they must be quick and must not
// block.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "weighlink/scale/parser.hpp"
#include "weighlink/scale/reading.hpp"
#include "weighlink/scale/scale_config.hpp"
#include "weighlink/scale/source.hpp"

namespace weighlink::scale {

struct ScaleEvents {
  // A decoded reading, or the last reading again with stale=true (and stable=false) once no valid
  // frame arrived for stale_after.
  std::function<void(const Reading&)> on_reading;
  // Source opened (true) or lost (false), with a one-line reason.
  std::function<void(bool connected, const std::string& detail)> on_connection;
};

class ScaleReader {
 public:
  ScaleReader(ScaleConfig config, ScaleEvents events);
  ~ScaleReader();  // stops and joins
  ScaleReader(const ScaleReader&) = delete;
  ScaleReader& operator=(const ScaleReader&) = delete;

  void start();
  void stop();
  [[nodiscard]] const ScaleConfig& config() const { return config_; }
  [[nodiscard]] ParserStats stats() const;

 private:
  void run();

  ScaleConfig config_;
  ScaleEvents events_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> frames_{0}, bad_frames_{0}, skipped_bytes_{0};
  std::thread thread_;
};

}  // namespace weighlink::scale
