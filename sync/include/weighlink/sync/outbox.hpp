#pragma once
// The durable outbox: every mutation the station accepts, on SQLite (WAL, synchronous=FULL),
// with a per-station seq assigned in commit order. A mutation is reported accepted only after its
// transaction is on disk. Concurrent producers share commits (group commit on one writer thread).
//
// Threading: every public member is thread-safe. Completion callbacks of enqueue() run on the
// thread that commits (the writer thread, or a caller of enqueue_wait() that found no commit in
// progress and committed the queue itself) and must not block; the two answers known at once (the
// key is being committed right now, or the outbox is closed) run on the caller's thread, with no
// lock held.

#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "weighlink/base/error.hpp"

namespace weighlink::sync {

// discarded: a dead letter ended for good by an operator (kept with its reason, exported, never
// sent again).
enum class MutationState { pending, acknowledged, dead, discarded };

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
  // The evidence chain (evidence.hpp): the previous record's hash, this record's, its signature.
  std::string prev_hash;
  std::string record_hash;
  std::string signature;
  // discarded rows: why and when (weighlink-agent outbox discard).
  std::string discard_reason;
  std::int64_t discarded_at_ms = 0;
};

// A durable key-value write that commits in the same transaction as a mutation (or alone through
// Outbox::put_state): state that must never disagree with the queue, such as an open axle
// session that a completed weighing closes. nullopt value = delete.
struct StateWrite {
  std::string key;
  std::optional<std::string> value;
};

struct NewMutation {
  std::string idempotency_key;
  std::string kind;
  std::string payload_json;
  std::string request_hash;
  std::int64_t created_at_ms = 0;
  // Applied with the mutation, only when it is accepted.
  std::vector<StateWrite> state_writes;
};

enum class EnqueueStatus {
  accepted,     // new, durable on disk
  replayed,     // the same key with the same request: the existing row, nothing added
  key_reused,   // the same key with a different request: refused
  in_progress,  // the same key is being committed right now
  full,         // the outbox cap or the disk is full: refused, nothing queued is lost
  failed,       // storage error
  // Committed, but the row read back after the commit differs from what was written (payload,
  // key, seq or hashes): not reported as recorded (the alibi store's read-back, docs/outbox.md).
  readback_failed,
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
  // The evidence chain: the station id it covers and the key that signs it (evidence.hpp).
  std::string station_id;
  std::vector<unsigned char> signing_key;
  // Tools (weighlink-agent outbox) open an existing outbox only, and skip the integrity check
  // the agent makes at start.
  bool create_if_missing = true;
  bool check_integrity = true;
  // The evidence archive (docs/outbox.md, "Evidence archive"): pruned rows move there and are
  // deleted only once older than this (created_at_ms), by trim_archive().
  std::int64_t evidence_retention_ms = std::int64_t{92} * 24 * 3600 * 1000;
  // The archive's disk cap (bytes of its rows): at it, prune() moves nothing more (the rows stay
  // in the outbox, whose own cap then refuses new mutations); the alarm is raised at 80 %.
  std::uint64_t archive_max_bytes = std::uint64_t{512} * 1024 * 1024;
};

// What prune() removed.
struct PruneResult {
  std::uint64_t rows = 0;
  std::uint64_t anchor_seq = 0;  // the chain now starts after this seq
};

struct OutboxStats {
  std::uint64_t pending = 0;
  std::uint64_t acknowledged = 0;
  std::uint64_t dead = 0;
  std::uint64_t discarded = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t acknowledged_seq = 0;  // highest seq acknowledged by the backend
  std::optional<std::int64_t> oldest_pending_created_at_ms;
  std::uint64_t commits = 0;         // transactions committed by the writer (group commit evidence)
  std::uint64_t caller_commits = 0;  // of them, committed on an enqueue_wait() caller's thread
  std::uint64_t rows = 0;  // rows held (pending + acknowledged + dead), what max_rows caps
  std::uint64_t max_rows = 0;
  std::uint64_t pruned_through_seq = 0;  // the chain anchor: rows up to it were pruned
  // The last enqueue refused for lack of space (the cap or the disk), until one is accepted.
  bool full = false;
  std::string full_reason;
  // The evidence archive: rows pruned from the replay set, kept for the legal period.
  std::uint64_t archived_rows = 0;
  std::uint64_t archive_bytes = 0;  // what archive_max_bytes caps
  std::uint64_t archive_max_bytes = 0;
  std::optional<std::uint64_t> archive_oldest_seq;
  std::optional<std::int64_t> archive_oldest_created_at_ms;
  std::uint64_t archive_trimmed_through_seq = 0;  // rows up to it are gone for good
  std::int64_t evidence_retention_ms = 0;
  std::uint64_t readback_failures = 0;  // since open
};

