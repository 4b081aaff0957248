#pragma once
// The replay decision rules of SPEC §5 as plain functions over a store interface: idempotency
// (duplicate / key reuse), per-station seq order (gap, seq reuse) and validation. No clock, no
// threads, no I/O here; the PostgreSQL adapter implements ReplayStore (pg_store.hpp).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/pg/error.hpp"
#include "weighlink/record/mutation_rules.hpp"
#include "weighlink/service/types.hpp"

namespace weighlink::service {

// One replay transaction's view of the database. Calls happen inside one transaction that the
// caller begins and commits. Not thread-safe; one per transaction.
class ReplayStore {
 public:
  virtual ~ReplayStore() = default;
  // Locks the station for the rest of the transaction (replicas serialise here) and reads it.
  [[nodiscard]] virtual pg::Result<StationState> lock_station(std::string_view station_id) = 0;
  // The stored records among `keys` for this station, in any order.
  [[nodiscard]] virtual pg::Result<std::vector<StoredMutation>> find_existing(
      std::string_view station_id, const std::vector<std::string>& keys) = 0;
  // Records new mutations (mutation_log, plus the typed table for known kinds). Errc::data_refused
  // when the database refused a value or row of one of them (the transaction is then aborted:
  // the caller runs the batch again with InsertMode::row_by_row).
  [[nodiscard]] virtual pg::Result<void> insert(std::string_view station_id,
                                                const std::vector<NewRecord>& records) = 0;
  // Records one mutation inside a savepoint. nullopt: recorded. A refusal: the database refused
  // a value or row of it (data_refused); its statements were rolled back to the savepoint and
  // the transaction goes on. Any other error fails the call.
  [[nodiscard]] virtual pg::Result<std::optional<StorageRefusal>> insert_guarded(
      std::string_view station_id, const NewRecord& record) = 0;
  [[nodiscard]] virtual pg::Result<void> set_high_water(std::string_view station_id,
                                                        std::uint64_t seq) = 0;
};

// hex SHA-256 of `kind + "\n" + payload_json`: identifies a payload for idempotency checks.
[[nodiscard]] std::string payload_sha256(std::string_view kind, std::string_view payload_json);

// True for an exact decimal as indicators display it (sync/mutation_rules.hpp).
using record::is_exact_decimal;

// Client text made fit for a stored and returned reason: control characters escaped as
// base::log_safe does, every byte above 0x7f as \xNN too (a reason is plain ASCII, so it is valid
// UTF-8 in a protobuf string and a text column whatever was cut), at most `max` bytes of input.
[[nodiscard]] std::string reason_text(std::string_view text, std::size_t max = 400);

// The key a mutation is recorded under: its own when record::check_key accepts it, else
// "invalid-key:" + the hex SHA-256 of it (a key no column could hold still needs a row for its
// seq; the answer carries the original key).
[[nodiscard]] std::string storable_key(std::string_view key);

// What is wrong with a weighing's values (built from the payload and numbered by position), or
// nullopt: a weight that is not an exact decimal within record::check_weight's bounds, a short text
// too long or with a control character, more than kMaxWeighingParts decks or axles, a number
// above kMaxPartNumber or twice, a raw frame above kMaxRawFrame, no scale or unit, and no
// evidence (missing_evidence: the reading's seq and raw frame; for an axle weighing every
// axle's).
[[nodiscard]] std::optional<record::Refusal> weighing_refusal(const WeighingCaptured& weighing);

// Why a new mutation must be rejected for what it carries (key, kind, evidence form, created_at,
// payload, weighing values; "code: message" as reason_text makes it), or nullopt when valid.
// Whatever depends on the station (signature, chain, unsigned weighings) is plan_batch's.
[[nodiscard]] std::optional<std::string> rejection_reason(const Mutation& mutation);

// Decks and axles that came without a number (0) take their 1-based position.
void number_by_position(WeighingCaptured& weighing);

// The evidence checks of a station with a signing key (docs/backend.md, "Signatures").
// "bad_signature: ..." when the mutation carries no record_hash/signature, when record_hash is not
// record::chain_hash(prev_hash, {station_id, seq, idempotency_key, kind, created_at,
// payload_json}), or when signature is not record::sign_record(key, record_hash); else nullopt.
[[nodiscard]] std::optional<std::string> signature_problem(const Mutation& mutation,
                                                           std::span<const unsigned char> key);
// "chain_broken: ..." when `previous_hash` (the stored record_hash of seq - 1) is known and the
// mutation's prev_hash is neither it nor the genesis hash (a new outbox: a reinstalled agent
// starts a new chain); else nullopt. Unknown `previous_hash` (seq - 1 not stored, or stored
// without evidence): nothing to compare, accepted.
[[nodiscard]] std::optional<std::string> chain_problem(
    const Mutation& mutation, const std::optional<std::string>& previous_hash);

// Why a batch is malformed as a whole, or nullopt: a seq of 0 or above 2^63 - 1. Such a
// mutation has no place in the station's order, so it cannot be recorded or passed: the call is
// refused (INVALID_ARGUMENT) before anything is recorded. Everything else wrong with a mutation
// (key, kind, evidence, payload) rejects that mutation alone.
[[nodiscard]] std::optional<std::string> malformed_batch_reason(
    const std::vector<Mutation>& mutations);

// The pure decision for one batch given the station state and the stored records of its keys.
struct ReplayPlan {
  std::vector<MutationResult> results;      // one per processed mutation, in order
  std::vector<NewRecord> records;           // what to insert
  std::vector<std::size_t> record_results;  // records[i]'s answer is results[record_results[i]]
  std::uint64_t high_water_seq = 0;         // after the batch
  std::uint64_t expected_seq = 0;           // non-zero when the batch stopped at a gap
};

[[nodiscard]] ReplayPlan plan_batch(const StationState& station,
                                    const std::vector<StoredMutation>& existing,
                                    const std::vector<Mutation>& mutations,
                                    std::int64_t now_unix_ms);

// How apply_batch inserts: all records at once (the fast path), or each in its own savepoint
// (after the fast path met Errc::data_refused: a refused row is then recorded REJECTED
// "storage_refused: <sqlstate> ..." without its effect, and the others are applied).
enum class InsertMode { batch, row_by_row };

// Turns records[index] of `plan` into the record of a refused row: rejected with
// "storage_refused: <sqlstate> <message>", no effect, a minimal payload; its answer (and the
// answers of the same key later in the batch) say so.
void refuse_record(ReplayPlan& plan, std::size_t index, const StorageRefusal& refusal);

// Runs one batch against the store (lock, look up, plan, insert, advance the high water).
// The caller owns the transaction around it.
[[nodiscard]] pg::Result<ReplayOutcome> apply_batch(ReplayStore& store, std::string_view station_id,
                                                    const std::vector<Mutation>& mutations,
                                                    std::int64_t now_unix_ms,
                                                    InsertMode mode = InsertMode::batch);

// Whether a failed replay transaction is worth running again. `attempt` counts from 1.
// A unique violation means a concurrent replica won: one retry sees its rows as DUPLICATE.
// A lost connection is retried once on a new one: a replay is idempotent, so even a COMMIT
// whose fate is unknown is safe to run again (its mutations come back as DUPLICATE).
[[nodiscard]] bool should_retry(const boost::system::error_code& error, int attempt) noexcept;

}  // namespace weighlink::service
