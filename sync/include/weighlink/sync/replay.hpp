#pragma once
// The replay worker: sends pending outbox rows in seq-ordered batches to the backend over gRPC
// (Hello, Replay), with a deadline on every call and capped backoff with full jitter, and applies
// the answers to the outbox. Runs on its own thread; status() is thread-safe.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weighlink/sync/backoff.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::sync {

struct ReplayConfig {
  std::vector<std::string> backends;  // host:port, tried in order
  std::string station_id;
  std::string token;
  std::string agent_version;
  std::size_t batch_size = 200;
  std::chrono::milliseconds call_deadline{5000};
  std::chrono::milliseconds hello_interval{30'000};
  BackoffPolicy backoff;
  // Acknowledged mutations are pruned once the backend holds them in a verified backup
  // (durable_seq) and they are at least this old.
  std::chrono::milliseconds min_retention{std::chrono::hours(24 * 7)};
};

enum class UplinkState { disabled, connecting, online, offline };
[[nodiscard]] std::string_view to_string(UplinkState state);

struct UplinkStatus {
  UplinkState state = UplinkState::disabled;
  std::string backend;                       // the address in use
  std::string last_error;                    // one line
  std::optional<std::int64_t> last_sync_ms;  // last successful call
  std::uint64_t high_water_seq = 0;
  std::uint64_t durable_seq = 0;
  std::string generation;
  std::uint32_t consecutive_failures = 0;
  std::uint64_t sent = 0;  // mutations the backend answered for
  // Mutations in the Replay call under way (pending on disk until the backend answers).
  std::uint64_t in_flight = 0;
};

// Decision after Hello: from which seq must the agent re-send? nullopt when nothing was lost.
// Pure: the backend lost data when its high water is below what the agent holds as acknowledged.
[[nodiscard]] std::optional<std::uint64_t> rewind_point(std::uint64_t backend_high_water,
                                                        std::uint64_t local_acknowledged_seq);

class ReplayWorker {
 public:
  static std::unique_ptr<ReplayWorker> create(ReplayConfig config, Outbox& outbox);
  virtual ~ReplayWorker() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  // New rows were committed: send soon.
  virtual void notify() = 0;
  [[nodiscard]] virtual UplinkStatus status() const = 0;
};

}  // namespace weighlink::sync
