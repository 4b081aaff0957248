#pragma once
// Process-wide counters of the backend, rendered in Prometheus text format for GET /metrics.
// Thread-safe: counters are atomics, bumped from worker threads and read from the HTTP thread.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "weighlink/service/types.hpp"

namespace weighlink::service {

// Seconds; the upper bounds of the replay batch latency histogram (plus +Inf).
inline constexpr std::array<double, 11> kBatchLatencyBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                0.5,   1.0,  2.5,   5.0,  10.0};

// What the backend last learnt of one station: the seq the agent says it has assigned (Hello),
// and the station's high water here. lag = last_seq - high_water: mutations still on the station.
struct StationProgress {
  std::uint64_t agent_last_seq = 0;
  std::uint64_t high_water_seq = 0;
  std::int64_t last_seen_unix_ms = 0;
};

// What happened to evidence files (PutBlobChunk, ReportBlobLost).
enum class BlobEvent { chunk, completed, hash_mismatch, lost };

struct MetricsSnapshot {
  std::uint64_t applied = 0;
  std::uint64_t duplicate = 0;
  std::uint64_t rejected = 0;
  std::uint64_t replay_batches = 0;
  std::uint64_t overloaded = 0;   // calls refused with RESOURCE_EXHAUSTED
  std::uint64_t unavailable = 0;  // calls answered UNAVAILABLE (database connection lost)
  std::uint64_t oversize = 0;     // Replay calls refused for too many mutations
  std::uint64_t queue_depth = 0;
  std::uint64_t queue_capacity = 0;
  std::array<std::uint64_t, kBatchLatencyBuckets.size() + 1> batch_latency_counts{};  // +Inf last
  double batch_latency_sum_s = 0;
  std::map<std::string, StationProgress> stations;

  // Evidence (docs/backend.md, "Signatures").
  std::uint64_t unsigned_mutations = 0;  // recorded for stations without a signing key
  std::uint64_t bad_signature = 0;       // rejected: evidence not signed by the station key
  std::uint64_t chain_broken = 0;        // rejected: prev_hash does not continue the chain

  // Evidence files (docs/backend.md, "Evidence files").
  std::uint64_t blob_chunks = 0;
  std::uint64_t blob_bytes = 0;
  std::uint64_t blobs_completed = 0;
  std::uint64_t blob_hash_mismatches = 0;
  std::uint64_t blobs_lost = 0;  // reported by stations
};

class Metrics {
 public:
  void count_outcome(Outcome outcome) noexcept;
  void count_batch() noexcept { replay_batches_.fetch_add(1, std::memory_order_relaxed); }
  void count_overloaded() noexcept { overloaded_.fetch_add(1, std::memory_order_relaxed); }
  void count_unavailable() noexcept { unavailable_.fetch_add(1, std::memory_order_relaxed); }
  void count_oversize() noexcept { oversize_.fetch_add(1, std::memory_order_relaxed); }
  void count_unsigned(std::uint64_t n) noexcept {
    unsigned_.fetch_add(n, std::memory_order_relaxed);
  }
  // An evidence file event; `bytes` for chunks.
  void count_blob(BlobEvent event, std::uint64_t bytes = 0) noexcept;
  // Counts a rejection whose reason is bad_signature or chain_broken; ignores the others.
  void count_evidence_rejection(std::string_view reason) noexcept;
  // One committed Replay batch: how long its database work took, and the station's high water
  // after it (its agent_last_seq stays as its last Hello said). Counts the batch too.
  void observe_batch(const std::string& station_id, double seconds, std::uint64_t high_water_seq,
                     std::int64_t now_unix_ms);
  // A Hello: the seq the agent says it has assigned, and the station's high water here.
  void station_seen(const std::string& station_id, std::uint64_t agent_last_seq,
                    std::uint64_t high_water_seq, std::int64_t now_unix_ms);
  [[nodiscard]] MetricsSnapshot snapshot() const noexcept;

 private:
  // With mu_ held. agent_last_seq nullopt keeps the last one.
  void update_station(const std::string& station_id, std::optional<std::uint64_t> agent_last_seq,
                      std::uint64_t high_water_seq, std::int64_t now_unix_ms);

  std::atomic<std::uint64_t> applied_{0};
  std::atomic<std::uint64_t> duplicate_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> replay_batches_{0};
  std::atomic<std::uint64_t> overloaded_{0};
  std::atomic<std::uint64_t> unavailable_{0};
  std::atomic<std::uint64_t> oversize_{0};
  std::atomic<std::uint64_t> unsigned_{0};
  std::atomic<std::uint64_t> bad_signature_{0};
  std::atomic<std::uint64_t> chain_broken_{0};
  std::array<std::atomic<std::uint64_t>, 4> blob_events_{};
  std::atomic<std::uint64_t> blob_bytes_{0};
  mutable std::mutex mu_;  // the histogram and the station map
  std::array<std::uint64_t, kBatchLatencyBuckets.size() + 1> latency_counts_{};
  double latency_sum_s_ = 0;
  std::map<std::string, StationProgress> stations_;
};

[[nodiscard]] std::string render_prometheus(const MetricsSnapshot& snapshot);

}  // namespace weighlink::service