// A record from the outbox or, once pruned, from its evidence archive.
struct StoredRecord {
  OutboxRow row;
  bool archived = false;
};

// A search over the station's weighings (kind weighing.captured), the outbox's and the evidence
// archive's, newest first (Outbox::search_weighings). Every filter is optional; they all apply
// together.
struct WeighingQuery {
  // reference.plate upper-cased with spaces and dashes removed equals this (already normalized).
  std::string plate;
  // Case-insensitive (ASCII) substring of any value of the payload's reference.
  std::string text;
  // captured_at within [captured_from, captured_before): texts in the form the agent writes
  // ("2026-12-07T08:00:00.000Z", base::format_utc_timestamp_ms), compared as text.
  std::string captured_from;
  std::string captured_before;
  std::vector<MutationState> states;  // empty: any state
  std::uint64_t before_seq = 0;       // only seq < before_seq; 0: from the newest
  std::size_t limit = 50;
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
  // corrupt file (illegal_byte_sequence): the error message says which file and what to do.
  [[nodiscard]] static base::Expected<std::unique_ptr<Outbox>> open(
      const std::filesystem::path& file, OutboxOptions options);

  virtual ~Outbox() = default;

  // Queues a mutation for the next group commit; `done` runs on the committing thread once the
  // outcome is known (after fsync for accepted). Never commits on the caller's thread.
  virtual void enqueue(NewMutation mutation, std::function<void(EnqueueResult)> done) = 0;
  // Blocking form of enqueue(). When no commit is in progress, the caller commits the queue, its
  // own mutation included, on its own thread (no hand-off to the writer thread and back); those
  // arriving meanwhile are queued and share the writer's next commit.
  [[nodiscard]] virtual EnqueueResult enqueue_wait(NewMutation mutation) = 0;

  [[nodiscard]] virtual std::optional<OutboxRow> find(const std::string& idempotency_key) = 0;
  // Rows in seq order with seq > after_seq; state filter optional.
  [[nodiscard]] virtual std::vector<OutboxRow> list(std::optional<MutationState> state,
                                                    std::uint64_t after_seq, std::size_t limit) = 0;
  [[nodiscard]] virtual OutboxStats stats() = 0;
  // Weighings matching `query` in the outbox and its evidence archive (one snapshot: one query),
  // in descending seq order, at most query.limit.
  [[nodiscard]] virtual std::vector<StoredRecord> search_weighings(const WeighingQuery& query) = 0;

  // Applies the backend's answers: applied/duplicate -> acknowledged, rejected -> dead.
  [[nodiscard]] virtual boost::system::result<void> mark_results(
      std::span<const MutationOutcome> outcomes, std::int64_t now_ms) = 0;
  // The same without waiting: queued on the outbox's writer, the result once it has committed
  // (the replay loop sends its next batch meanwhile).
  [[nodiscard]] virtual std::future<boost::system::result<void>> mark_results_later(
      std::vector<MutationOutcome> outcomes, std::int64_t now_ms) = 0;
  // Records a failed delivery attempt on these rows (stays pending).
  [[nodiscard]] virtual boost::system::result<void> mark_attempt_failed(
      std::span<const std::uint64_t> seqs, const std::string& error) = 0;
  // The backend lost mutations (restored from an older backup): rows above `high_water_seq`
  // acknowledged so far become pending again, to be re-sent. Returns how many.
  [[nodiscard]] virtual boost::system::result<std::uint64_t> rewind_above(
      std::uint64_t high_water_seq) = 0;
  // Releases a dead mutation for another delivery attempt. False when no dead row has the key.
  [[nodiscard]] virtual boost::system::result<bool> retry_dead(const std::string& key) = 0;
  // Ends a dead mutation for good: it becomes `discarded` with `reason`, is kept (and exported)
  // until pruned like an acknowledged row, and is never sent again. False when no dead row has
  // the key.
  [[nodiscard]] virtual boost::system::result<bool> discard_dead(const std::string& key,
                                                                 const std::string& reason,
                                                                 std::int64_t now_ms) = 0;
  // After each answer from the backend, with its high water for this station: numbering continues
  // above it (an agent reinstalled on a station the backend knows). At the first answer this file
  // ever had (before any Replay from it), rows queued before it whose seqs the backend already
  // holds (a reinstalled station, offline until now) are renumbered above the high water, keeping
  // their order, and chained and signed again; returns how many were renumbered (0 otherwise).
  [[nodiscard]] virtual boost::system::result<std::uint64_t> continue_above(
      std::uint64_t high_water) = 0;

