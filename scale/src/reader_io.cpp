// ScaleReader on the agent's io thread (issue 21): the serial port's file descriptor is waited on
// by the io_context itself, and each chunk of bytes is parsed and handed to the callbacks in the
// same handler, so a frame costs one wake-up of one thread (the reader thread's poll() plus a post
// to the io thread were two). Everything else the thread path does is kept, in the same
// ReaderCore: poll requests, software stability, staleness, reopening with capped backoff, stats.
// Timers are armed only when something is due, never per frame: the stale check fires at the
// stale deadline of the reading it was armed for and re-arms itself for the newest one.
// POSIX only (reads_on_io_thread() is false on Windows, where the reader thread stays).

#include "reader_io.hpp"

#include <exception>
#include <future>

#if !defined(_WIN32)

#include <spdlog/spdlog.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "reader_core.hpp"

namespace weighlink::scale::detail {
namespace {
namespace asio = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
// As long as the thread path's blocking write of a poll request waits (serial_libserialport.cpp,
// serial_termios.cpp).
constexpr std::chrono::seconds kPollWriteTimeout{2};
}  // namespace

class IoReaderLoop : public std::enable_shared_from_this<IoReaderLoop> {
 public:
  IoReaderLoop(asio::io_context& io, ScaleConfig config, ScaleEvents events,
               std::shared_ptr<ReaderCounters> counters)
      : config_(std::move(config)),
        events_(std::move(events)),
        counters_(std::move(counters)),
        core_(config_, events_, *counters_),
        port_(io),
        tick_(io),
        reopen_(io),
        backoff_(config_.reopen_backoff_initial) {}

  void start() {
    if (stopping_) return;
    guarded([&] {
      if (const auto error = core_.configuration_error(); !error.empty()) {
        core_.fail(error);
        return;
      }
      open();
    });
  }

  // Marks the loop stopped at once (from any thread): no callback starts after this.
  void mark_stopping() { stopping_ = true; }

  // On the io thread, or with the io_context stopped.
  void stop() {
    stopping_ = true;
    tick_.cancel();
    reopen_.cancel();
    close_port();
  }

 private:
  // Nothing may escape an Asio handler (the callbacks are the caller's code): the reader stops.
  template <class F>
  void guarded(F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      spdlog::critical("scale {}: reader stopped: {}", config_.id, e.what());
      stop();
    } catch (...) {
      spdlog::critical("scale {}: reader stopped by an unknown exception", config_.id);
      stop();
    }
  }

  void open() {
    std::string detail;
    auto opened = open_source(config_.source, config_.protocol, &detail);
    if (opened && (*opened)->native_handle() < 0) {
      detail = "the port has no file descriptor to wait on";
      opened = make_error_code(boost::system::errc::not_supported);
    }
    if (!opened) {
      core_.lost("cannot open " + describe_spec(config_.source) + ": " +
                 (detail.empty() ? opened.error().message() : detail));
      retry_after(backoff_);
      backoff_ = next_reopen_backoff(backoff_, config_);
      return;
    }
    source_ = std::move(*opened);
    description_ = source_->describe();
    error_code ec;
    wait_for_one_byte(source_->native_handle());
    port_.assign(source_->native_handle(), ec);
    if (ec) {
      source_.reset();
      core_.lost("cannot wait on " + description_ + ": " + ec.message());
      retry_after(backoff_);
      backoff_ = next_reopen_backoff(backoff_, config_);
      return;
    }
    ++generation_;
    got_bytes_ = false;
    writing_ = false;
    core_.connected(description_);
    const auto now = Clock::now();
    next_poll_ = now;
    if (!core_.poll_request().empty()) send_poll(now);
    schedule_tick();
    do_read();
  }

  void do_read() {
    port_.async_read_some(
        asio::buffer(buffer_),
        [self = shared_from_this(), generation = generation_](const error_code& ec, std::size_t n) {
          if (self->stopping_ || generation != self->generation_) return;
          self->guarded([&] { self->on_read(ec, n); });
        });
  }

  void on_read(const error_code& ec, std::size_t n) {
    if (n > 0) {
      got_bytes_ = true;
      core_.on_bytes(std::string_view(buffer_.data(), n), Clock::now());
      if (stopping_ || !source_) return;  // a callback stopped the reader
      schedule_tick();
    }
    if (ec) {
      // End of file on a terminal is the other end gone (a pty closed, a device unplugged), as
      // the thread path's termios adapter reports it.
      const auto error =
          ec == asio::error::eof ? make_error_code(boost::system::errc::io_error) : ec;
      core_.lost("lost " + description_ + ": " + error.message());
      connection_lost();
      return;
    }
    do_read();
  }

  // Sends the poll request due at next_poll_ without blocking the io thread: the io_context writes
  // it as the port takes it. While the previous request is still on its way this one is skipped;
  // one the port has not taken within kPollWriteTimeout (flow control holding it) drops the
  // connection, as the thread path's blocking write times out.
  void send_poll(Clock::time_point now) {
    next_poll_ = core_.next_poll(next_poll_, now);
    if (writing_) {
      if (now - write_started_ >= kPollWriteTimeout) {
        poll_lost(make_error_code(boost::system::errc::timed_out));
      }
      return;
    }
    writing_ = true;
    write_started_ = now;
    asio::async_write(
        port_, asio::buffer(core_.poll_request()),
        [self = shared_from_this(), generation = generation_](const error_code& ec, std::size_t) {
          if (self->stopping_ || generation != self->generation_) return;
          self->writing_ = false;
          if (ec) self->guarded([&] { self->poll_lost(ec); });
        });
  }

