#pragma once
// The io thread and the clock of the agent's cores, played by a test or a fuzz target: posted
// tasks run when the caller asks (post() may come from the outbox's writer thread), timers when
// it advances the manual clock. No doctest here (the fuzz targets use it too).

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>

#include "weighlink/agent/clock.hpp"

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

}  // namespace weighlink::agent::testing