  // Moves acknowledged rows that the backend holds in a verified backup (seq <= durable_seq)
  // and that were created at or before `created_before_ms` out of the replay set into the
  // evidence archive, in one transaction. Only a prefix of the chain is pruned (a dead or pending
  // row stops it), and the chain's anchor moves to the last pruned record. Nothing moves while
  // the archive is at its cap (archive_max_bytes).
  [[nodiscard]] virtual boost::system::result<PruneResult> prune(
      std::uint64_t durable_seq, std::int64_t created_before_ms) = 0;

  // Deletes the archive's oldest rows created before `now_ms - evidence_retention_ms` (a prefix
  // only: a younger row stops it); the archive's anchor moves to the last one deleted.
  [[nodiscard]] virtual boost::system::result<PruneResult> trim_archive(std::int64_t now_ms) {
    (void)now_ms;
    return PruneResult{};
  }

  // Records with from <= seq <= to in seq order, from the outbox and the archive, at most
  // `limit`. One snapshot.
  [[nodiscard]] virtual std::vector<StoredRecord> records(std::uint64_t from, std::uint64_t to,
                                                          std::size_t limit) {
    (void)from, (void)to, (void)limit;
    return {};
  }

  // The evidence chain's signed anchor and head, as scan() reports them; scan_evidence() adds
  // the archive's anchor (where the archived part of the chain starts).
  struct Chain {
    std::uint64_t anchor_seq = 0;
    std::string anchor_hash;
    std::string anchor_signature;
    std::optional<std::uint64_t> head_seq;
    std::string head_hash;
    std::string head_signature;
    std::uint64_t archive_anchor_seq = 0;
    std::string archive_anchor_hash;
    std::string archive_anchor_signature;
  };
  // The chain and every row in seq order from one consistent snapshot (one read transaction), so
  // a check or an export made while the agent writes sees no half-written state. `on_row`
  // returns false to stop early.
  [[nodiscard]] virtual boost::system::result<void> scan(
      const std::function<void(const Chain&)>& on_chain,
      const std::function<bool(const OutboxRow&)>& on_row) = 0;

  // The same over the whole evidence kept: the archive's rows first, then the outbox's, one
  // snapshot. Verifying from the archive's anchor covers every record still held.
  [[nodiscard]] virtual boost::system::result<void> scan_evidence(
      const std::function<void(const Chain&)>& on_chain,
      const std::function<bool(const StoredRecord&)>& on_record) {
    return scan(on_chain, [&](const OutboxRow& r) { return on_record(StoredRecord{r, false}); });
  }

  // Durable key-value state (see StateWrite). put_state's `done` runs on the writer thread once
  // the write is on disk (or failed).
  [[nodiscard]] virtual std::optional<std::string> get_state(const std::string& key) = 0;
  virtual void put_state(StateWrite write,
                         std::function<void(boost::system::result<void>)> done) = 0;

  // Called after every commit that added rows (e.g. to wake the replay worker).
  virtual void set_on_commit(std::function<void()> callback) = 0;

  // Finishes queued work and stops the writer thread. Idempotent.
  virtual void close() = 0;
};

}  // namespace weighlink::sync
