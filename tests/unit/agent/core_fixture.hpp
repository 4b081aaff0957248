#pragma once
// The agent's socket-free cores (Captures, Api, TruConnect) run in-process over a real SQLite
// outbox in a temp dir, with the io thread and the clock played by the test: posted tasks run
// when the test asks, timers when it advances the clock. Nothing sleeps; a test waits for the
// outbox's answer itself (its writer thread posts it).

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "weighlink/agent/api.hpp"
#include "weighlink/agent/captures.hpp"
#include "weighlink/agent/clock.hpp"
#include "weighlink/agent/live_state.hpp"
#include "weighlink/agent/truconnect.hpp"
#include "weighlink/sync/outbox.hpp"
#include "weighlink/testing/process.hpp"

namespace weighlink::agent::testing {

using namespace std::chrono_literals;

// Both clocks advance together, only when the test says so.
class ManualClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return wall_ + elapsed_; }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::time_point{} + elapsed_;
  }
  void set_elapsed(std::chrono::milliseconds e) { elapsed_ = e; }
  [[nodiscard]] std::chrono::milliseconds elapsed() const { return elapsed_; }

 private:
  // 2026-12-07T08:00:00Z
  std::chrono::system_clock::time_point wall_{std::chrono::milliseconds(1'796'630'400'000)};
  std::chrono::milliseconds elapsed_{0};
};

// The io thread: post() from any thread (the outbox's writer posts its answers), timers on the
// manual clock.
class FakeIo {
 public:
  ManualClock clock;

  std::function<void(std::function<void()>)> post() {
    return [this](std::function<void()> fn) {
      {
        std::lock_guard lock(mutex_);
        posted_.push_back(std::move(fn));
      }
      cv_.notify_all();
    };
  }
  std::function<void(std::chrono::milliseconds, std::function<void()>)> schedule() {
    return [this](std::chrono::milliseconds delay, std::function<void()> fn) {
      timers_.emplace(clock.elapsed() + delay, std::move(fn));
    };
  }

  // Runs what is posted until `done()` holds. False when nothing more arrives for a long while
  // (the event never came: the test fails on it, it does not measure it).
  bool run_until(const std::function<bool()>& done) {
    while (!done()) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mutex_);
        if (!cv_.wait_for(lock, 30s, [&] { return !posted_.empty(); })) return false;
        fn = std::move(posted_.front());
        posted_.pop_front();
      }
      fn();
    }
    return true;
  }
  // Runs what is posted now, without waiting.
  void run_ready() {
    while (true) {
      std::function<void()> fn;
      {
        std::lock_guard lock(mutex_);
        if (posted_.empty()) return;
        fn = std::move(posted_.front());
        posted_.pop_front();
      }
      fn();
    }
  }
  // Moves the clock forward by `d`, running each timer when its time comes.
  void advance(std::chrono::milliseconds d) {
    const auto until = clock.elapsed() + d;
    while (!timers_.empty() && timers_.begin()->first <= until) {
      auto node = timers_.extract(timers_.begin());
      clock.set_elapsed(node.key());
      node.mapped()();
      run_ready();
    }
    clock.set_elapsed(until);
  }
  [[nodiscard]] std::size_t timers() const { return timers_.size(); }
  void drop_timers() { timers_.clear(); }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> posted_;
  std::multimap<std::chrono::milliseconds, std::function<void()>> timers_;
};

inline scale::Decimal dec(std::string_view text) { return scale::Decimal::parse(text).value(); }

// The scale "main": a direct axle pad (its protocol has a motion flag), stale after 1 s.
inline scale::ScaleConfig main_scale() {
  scale::ScaleConfig c;
  c.id = "main";
  c.protocol = "mt-continuous";
  c.stale_after = 1000ms;
  return c;
}

// One station: a scale (or more), the live state, the outbox, Captures; Api and TruConnect on
// demand. restart() closes and reopens everything on the same outbox file, as a restarted agent.
class Station {
 public:
  explicit Station(std::vector<scale::ScaleConfig> scales = {main_scale()},
                   std::optional<TruConnectConfig> truconnect = std::nullopt)
      : scales_(std::move(scales)), truconnect_config_(std::move(truconnect)) {
    start();
  }
  ~Station() { stop(); }

