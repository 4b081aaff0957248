#include "weighlink/service/metrics.hpp"

#include <algorithm>
#include <sstream>

namespace weighlink::service {

void Metrics::count_outcome(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::applied:
      applied_.fetch_add(1, std::memory_order_relaxed);
      break;
    case Outcome::duplicate:
      duplicate_.fetch_add(1, std::memory_order_relaxed);
      break;
    case Outcome::rejected:
      rejected_.fetch_add(1, std::memory_order_relaxed);
      break;
    case Outcome::unspecified:
      break;
  }
}

void Metrics::count_evidence_rejection(std::string_view reason) noexcept {
  if (reason.starts_with("bad_signature")) {
    bad_signature_.fetch_add(1, std::memory_order_relaxed);
  } else if (reason.starts_with("chain_broken")) {
    chain_broken_.fetch_add(1, std::memory_order_relaxed);
  }
}

void Metrics::observe_batch(const std::string& station_id, double seconds,
                            std::uint64_t high_water_seq, std::int64_t now_unix_ms) {
  count_batch();
  std::size_t i = 0;
  while (i < kBatchLatencyBuckets.size() && seconds > kBatchLatencyBuckets[i]) ++i;
  std::lock_guard lock(mu_);
  ++latency_counts_[i];
  latency_sum_s_ += seconds;
  update_station(station_id, std::nullopt, high_water_seq, now_unix_ms);
}

void Metrics::station_seen(const std::string& station_id, std::uint64_t agent_last_seq,
                           std::uint64_t high_water_seq, std::int64_t now_unix_ms) {
  std::lock_guard lock(mu_);
  update_station(station_id, agent_last_seq, high_water_seq, now_unix_ms);
}

void Metrics::update_station(const std::string& station_id,
                             std::optional<std::uint64_t> agent_last_seq,
                             std::uint64_t high_water_seq, std::int64_t now_unix_ms) {
  auto& p = stations_[station_id];
  if (agent_last_seq) p.agent_last_seq = *agent_last_seq;
  p.agent_last_seq = std::max(p.agent_last_seq, high_water_seq);
  p.high_water_seq = high_water_seq;
  p.last_seen_unix_ms = now_unix_ms;
}

