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

#include "weighlink/backend/error.hpp"
#include "weighlink/backend/types.hpp"

namespace weighlink::backend {

// One replay transaction's view of the database. Calls happen inside one transaction that the
// caller begins and commits. Not thread-safe; one per transaction.
class ReplayStore {
 public:
  virtual ~ReplayStore() = default;
  // Locks the station for the rest of the transaction (replicas serialise here) and reads it.
  [[nodiscard]] virtual Result<StationState> lock_station(std::string_view station_id) = 0;
  // The stored records among `keys` for this station, in any order.
  [[nodiscard]] virtual Result<std::vector<StoredMutation>> find_existing(
      std::string_view station_id, const std::vector<std::string>& keys) = 0;
  // Records new mutations (mutation_log, plus the typed table for known kinds).
  [[nodiscard]] virtual Result<void> insert(std::string_view station_id,
                                            const std::vector<NewRecord>& records) = 0;
  [[nodiscard]] virtual Result<void> set_high_water(std::string_view station_id,
                                                    std::uint64_t seq) = 0;
};

// hex SHA-256 of `kind + "\n" + payload_json`: identifies a payload for idempotency checks.
[[nodiscard]] std::string payload_sha256(std::string_view kind, std::string_view payload_json);

// True for an exact decimal as indicators display it: optional sign, digits, optional fraction.
[[nodiscard]] bool is_exact_decimal(std::string_view text) noexcept;

// Why a new mutation must be rejected (e.g. "invalid_payload: ..."), or nullopt when it is valid.
[[nodiscard]] std::optional<std::string> rejection_reason(const Mutation& mutation);

// Decks and axles that came without a number (0) take their 1-based position.
void number_by_position(WeighingCaptured& weighing);

// The evidence checks of a station with a signing key (docs/backend.md, "Signatures").
// "bad_signature: ..." when the mutation carries no record_hash/signature, when record_hash is not
// sync::chain_hash(prev_hash, {station_id, seq, idempotency_key, kind, created_at, payload_json}),
// or when signature is not sync::sign_record(key, record_hash); else nullopt.
[[nodiscard]] std::optional<std::string> signature_problem(const Mutation& mutation,
                                                           std::span<const unsigned char> key);
// "chain_broken: ..." when `previous_hash` (the stored record_hash of seq - 1) is known and the
// mutation's prev_hash is neither it nor the genesis hash (a new outbox: a reinstalled agent
// starts a new chain); else nullopt. Unknown `previous_hash` (seq - 1 not stored, or stored
// without evidence): nothing to compare, accepted.
[[nodiscard]] std::optional<std::string> chain_problem(
    const Mutation& mutation, const std::optional<std::string>& previous_hash);

// Why a batch is malformed as a whole (missing key, seq 0, ...), or nullopt. A malformed batch
// is refused (INVALID_ARGUMENT) before anything is recorded: such a mutation cannot be recorded.
[[nodiscard]] std::optional<std::string> malformed_batch_reason(
    const std::vector<Mutation>& mutations);

// The pure decision for one batch given the station state and the stored records of its keys.
struct ReplayPlan {
  std::vector<MutationResult> results;  // one per processed mutation, in order
  std::vector<NewRecord> records;       // what to insert
  std::uint64_t high_water_seq = 0;     // after the batch
  std::uint64_t expected_seq = 0;       // non-zero when the batch stopped at a gap
};

[[nodiscard]] ReplayPlan plan_batch(const StationState& station,
                                    const std::vector<StoredMutation>& existing,
                                    const std::vector<Mutation>& mutations,
                                    std::int64_t now_unix_ms);

// Runs one batch against the store (lock, look up, plan, insert, advance the high water).
// The caller owns the transaction around it.
[[nodiscard]] Result<ReplayOutcome> apply_batch(ReplayStore& store, std::string_view station_id,
                                                const std::vector<Mutation>& mutations,
                                                std::int64_t now_unix_ms);

// Whether a failed replay transaction is worth running again. `attempt` counts from 1.
// A unique violation means a concurrent replica won: one retry sees its rows as DUPLICATE.
// A lost connection is retried once on a new one: a replay is idempotent, so even a COMMIT
// whose fate is unknown is safe to run again (its mutations come back as DUPLICATE).
[[nodiscard]] bool should_retry(const boost::system::error_code& error, int attempt) noexcept;

}  // namespace weighlink::backend
