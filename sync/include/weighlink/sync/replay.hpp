#pragma once
// The replay worker: sends pending outbox rows in seq-ordered batches to the backend over gRPC
// (Hello, Replay), with a deadline on every call and capped backoff with full jitter, and applies
// the answers to the outbox. Runs on its own thread; status() is thread-safe.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weighlink/base/backoff.hpp"
#include "weighlink/base/credential_files.hpp"
#include "weighlink/proto/trailers.hpp"
#include "weighlink/sync/outbox.hpp"
#include "weighlink/sync/replay_cursor.hpp"

namespace weighlink::sync {

// TLS to the backend: the PEM texts (not paths). Disabled: plaintext.
struct ReplayTls {
  bool enabled = false;
  std::string root_certs;  // CA(s) the backend's certificate must chain to; empty = system roots
  std::string cert_chain;  // client certificate for mutual TLS (with private_key); optional
  std::string private_key;
  std::string server_name;  // expected name in the backend's certificate; empty = the address host
};

struct ReplayConfig {
  std::vector<std::string> backends;  // host:port, tried in order
  std::string station_id;
  std::string token;
  // Where the token came from: read again when the backend refuses the token (UNAUTHENTICATED),
  // so a rotated token written to the file is picked up with no restart.
  std::string token_file;
  ReplayTls tls;
  std::string agent_version;
  std::size_t batch_size = 200;
  std::chrono::milliseconds call_deadline{5000};
  std::chrono::milliseconds hello_interval{30'000};
  base::BackoffPolicy backoff;
  std::size_t initial_batch = 50;  // the first batch; then AdaptiveBatch up to batch_size
  // Replay calls in flight at once at most (ReplayWindow); 1 sends one batch at a time.
  std::size_t max_in_flight = 4;
  // Acknowledged mutations are pruned once the backend holds them in a verified backup
  // (durable_seq) and they are at least this old.
  std::chrono::milliseconds min_retention{std::chrono::hours(24 * 7)};
  // The oldest pending mutation waiting longer than this is an alarm (UplinkStatus::stuck, one log
  // line when it starts and one when it ends).
  std::chrono::milliseconds alert_pending_after{std::chrono::minutes(30)};
  // The BlobStore's folder (<data_dir>/blobs): the evidence files rows list in `attachments` are
  // uploaded from there before their batch (attachments.hpp). Empty: none are sent.
  std::filesystem::path blob_dir;
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
  std::uint64_t batch_size = 0;  // the adaptive batch size of the last call
  // The oldest pending mutation has waited longer than ReplayConfig::alert_pending_after.
  bool stuck = false;
  // Mutations this agent withheld: the backend failed every call holding one of them alone with
  // a status retrying does not cure; each became a dead letter here (docs/security.md).
  std::uint64_t withheld = 0;
  // Evidence files since start (attachments.hpp): uploaded whole, the bytes sent, and the
  // (record, file) pairs reported lost (missing or altered here, or larger than the backend takes).
  std::uint64_t blobs_uploaded = 0;
  std::uint64_t blob_bytes_sent = 0;
  std::uint64_t blobs_lost = 0;
};

// The size of the next Replay batch, adapted to what the link and the backend take (AIMD, as TCP):
// doubled after fast answers until the first sign of trouble, then grown by a quarter; cut by a
// quarter after a slow answer; halved after a timeout or a refusal for load or size; never above
// the configured maximum or a limit the backend announced. Pure: latencies are arguments.
class AdaptiveBatch {
 public:
  explicit AdaptiveBatch(std::size_t max, std::size_t initial = 50,
                         std::chrono::milliseconds target = std::chrono::milliseconds(1000));
  [[nodiscard]] std::size_t size() const { return size_; }
  // A batch of `sent` mutations was answered after `latency`.
  void on_answer(std::size_t sent, std::chrono::milliseconds latency);
  // The call timed out, or the backend refused it as too large or overloaded.
  void on_pressure();
  // The backend says it takes at most `limit` mutations per batch.
  void on_limit(std::size_t limit);

 private:
  std::size_t max_;
  std::size_t size_;
  std::chrono::milliseconds target_;
  bool slow_start_ = true;
};

// How many Replay calls one station keeps in flight at once (pipelining): the backend, PostgreSQL
// and the agent work at the same time instead of taking turns. Starts at 1; one more after each
// clean answer faster than `target`, up to `max`; one less after a slow one; back to 1 on any
// trouble (a failed call, a timeout, a refusal for load, a gap, expected_seq) and held there for
// `hold`, so that an overloaded or recovering backend is not filled again at once. The answers are
// still handled strictly in seq order (replay_grpc.cpp). Pure: the time is an argument.
class ReplayWindow {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  explicit ReplayWindow(std::size_t max = 4,
                        std::chrono::milliseconds target = std::chrono::milliseconds(1000),
                        std::chrono::milliseconds hold = std::chrono::milliseconds(10'000));
  [[nodiscard]] std::size_t size() const { return size_; }
  // A call was answered after `latency`; clean: every mutation answered, no gap, no marker.
  void on_answer(bool clean, std::chrono::milliseconds latency, TimePoint now);
  // A call failed, timed out or was refused, or the answers were not clean.
  void on_trouble(TimePoint now);

 private:
  std::size_t max_;
  std::size_t size_ = 1;
  std::chrono::milliseconds target_;
  std::chrono::milliseconds hold_;
  TimePoint calm_from_{};  // no growth before this
};

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
