#pragma once
// Records and their verification as JSON, the same for the local API and `weighlink-agent
// records --json`. Pure functions.

#include <boost/json/object.hpp>
#include <optional>
#include <string>

#include "weighlink/sync/evidence_check.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::agent::records {

// seq, idempotency_key, kind, created_at_ms, created_at, payload (its numbers exact), prev_hash,
// record_hash, signature, state, archived.
[[nodiscard]] boost::json::object record_json(const sync::StoredRecord& record);

// The reading a weighing came from, as its payload holds it (reading_seq, reading_ts, protocol,
// raw frame, evidence frames; per axle for an axle weighing); null for other kinds.
[[nodiscard]] boost::json::value reading_json(const sync::OutboxRow& row);

// {"seq","ok","hash_ok","signature_ok","chain_ok","archived","record_hash","prev_hash",
//  "problems":[{"code","seq","message"}],"reading"}
[[nodiscard]] boost::json::object check_json(const sync::RecordCheck& check);

// {"ok","checked","archived","anchor_seq","pruned_through_seq","head_seq","first_seq",
//  "last_seq","problems":[...]}
[[nodiscard]] boost::json::object evidence_json(const sync::EvidenceCheck& check);

// Why no record `seq` is held: pruned past the retention period, or never written. Empty when
// it should be there.
[[nodiscard]] std::string absent_reason(std::uint64_t seq, const sync::OutboxStats& stats,
                                        std::uint32_t retention_days, bool& pruned);

}  // namespace weighlink::agent::records