  void poll_lost(const error_code& ec) {
    core_.lost("lost " + description_ + " sending the poll request: " + ec.message());
    connection_lost();
  }

  // Arms the one timer for what is due first: the next poll request (while open) or the stale
  // deadline. An armed timer that fires no later is left alone: it re-arms itself when it fires,
  // so a steady stream of frames never touches the timer.
  void schedule_tick() {
    auto due = core_.stale_deadline();
    if (source_ && !core_.poll_request().empty() && (!due || next_poll_ < *due)) due = next_poll_;
    if (!due || (tick_armed_ && tick_at_ <= *due)) return;
    tick_armed_ = true;
    tick_at_ = *due;
    tick_.expires_at(*due);
    tick_.async_wait([self = shared_from_this(), at = *due](const error_code& ec) {
      if (ec || self->stopping_ || at != self->tick_at_) return;  // cancelled or re-armed
      self->guarded([&] { self->on_tick(); });
    });
  }

  void on_tick() {
    tick_armed_ = false;
    const auto now = Clock::now();
    if (source_ && !core_.poll_request().empty() && now >= next_poll_) {
      send_poll(now);
      if (!source_) return;  // the request timed out: connection_lost() re-armed what is due
    }
    core_.check_stale(now);
    if (!stopping_) schedule_tick();
  }

  void connection_lost() {
    close_port();
    core_.disconnected(Clock::now());
    // A connection that opened and died without a byte keeps backing off.
    if (got_bytes_) backoff_ = config_.reopen_backoff_initial;
    retry_after(backoff_);
  }

  void retry_after(std::chrono::milliseconds delay) {
    if (stopping_) return;
    schedule_tick();  // a disconnected scale still goes stale
    reopen_.expires_after(delay);
    reopen_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec || self->stopping_) return;
      self->guarded([&] { self->open(); });
    });
  }

  // A raw terminal set up with VMIN=0 (as both serial adapters leave it) answers a read with no
  // byte waiting by returning 0, which Asio's speculative read takes for end of file. With
  // VMIN=1 a non-blocking read answers EAGAIN instead, and 0 means the other end is gone.
  static void wait_for_one_byte(int fd) {
    termios tio{};
    if (::isatty(fd) != 1 || ::tcgetattr(fd, &tio) != 0) return;
    if (tio.c_cc[VMIN] == 1 && tio.c_cc[VTIME] == 0) return;
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    (void)::tcsetattr(fd, TCSANOW, &tio);
  }

  // The descriptor is given back before the source closes it: the source owns it.
  void close_port() {
    ++generation_;
    if (port_.is_open()) {
      error_code ignored;
      port_.cancel(ignored);
      (void)port_.release();
    }
    source_.reset();
  }

  const ScaleConfig config_;
  const ScaleEvents events_;
  std::shared_ptr<ReaderCounters> counters_;
  ReaderCore core_;
  asio::posix::stream_descriptor port_;
  asio::steady_timer tick_;
  asio::steady_timer reopen_;
  std::unique_ptr<ByteSource> source_;
  std::string description_;
  std::array<char, 4096> buffer_{};
  std::chrono::milliseconds backoff_;
  Clock::time_point next_poll_{};
  Clock::time_point tick_at_{};
  std::uint64_t generation_ = 0;  // read completions of an earlier connection are ignored
  Clock::time_point write_started_{};
  bool tick_armed_ = false;
  bool got_bytes_ = false;
  bool writing_ = false;  // a poll request on its way to the port
  std::atomic<bool> stopping_{false};
};

std::shared_ptr<IoReaderLoop> start_io_reader(asio::io_context& io, const ScaleConfig& config,
                                              const ScaleEvents& events,
                                              std::shared_ptr<ReaderCounters> counters) {
  auto loop = std::make_shared<IoReaderLoop>(io, config, events, std::move(counters));
  asio::post(io, [loop] { loop->start(); });
  return loop;
}

void stop_io_reader(asio::io_context& io, const std::shared_ptr<IoReaderLoop>& loop) {
  loop->mark_stopping();
  if (io.stopped() || io.get_executor().running_in_this_thread()) {
    loop->stop();
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  auto stopped = done->get_future();
  asio::post(io, [loop, done] {
    loop->stop();
    done->set_value();
  });
  // The io thread does it; if the io_context stops first, the posted handler never runs, and
  // with no handler left to run the loop's objects can be touched here.
  while (stopped.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout) {
    if (io.stopped()) {
      loop->stop();
      return;
    }
  }
}

}  // namespace weighlink::scale::detail

#else  // _WIN32: the reader thread serves every source.

namespace weighlink::scale::detail {

class IoReaderLoop {};

std::shared_ptr<IoReaderLoop> start_io_reader(boost::asio::io_context&, const ScaleConfig&,
                                              const ScaleEvents&, std::shared_ptr<ReaderCounters>) {
  return nullptr;
}

void stop_io_reader(boost::asio::io_context&, const std::shared_ptr<IoReaderLoop>&) {}

}  // namespace weighlink::scale::detail

#endif
