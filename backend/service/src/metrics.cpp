#include "weighlink/service/metrics.hpp"

#include <algorithm>
#include <initializer_list>
#include <ostream>
#include <sstream>
#include <string_view>
#include <utility>

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

void Metrics::count_blob(BlobEvent event, std::uint64_t bytes) noexcept {
  blob_events_[static_cast<std::size_t>(event)].fetch_add(1, std::memory_order_relaxed);
  blob_bytes_.fetch_add(bytes, std::memory_order_relaxed);
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
  auto blob = [&](BlobEvent e) {
    return blob_events_[static_cast<std::size_t>(e)].load(std::memory_order_relaxed);
  };
  s.blob_chunks = blob(BlobEvent::chunk);
  s.blobs_completed = blob(BlobEvent::completed);
  s.blob_hash_mismatches = blob(BlobEvent::hash_mismatch);
  s.blobs_lost = blob(BlobEvent::lost);
  s.blob_bytes = blob_bytes_.load(std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  s.batch_latency_counts = latency_counts_;
  s.batch_latency_sum_s = latency_sum_s_;
  s.stations = stations_;
  return s;
}

namespace {

// A metric's HELP and TYPE lines.
void describe(std::ostream& out, std::string_view name, std::string_view type,
              std::string_view help) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

// A counter with one sample per value of `label`.
void labelled(std::ostream& out, std::string_view name, std::string_view help,
              std::string_view label,
              std::initializer_list<std::pair<std::string_view, std::uint64_t>> samples) {
  describe(out, name, "counter", help);
  for (const auto& [value, count] : samples) {
    out << name << "{" << label << "=\"" << value << "\"} " << count << "\n";
  }
}

// A gauge with one sample per station.
template <class ValueOf>
void per_station(std::ostream& out, const MetricsSnapshot& s, std::string_view name,
                 std::string_view help, ValueOf value_of) {
  describe(out, name, "gauge", help);
  for (const auto& [id, p] : s.stations) {
    out << name << "{station=\"" << id << "\"} " << value_of(p) << "\n";
  }
}

}  // namespace

std::string render_prometheus(const MetricsSnapshot& s) {
  std::ostringstream out;
  labelled(out, "weighlink_backend_mutations_total", "Mutations answered, by outcome.", "outcome",
           {{"applied", s.applied}, {"duplicate", s.duplicate}, {"rejected", s.rejected}});
  // The metrics with one unlabelled sample, in the order they are written.
  const struct {
    std::string_view name;
    std::string_view type;
    std::string_view help;
    std::uint64_t value;
  } singles[] = {
      {"weighlink_backend_replay_batches_total", "counter", "Replay batches committed.",
       s.replay_batches},
      {"weighlink_backend_overloaded_total", "counter",
       "Calls refused because the worker queue was full.", s.overloaded},
      {"weighlink_backend_unavailable_total", "counter",
       "Calls answered UNAVAILABLE (database connection lost).", s.unavailable},
      {"weighlink_backend_pool_queue_depth", "gauge", "Jobs waiting for a database worker.",
       s.queue_depth},
      {"weighlink_backend_pool_queue_capacity", "gauge",
       "Jobs that may wait before calls are refused.", s.queue_capacity},
      {"weighlink_backend_oversize_total", "counter",
       "Replay calls refused for carrying more mutations than --max-batch.", s.oversize},
      {"weighlink_backend_unsigned_mutations_total", "counter",
       "Mutations recorded for stations without a signing key (their signatures are not "
       "checked).",
       s.unsigned_mutations},
      {"weighlink_backend_blob_chunks_total", "counter",
       "Evidence file chunks stored (PutBlobChunk).", s.blob_chunks},
      {"weighlink_backend_blob_bytes_total", "counter", "Evidence file bytes stored.",
       s.blob_bytes},
      {"weighlink_backend_blobs_completed_total", "counter",
       "Evidence files completed (the whole hashed to its name).", s.blobs_completed},
      {"weighlink_backend_blob_hash_mismatches_total", "counter",
       "Evidence files discarded because the bytes received did not hash to the name.",
       s.blob_hash_mismatches},
      {"weighlink_backend_blobs_lost_total", "counter",
       "Evidence files stations reported they could not send (ReportBlobLost).", s.blobs_lost},
  };
  for (const auto& m : singles) {
    describe(out, m.name, m.type, m.help);
    out << m.name << " " << m.value << "\n";
  }
  labelled(out, "weighlink_backend_evidence_rejected_total",
           "Mutations rejected because their evidence did not check out against the station "
           "key, by reason.",
           "reason", {{"bad_signature", s.bad_signature}, {"chain_broken", s.chain_broken}});
  describe(out, "weighlink_backend_replay_batch_seconds", "histogram",
           "Database time of committed Replay batches.");
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
    per_station(out, s, "weighlink_backend_station_lag",
                "Mutations a station has assigned that are not applied here yet (as of its last "
                "Hello or Replay).",
                [](const StationProgress& p) { return p.agent_last_seq - p.high_water_seq; });
    per_station(out, s, "weighlink_backend_station_high_water_seq",
                "Highest contiguous seq applied per station.",
                [](const StationProgress& p) { return p.high_water_seq; });
    per_station(out, s, "weighlink_backend_station_last_seen_seconds",
                "Unix time of the station's last call answered by this replica.",
                [](const StationProgress& p) { return p.last_seen_unix_ms / 1000; });
  }
  return out.str();
}

}  // namespace weighlink::service
