#pragma once
// The durable outbox: every mutation the station accepts, on SQLite (WAL, synchronous=FULL),
// with a per-station seq assigned in commit order. A mutation is reported accepted only after its
// transaction is on disk. Concurrent producers share commits (group commit on one writer thread).
//
// Threading: every public member is thread-safe. Completion callbacks of enqueue() run on the
// writer thread and must not block.

#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace weighlink::sync {

enum class MutationState { pending, acknowledged, dead };

[[nodiscard]] std::string_view to_string(MutationState state);
[[nodiscard]] std::optional<MutationState> parse_state(std::string_view text);

struct OutboxRow {
  std::uint64_t seq = 0;
  std::string idempotency_key;
  std::string kind;
  std::string payload_json;
  std::string request_hash;  // fingerprint of the request that created it (idempotency checks)
  MutationState state = MutationState::pending;
  std::int64_t created_at_ms = 0;
  std::int64_t attempts = 0;
  std::string last_error;
  std::string outcome;  // applied | duplicate | rejected, once the backend answered
  std::int64_t acknowledged_at_ms = 0;
};

struct NewMutation {
  std::string idempotency_key;
  std::string kind;
  std::string payload_json;
  std::string request_hash;
  std::int64_t created_at_ms = 0;
};

enum class EnqueueStatus {
  accepted,     // new, durable on disk
  replayed,     // the same key with the same request: the existing row, nothing added
  key_reused,   // the same key with a different request: refused
  in_progress,  // the same key is being committed right now
  full,         // the outbox cap or the disk is full: refused, nothing queued is lost
  failed,       // storage error
};

struct EnqueueResult {
  EnqueueStatus status = EnqueueStatus::failed;
  OutboxRow row;        // accepted / replayed: the stored row
  std::string message;  // full / failed: what happened
};

struct OutboxOptions {
  // New mutations are refused (EnqueueStatus::full) once this many rows are not yet pruned.
  std::uint64_t max_rows = 1'000'000;
  // Mutations enqueued while a commit is running wait for the next one; this caps one commit.
  std::size_t max_group = 256;
};

struct OutboxStats {
  std::uint64_t pending = 0;
  std::uint64_t acknowledged = 0;
  std::uint64_t dead = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t acknowledged_seq = 0;  // highest seq acknowledged by the backend
  std::optional<std::int64_t> oldest_pending_created_at_ms;
  std::uint64_t commits = 0;  // transactions committed by the writer (group commit evidence)
};

// The backend's answer for one mutation, applied by mark_results().
struct MutationOutcome {
  std::uint64_t seq = 0;
  enum class Kind { applied, duplicate, rejected } kind = Kind::applied;
  std::string reason;
};

class Outbox {
 public:
  // Opens or creates the outbox file, checks its integrity (PRAGMA quick_check) and refuses a
  // corrupt file: the error message says which file and what to do.
  [[nodiscard]] static boost::system::result<std::unique_ptr<Outbox>> open(
      const std::filesystem::path& file, OutboxOptions options, std::string* error);

  virtual ~Outbox() = default;

  // Queues a mutation for the next group commit; `done` runs on the writer thread once the outcome
  // is known (after fsync for accepted).
  virtual void enqueue(NewMutation mutation, std::function<void(EnqueueResult)> done) = 0;
  // Blocking form of enqueue().
  [[nodiscard]] virtual EnqueueResult enqueue_wait(NewMutation mutation) = 0;

  [[nodiscard]] virtual std::optional<OutboxRow> find(const std::string& idempotency_key) = 0;
  // Rows in seq order with seq > after_seq; state filter optional.
  [[nodiscard]] virtual std::vector<OutboxRow> list(std::optional<MutationState> state,
                                                    std::uint64_t after_seq, std::size_t limit) = 0;
  [[nodiscard]] virtual OutboxStats stats() = 0;

  // Applies the backend's answers: applied/duplicate -> acknowledged, rejected -> dead.
  [[nodiscard]] virtual boost::system::result<void> mark_results(
      std::span<const MutationOutcome> outcomes, std::int64_t now_ms) = 0;
  // Records a failed delivery attempt on these rows (stays pending).
  [[nodiscard]] virtual boost::system::result<void> mark_attempt_failed(
      std::span<const std::uint64_t> seqs, const std::string& error) = 0;
  // The backend lost mutations (restored from an older backup): rows above `high_water_seq`
  // acknowledged so far become pending again, to be re-sent. Returns how many.
  [[nodiscard]] virtual boost::system::result<std::uint64_t> rewind_above(
      std::uint64_t high_water_seq) = 0;
  // Releases a dead mutation for another delivery attempt. False when no dead row has the key.
  [[nodiscard]] virtual boost::system::result<bool> retry_dead(const std::string& key) = 0;
  // Seq numbering continues above `seq` (an agent reinstalled on a station the backend knows).
  [[nodiscard]] virtual boost::system::result<void> ensure_seq_above(std::uint64_t seq) = 0;

  // Called after every commit that added rows (e.g. to wake the replay worker).
  virtual void set_on_commit(std::function<void()> callback) = 0;

  // Finishes queued work and stops the writer thread. Idempotent.
  virtual void close() = 0;
};

}  // namespace weighlink::sync
