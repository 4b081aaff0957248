#include "weighlink/backend/metrics.hpp"

#include <sstream>

namespace weighlink::backend {

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

MetricsSnapshot Metrics::snapshot() const noexcept {
  MetricsSnapshot s;
  s.applied = applied_.load(std::memory_order_relaxed);
  s.duplicate = duplicate_.load(std::memory_order_relaxed);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  s.replay_batches = replay_batches_.load(std::memory_order_relaxed);
  s.overloaded = overloaded_.load(std::memory_order_relaxed);
  s.unavailable = unavailable_.load(std::memory_order_relaxed);
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
      << "weighlink_backend_pool_queue_capacity " << s.queue_capacity << "\n";
  return out.str();
}

}  // namespace weighlink::backend