MetricsSnapshot Metrics::snapshot() const noexcept {
  MetricsSnapshot s;
  s.applied = applied_.load(std::memory_order_relaxed);
  s.duplicate = duplicate_.load(std::memory_order_relaxed);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  s.replay_batches = replay_batches_.load(std::memory_order_relaxed);
  s.overloaded = overloaded_.load(std::memory_order_relaxed);
  s.unavailable = unavailable_.load(std::memory_order_relaxed);
  s.oversize = oversize_.load(std::memory_order_relaxed);
  s.unsigned_mutations = unsigned_.load(std::memory_order_relaxed);
  s.bad_signature = bad_signature_.load(std::memory_order_relaxed);
  s.chain_broken = chain_broken_.load(std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  s.batch_latency_counts = latency_counts_;
  s.batch_latency_sum_s = latency_sum_s_;
  s.stations = stations_;
  return s;
}

std::string render_prometheus(const MetricsSnapshot& s) {
  std::ostringstream out;
  out << "# HELP weighlink_backend_mutations_total Mutations answered, by outcome.\n"
      << "# TYPE weighlink_backend_mutations_total counter\n"
      << "weighlink_backend_mutations_total{outcome=\"applied\"} " << s.applied << "\n"
      << "weighlink_backend_mutations_total{outcome=\"duplicate\"} " << s.duplicate << "\n"
      << "weighlink_backend_mutations_total{outcome=\"rejected\"} " << s.rejected << "\n"
      << "# HELP weighlink_backend_replay_batches_total Replay batches committed.\n"
      << "# TYPE weighlink_backend_replay_batches_total counter\n"
      << "weighlink_backend_replay_batches_total " << s.replay_batches << "\n"
      << "# HELP weighlink_backend_overloaded_total Calls refused because the worker queue was "
         "full.\n"
      << "# TYPE weighlink_backend_overloaded_total counter\n"
      << "weighlink_backend_overloaded_total " << s.overloaded << "\n"
      << "# HELP weighlink_backend_unavailable_total Calls answered UNAVAILABLE (database "
         "connection lost).\n"
      << "# TYPE weighlink_backend_unavailable_total counter\n"
      << "weighlink_backend_unavailable_total " << s.unavailable << "\n"
      << "# HELP weighlink_backend_pool_queue_depth Jobs waiting for a database worker.\n"
      << "# TYPE weighlink_backend_pool_queue_depth gauge\n"
      << "weighlink_backend_pool_queue_depth " << s.queue_depth << "\n"
      << "# HELP weighlink_backend_pool_queue_capacity Jobs that may wait before calls are "
         "refused.\n"
      << "# TYPE weighlink_backend_pool_queue_capacity gauge\n"
      << "weighlink_backend_pool_queue_capacity " << s.queue_capacity << "\n"
      << "# HELP weighlink_backend_oversize_total Replay calls refused for carrying more "
         "mutations than --max-batch.\n"
      << "# TYPE weighlink_backend_oversize_total counter\n"
      << "weighlink_backend_oversize_total " << s.oversize << "\n"
      << "# HELP weighlink_backend_unsigned_mutations_total Mutations recorded for stations "
         "without a signing key (their signatures are not checked).\n"
      << "# TYPE weighlink_backend_unsigned_mutations_total counter\n"
      << "weighlink_backend_unsigned_mutations_total " << s.unsigned_mutations << "\n"
      << "# HELP weighlink_backend_evidence_rejected_total Mutations rejected because their "
         "evidence did not check out against the station key, by reason.\n"
      << "# TYPE weighlink_backend_evidence_rejected_total counter\n"
      << "weighlink_backend_evidence_rejected_total{reason=\"bad_signature\"} " << s.bad_signature
      << "\n"
      << "weighlink_backend_evidence_rejected_total{reason=\"chain_broken\"} " << s.chain_broken
      << "\n"
      << "# HELP weighlink_backend_replay_batch_seconds Database time of committed Replay "
         "batches.\n"
      << "# TYPE weighlink_backend_replay_batch_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBatchLatencyBuckets.size(); ++i) {
    cumulative += s.batch_latency_counts[i];
    out << "weighlink_backend_replay_batch_seconds_bucket{le=\"" << kBatchLatencyBuckets[i]
        << "\"} " << cumulative << "\n";
  }
  cumulative += s.batch_latency_counts.back();
  out << "weighlink_backend_replay_batch_seconds_bucket{le=\"+Inf\"} " << cumulative << "\n"
      << "weighlink_backend_replay_batch_seconds_sum " << s.batch_latency_sum_s << "\n"
      << "weighlink_backend_replay_batch_seconds_count " << cumulative << "\n";
  if (!s.stations.empty()) {
    out << "# HELP weighlink_backend_station_lag Mutations a station has assigned that are not "
           "applied here yet (as of its last Hello or Replay).\n"
        << "# TYPE weighlink_backend_station_lag gauge\n";
    for (const auto& [id, p] : s.stations) {
      out << "weighlink_backend_station_lag{station=\"" << id << "\"} "
          << (p.agent_last_seq - p.high_water_seq) << "\n";
    }
    out << "# HELP weighlink_backend_station_high_water_seq Highest contiguous seq applied per "
           "station.\n"
        << "# TYPE weighlink_backend_station_high_water_seq gauge\n";
    for (const auto& [id, p] : s.stations) {
      out << "weighlink_backend_station_high_water_seq{station=\"" << id << "\"} "
          << p.high_water_seq << "\n";
    }
    out << "# HELP weighlink_backend_station_last_seen_seconds Unix time of the station's last "
           "call answered by this replica.\n"
        << "# TYPE weighlink_backend_station_last_seen_seconds gauge\n";
    for (const auto& [id, p] : s.stations) {
      out << "weighlink_backend_station_last_seen_seconds{station=\"" << id << "\"} "
          << p.last_seen_unix_ms / 1000 << "\n";
    }
  }
  return out.str();
}

}  // namespace weighlink::service
