#pragma once
// The backend core's own view of the sync protocol (SPEC §5). Generated protobuf types stop at
// the gRPC adapter; everything below it works on these plain structs.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weighlink/record/mutation_rules.hpp"

namespace weighlink::service {

enum class Outcome { unspecified, applied, duplicate, rejected };

[[nodiscard]] const char* to_string(Outcome outcome) noexcept;

struct DeckWeight {
  std::uint32_t index = 0;  // 1-based deck number; 0 = not given (replay numbers it by position)
  std::string weight;       // exact decimal as displayed
  bool stable = false;
};

struct AxleWeight {
  std::uint32_t index = 0;  // 1-based axle number; 0 = not given (replay numbers it by position)
  std::string weight;       // exact decimal as displayed
  // Evidence: the indicator's reading it came from, that reading's seq and raw frame, when.
  std::string reading;  // exact decimal or empty
  std::uint64_t reading_seq = 0;
  std::string raw;
  std::string captured_at;
};

// The typed form of a `weighing.captured` mutation.
struct WeighingCaptured {
  std::string scale;
  std::string weight;  // GVW for multi-deck and axle weighings
  std::string unit;
  std::string mode;
  std::string tare;  // empty when the indicator reported none
  std::vector<DeckWeight> decks;
  std::vector<AxleWeight> axles;
  std::uint64_t reading_seq = 0;
  std::string reading_ts;
  std::string raw;
  std::string operator_id;
  std::string agent_version;
  std::string signature;
  std::string type;  // static | axle; empty when not given
  std::string gvw;   // gross vehicle weight (decks, axles); empty when the weighing has none
};

inline constexpr const char* kWeighingCapturedKind = "weighing.captured";

struct Mutation {
  std::string station_id;
  std::string idempotency_key;
  std::uint64_t seq = 0;
  std::string kind;
  std::string payload_json;
  std::int64_t created_at_unix_ms = 0;  // 0 when unknown
  // For `weighing.captured`: the typed weighing the adapter built from payload_json itself
  // (sync/typed_payload.hpp), the text the signature covers; nullopt when payload_json is not a
  // JSON object. The typed copy an agent sends on the wire never gets here: a backend stores
  // the values of the payload, for every station, keyed or not.
  std::optional<WeighingCaptured> weighing;
  // What that mapping would have had to guess at (a deck index of -1, a weight sent as a number);
  // such a weighing is refused, never stored as a guess.
  std::optional<record::Refusal> weighing_problem;
  // The evidence chain of the station's outbox (sync/evidence.hpp); empty when the agent sent
  // none. Checked against the station's key when it has one.
  std::string prev_hash;
  std::string record_hash;
  std::string signature;
  // Set by an agent that could not get this mutation through (sync.proto, Mutation field 11):
  // recorded REJECTED "withheld_by_agent: <reason>" under its key with
  // `withheld_payload_sha256` (64 lower-case hex digits) as its payload hash; no payload.
  std::string withheld_reason;
  std::string withheld_payload_sha256;
};

struct MutationResult {
  std::string idempotency_key;
  std::uint64_t seq = 0;
  Outcome outcome = Outcome::unspecified;
  std::string reason;
  Outcome original_outcome = Outcome::unspecified;
  std::int64_t applied_at_unix_ms = 0;
};

struct Watermark {
  std::uint64_t high_water_seq = 0;
  std::uint64_t durable_seq = 0;
  std::string generation;
};

// What a station row says at the start of a replay transaction.
struct StationState {
  std::uint64_t high_water_seq = 0;
  std::uint64_t durable_seq = 0;
  std::string generation;
  // The station's signing key (stations.signing_key); empty: none registered, nothing checked.
  std::vector<unsigned char> signing_key;
  // record_hash of the stored mutation at high_water_seq, when that row exists and has one: the
  // prev_hash the next mutation must carry.
  std::optional<std::string> last_record_hash;
  // stations.accept_unsigned_weighings: a station without a key may record weighings. Off for
  // new stations (`station add --allow-unsigned-weighings`, `station set-unsigned-weighings`).
  bool accept_unsigned_weighings = false;
};

// A row of mutation_log as the idempotency check needs it.
struct StoredMutation {
  std::string idempotency_key;
  std::uint64_t seq = 0;
  std::string payload_sha256;
  Outcome outcome = Outcome::unspecified;  // applied or rejected
  std::string reason;
  std::int64_t applied_at_unix_ms = 0;
};

// A mutation the backend records now (applied or rejected).
struct NewRecord {
  // What goes into the columns: the mutation as received, except that a key, kind, evidence or
  // created_at that no column could hold is replaced (the key by "invalid-key:" + its sha256,
  // the kind by its escaped text, evidence and created_at by nothing) and `weighing` is the one
  // to store. The answer still carries the original key.
  Mutation mutation;
  std::string payload_sha256;
  // What goes into the jsonb column: the payload itself, or the raw text as a JSON string when
  // it is not valid JSON (a rejected mutation is recorded all the same).
  std::string stored_payload_json;
  Outcome outcome = Outcome::unspecified;  // applied or rejected
  std::string reason;
  std::int64_t applied_at_unix_ms = 0;
  // The station key verified the signature (mutation_log.signature_verified).
  bool signature_verified = false;
  // The mutation an agent withheld before, sent now with the payload its marker named: it takes
  // the place of the marker's record (same key, same seq, same payload hash).
  bool fills_withheld = false;
};

// A row the database refused (SQLSTATE class 22 or 23 other than a unique violation: a value out
// of range, a constraint) while the rows around it were fine.
struct StorageRefusal {
  std::string sqlstate;
  std::string message;  // the server's message, one line
};

struct ReplayOutcome {
  std::vector<MutationResult> results;
  Watermark watermark;
  std::uint64_t expected_seq = 0;  // non-zero when the batch stopped at a gap
  // New mutations recorded for a station without a signing key (nothing checked).
  std::uint64_t unsigned_recorded = 0;
};

}  // namespace weighlink::service
