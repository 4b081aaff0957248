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
#include "weighlink/sync/attachments.hpp"
#include "weighlink/sync/blob_store.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::sync {

struct EvidenceCheck {
  record::EvidenceReport report;
  Outbox::Chain chain;
  std::uint64_t archived = 0;     // records checked from the archive
  std::uint64_t attachments = 0;  // attachment files checked (with a BlobStore)
};

// The attachments a record lists (attachments.hpp), malformed names kept for the check to report.
[[nodiscard]] inline std::vector<Attachment> attachments_of(const OutboxRow& row) {
  return attachments_of(row.kind, row.payload_json, true);
}

// Each attachment of `row` against its file in `blobs`: missing, or not hashing to its name (or
// not of its recorded size), is a problem naming the record's seq and the file.
void check_attachments(const OutboxRow& row, const BlobStore& blobs,
                       std::vector<record::EvidenceProblem>& problems);

// Every record held, archive first, from the archive's signed anchor to the signed head; the
// outbox's own anchor (where the replay set starts) is checked against the archived record at it.
// With `blobs`, every record's attachment files too (check_attachments).
[[nodiscard]] boost::system::result<EvidenceCheck> verify_evidence(
    Outbox& outbox, const std::string& station_id, std::span<const unsigned char> key,
    std::size_t max_problems = 100, const BlobStore* blobs = nullptr);

struct RecordCheck {
  StoredRecord record;
  bool hash_ok = false;        // the hash recomputed from the record's fields and prev_hash
  bool signature_ok = false;   // the signature is the station key's over that hash
  bool chain_ok = false;       // prev_hash is the hash of seq - 1 (or of the chain's anchor)
  bool attachments_ok = true;  // every attachment file is there, as recorded (with a BlobStore)
  std::vector<record::EvidenceProblem> problems;
  [[nodiscard]] bool ok() const { return hash_ok && signature_ok && chain_ok && attachments_ok; }
};

// The record at `seq` and its checks (with `blobs`, its attachment files too); nullopt when no
// record with that seq is held.
[[nodiscard]] std::optional<RecordCheck> verify_record(Outbox& outbox, std::uint64_t seq,
                                                       const std::string& station_id,
                                                       std::span<const unsigned char> key,
                                                       const BlobStore* blobs = nullptr);

}  // namespace weighlink::sync
