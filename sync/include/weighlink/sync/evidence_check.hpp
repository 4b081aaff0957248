#pragma once
// Verification of the evidence an outbox holds (its replay set and its evidence archive) for an
// inspector: the whole chain from the archive's anchor to the signed head, and one record by seq
// (its hash, its signature, its link to the record before it). Over the Outbox interface only;
// both read one snapshot each. Threading: as the Outbox (any thread; the work is proportional
// to the records held, so callers on an io thread run it elsewhere).

#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "weighlink/record/evidence.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::sync {

struct EvidenceCheck {
  record::EvidenceReport report;
  Outbox::Chain chain;
  std::uint64_t archived = 0;  // records checked from the archive
};

// Every record held, archive first, from the archive's signed anchor to the signed head; the
// outbox's own anchor (where the replay set starts) is checked against the archived record at it.
[[nodiscard]] boost::system::result<EvidenceCheck> verify_evidence(
    Outbox& outbox, const std::string& station_id, std::span<const unsigned char> key,
    std::size_t max_problems = 100);

struct RecordCheck {
  StoredRecord record;
  bool hash_ok = false;       // the hash recomputed from the record's fields and prev_hash
  bool signature_ok = false;  // the signature is the station key's over that hash
  bool chain_ok = false;      // prev_hash is the hash of seq - 1 (or of the chain's anchor)
  std::vector<record::EvidenceProblem> problems;
  [[nodiscard]] bool ok() const { return hash_ok && signature_ok && chain_ok; }
};

// The record at `seq` and its checks; nullopt when no record with that seq is held.
[[nodiscard]] std::optional<RecordCheck> verify_record(Outbox& outbox, std::uint64_t seq,
                                                       const std::string& station_id,
                                                       std::span<const unsigned char> key);

}  // namespace weighlink::sync
