#pragma once
// ScaleReader: opens the source (reopening with capped backoff after a failure, an unplug, a
// dropped TCP connection or a silent source), sends poll requests to polled indicators, feeds the
// parser, decides software stability, stamps readings (scale id, seq, time) and reports
// staleness. It waits for bytes either on a thread of its own, or, when given an io_context and
// the source is one it can wait on there (reads_on_io_thread()), on that io_context's thread with
// no thread of its own (issue 21: one wake-up per frame, not two). Callbacks run on the thread
// that waits: they must be quick and must not block.

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

namespace boost::asio {
class io_context;
}

namespace weighlink::scale {
namespace detail {
struct ReaderCounters;
class IoReaderLoop;
}  // namespace detail

// True when a ScaleReader given an io_context reads `source` on that io_context's thread: a
// serial port on POSIX (its file descriptor waited on by the io_context). Other sources (TCP,
// UDP, sim, and every source on Windows) keep a reader thread of their own.
[[nodiscard]] bool reads_on_io_thread(const SourceSpec& source);

struct ScaleEvents {
  // A decoded reading, or the last reading again with stale=true (and stable=false) once no valid
  // frame arrived for stale_after.
  std::function<void(const Reading&)> on_reading;
  // Source opened (true) or lost (false), with a one-line reason.
  std::function<void(bool connected, const std::string& detail)> on_connection;
};

class ScaleReader {
 public:
  // Reads on a thread of its own.
  ScaleReader(ScaleConfig config, ScaleEvents events);
  // Reads on `io`'s thread when reads_on_io_thread(config.source), else on a thread of its own.
  // `io` outlives the reader. start() and stop() may be called from any thread; stop() waits
  // until no callback runs any more (from `io`'s thread itself, or once `io` is stopped, at once).
  ScaleReader(ScaleConfig config, ScaleEvents events, boost::asio::io_context& io);
  ~ScaleReader();  // stops and joins
  ScaleReader(const ScaleReader&) = delete;
  ScaleReader& operator=(const ScaleReader&) = delete;

  void start();
  void stop();
  [[nodiscard]] const ScaleConfig& config() const { return config_; }
  [[nodiscard]] ParserStats stats() const;
  // True when the callbacks run on the io_context's thread (no reader thread).
  [[nodiscard]] bool on_io_thread() const { return io_ != nullptr; }

 private:
  void run();

  ScaleConfig config_;
  ScaleEvents events_;
  std::atomic<bool> stop_{false};
  std::shared_ptr<detail::ReaderCounters> counters_;
  std::thread thread_;
  boost::asio::io_context* io_ = nullptr;  // set: the io-thread path
  std::shared_ptr<detail::IoReaderLoop> io_loop_;
};

}  // namespace weighlink::scale
