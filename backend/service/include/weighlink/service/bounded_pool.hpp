#pragma once
// A fixed set of worker threads, each owning a context (the backend gives each its own PGconn),
// fed from a bounded queue. When the queue is full, try_submit refuses instead of queueing
// without bound, so callers can shed load (gRPC RESOURCE_EXHAUSTED, HTTP 503).
//
// Threading: try_submit, depth and stop may be called from any thread. Jobs run on the workers;
// a job must not throw (a throwing job is swallowed so the worker survives, but whatever it
// promised its caller is then never delivered).

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace weighlink::service {

template <class Context>
class BoundedPool {
 public:
  using Job = std::function<void(Context&)>;
  using ContextFactory = std::function<Context()>;

  // `make_context` runs once on each worker thread, before its first job.
  BoundedPool(std::size_t workers, std::size_t capacity, ContextFactory make_context)
      : capacity_(capacity), make_context_(std::move(make_context)) {
    threads_.reserve(workers);
    for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }

  ~BoundedPool() { stop(); }
  BoundedPool(const BoundedPool&) = delete;
  BoundedPool& operator=(const BoundedPool&) = delete;

  // Queues `job`; false (job dropped) when the queue is full or the pool is stopping.
  [[nodiscard]] bool try_submit(Job job) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || queue_.size() >= capacity_) return false;
      queue_.push_back(std::move(job));
    }
    ready_.notify_one();
    return true;
  }

  // Jobs waiting for a worker (not counting those running).
  [[nodiscard]] std::size_t depth() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  // Refuses new jobs, runs the queued ones, joins the workers. Idempotent.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

 private:
  void work() {
    Context context = make_context_();
    while (true) {
      Job job;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping and drained
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      try {
        job(context);
      } catch (...) {
        // Jobs report their own failures; this only keeps the worker alive.
      }
    }
  }

  const std::size_t capacity_;
  ContextFactory make_context_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace weighlink::service
