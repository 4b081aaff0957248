#pragma once
// Process-wide counters of the backend, rendered in Prometheus text format for GET /metrics.
// Thread-safe: counters are atomics, bumped from worker threads and read from the HTTP thread.

#include <atomic>
#include <cstdint>
#include <string>

#include "weighlink/backend/types.hpp"

namespace weighlink::backend {

struct MetricsSnapshot {
  std::uint64_t applied = 0;
  std::uint64_t duplicate = 0;
  std::uint64_t rejected = 0;
  std::uint64_t replay_batches = 0;
  std::uint64_t overloaded = 0;   // calls refused with RESOURCE_EXHAUSTED
  std::uint64_t unavailable = 0;  // calls answered UNAVAILABLE (database connection lost)
  std::uint64_t queue_depth = 0;
  std::uint64_t queue_capacity = 0;
};

class Metrics {
 public:
  void count_outcome(Outcome outcome) noexcept;
  void count_batch() noexcept { replay_batches_.fetch_add(1, std::memory_order_relaxed); }
  void count_overloaded() noexcept { overloaded_.fetch_add(1, std::memory_order_relaxed); }
  void count_unavailable() noexcept { unavailable_.fetch_add(1, std::memory_order_relaxed); }
  [[nodiscard]] MetricsSnapshot snapshot() const noexcept;

 private:
  std::atomic<std::uint64_t> applied_{0};
  std::atomic<std::uint64_t> duplicate_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> replay_batches_{0};
  std::atomic<std::uint64_t> overloaded_{0};
  std::atomic<std::uint64_t> unavailable_{0};
};

[[nodiscard]] std::string render_prometheus(const MetricsSnapshot& snapshot);

}  // namespace weighlink::backend