  static scale::ScaleConfig default_scale() { return main_scale(); }

  // A reading as the scale reader hands it over: the next seq, now, stable or in motion.
  scale::Reading reading(std::string_view weight, bool stable = true, std::string unit = "kg",
                         const std::string& scale_id = "") {
    scale::Reading r;
    r.scale = scale_id.empty() ? scales_.front().id : scale_id;
    r.seq = ++seq_;
    r.ts = io.clock.now();
    r.protocol = scales_.front().protocol;
    r.weight = dec(weight);
    r.unit = std::move(unit);
    r.stable = stable;
    r.raw = "frame " + std::string(weight) + (stable ? " S" : " M");
    return r;
  }
  // The reading reaches the io thread (live state, then the TruConnect layer).
  const scale::Reading& feed(scale::Reading r) {
    live->on_connection(r.scale, true, "test");
    live->on_reading(r);
    if (truconnect) truconnect->on_reading(r);
    last_ = std::move(r);
    return last_;
  }
  const scale::Reading& show(std::string_view weight, bool stable = true, std::string unit = "kg") {
    return feed(reading(weight, stable, std::move(unit)));
  }
  // The scale stops sending: the reader re-emits the last reading as stale.
  void go_stale() {
    auto r = last_;
    r.stale = true;
    r.stable = false;
    r.seq = ++seq_;
    live->on_reading(r);
    if (truconnect) truconnect->on_reading(r);
  }

  Api& api(ApiContext extra = {}) {
    if (!api_) {
      extra.station_id = "st-1";
      extra.agent_version = "test";
      extra.outbox = outbox.get();
      extra.live = live.get();
      extra.captures = captures.get();
      extra.post = io.post();
      extra.clock = &io.clock;
      api_ = std::make_unique<Api>(std::move(extra));
    }
    return *api_;
  }

  // A new run: readings count from seq 1 again.
  void restart() {
    stop();
    seq_ = 0;
    start();
  }

  [[nodiscard]] std::vector<sync::OutboxRow> rows() { return outbox->list(std::nullopt, 0, 1000); }

  FakeIo io;
  weighlink::testing::TempDir dir{"wl-agent-core"};
  std::unique_ptr<sync::Outbox> outbox;
  std::unique_ptr<LiveState> live;
  std::unique_ptr<Captures> captures;
  std::unique_ptr<TruConnect> truconnect;

 private:
  void start() {
    std::string error;
    sync::OutboxOptions options;
    options.station_id = "st-1";
    auto opened = sync::Outbox::open(dir / "outbox.db", options, &error);
    REQUIRE_MESSAGE(opened.has_value(), error);
    outbox = std::move(*opened);
    live = std::make_unique<LiveState>();
    for (const auto& s : scales_) live->add_scale(s);
    CaptureContext ctx;
    ctx.station_id = "st-1";
    ctx.agent_version = "test";
    ctx.outbox = outbox.get();
    ctx.live = live.get();
    ctx.post = io.post();
    ctx.schedule = io.schedule();
    ctx.clock = &io.clock;
    captures = std::make_unique<Captures>(ctx);
    if (truconnect_config_) {
      truconnect = std::make_unique<TruConnect>(*truconnect_config_, *captures, "test");
    }
  }
  void stop() {
    // What the outbox still owes is answered before it closes (an agent stopping drains it);
    // timers die with the io_context.
    if (outbox) outbox->close();
    io.run_ready();
    io.drop_timers();
    api_.reset();
    truconnect.reset();
    captures.reset();
    outbox.reset();
  }

  std::vector<scale::ScaleConfig> scales_;
  std::optional<TruConnectConfig> truconnect_config_;
  std::unique_ptr<Api> api_;
  std::uint64_t seq_ = 0;
  scale::Reading last_;
};

inline boost::json::object payload_of(const sync::OutboxRow& row) {
  return boost::json::parse(row.payload_json).as_object();
}

}  // namespace weighlink::agent::testing
