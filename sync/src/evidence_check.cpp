// Whole-chain and per-record verification over the outbox and its archive (evidence_check.hpp).
#include "weighlink/sync/evidence_check.hpp"

#include <boost/json.hpp>

namespace weighlink::sync {
namespace {

using record::EvidenceProblemCode;

record::EvidenceRecord evidence_of(const OutboxRow& r) {
  return record::EvidenceRecord{r.seq,          r.idempotency_key, r.kind,        r.created_at_ms,
                                r.payload_json, r.prev_hash,       r.record_hash, r.signature};
}

bool point_signed(std::span<const unsigned char> key, std::string_view what, std::uint64_t seq,
                  const std::string& hash, const std::string& signature) {
  if (seq == 0 && hash == record::kGenesisHash) return true;
  return record::same_signature(record::sign_point(key, what, seq, hash), signature);
}

}  // namespace

void check_attachments(const OutboxRow& row, const BlobStore& blobs,
                       std::vector<record::EvidenceProblem>& problems) {
  for (const auto& a : attachments_of(row)) {
    const auto what =
        "record " + std::to_string(row.seq) + " (" + row.kind + "): attachment " + a.sha256 + " ";
    auto bytes = blobs.get(a.sha256);
    if (!bytes && bytes.error().code == std::errc::illegal_byte_sequence) {
      problems.push_back({EvidenceProblemCode::attachment_altered, row.seq,
                          what + "was altered: " + bytes.error().message});
    } else if (!bytes) {
      problems.push_back({EvidenceProblemCode::attachment_missing, row.seq,
                          what + "is missing: " + bytes.error().message});
    } else if (bytes->size() != a.bytes) {
      problems.push_back({EvidenceProblemCode::attachment_altered, row.seq,
                          what + "has " + std::to_string(bytes->size()) + " bytes, the record " +
                              std::to_string(a.bytes)});
    }
  }
}

boost::system::result<EvidenceCheck> verify_evidence(Outbox& outbox, const std::string& station_id,
                                                     std::span<const unsigned char> key,
                                                     std::size_t max_problems,
                                                     const BlobStore* blobs) {
  std::vector<record::EvidenceProblem> attachment_problems;
  EvidenceCheck out;
  std::optional<record::ChainVerifier> verifier;
  std::optional<std::string> hash_at_anchor;  // the archived record at the outbox's anchor
  auto scanned = outbox.scan_evidence(
      [&](const Outbox::Chain& c) {
        out.chain = c;
        verifier.emplace(record::ChainPoint{c.archive_anchor_seq, c.archive_anchor_hash,
                                            c.archive_anchor_signature},
                         station_id, std::vector<unsigned char>(key.begin(), key.end()),
                         max_problems, "archive_anchor");
        if (c.anchor_seq == c.archive_anchor_seq) hash_at_anchor = c.archive_anchor_hash;
      },
      [&](const StoredRecord& r) {
        if (r.archived) ++out.archived;
        if (r.row.seq == out.chain.anchor_seq) hash_at_anchor = r.row.record_hash;
        verifier->add(evidence_of(r.row));
        if (blobs && attachment_problems.size() < max_problems) {
          out.attachments += attachments_of(r.row).size();
          check_attachments(r.row, *blobs, attachment_problems);
        }
        return true;
      });
  if (!scanned) return scanned.error();
  std::optional<record::ChainPoint> head;
  const auto& c = out.chain;
  if (c.head_seq) head = record::ChainPoint{*c.head_seq, c.head_hash, c.head_signature};
  out.report = verifier->finish(head);
  for (auto& p : attachment_problems) {
    if (out.report.problems.size() >= max_problems) break;
    out.report.problems.push_back(std::move(p));
  }
  // The replay set's anchor must be signed and sit on a record the archive holds.
  if (!point_signed(key, "anchor", c.anchor_seq, c.anchor_hash, c.anchor_signature)) {
    out.report.problems.push_back(
        {EvidenceProblemCode::bad_anchor, c.anchor_seq,
         "the outbox's anchor (seq " + std::to_string(c.anchor_seq) +
             ") is not signed by this station key: records may have been removed without "
             "pruning"});
  } else if (c.anchor_seq > c.archive_anchor_seq &&
             (!hash_at_anchor || *hash_at_anchor != c.anchor_hash)) {
    out.report.problems.push_back(
        {EvidenceProblemCode::removed, c.anchor_seq,
         "the outbox was pruned through seq " + std::to_string(c.anchor_seq) +
             " but the archive does not hold that record as it was pruned"});
  }
  return out;
}

std::optional<RecordCheck> verify_record(Outbox& outbox, std::uint64_t seq,
                                         const std::string& station_id,
                                         std::span<const unsigned char> key,
                                         const BlobStore* blobs) {
  if (seq == 0) return std::nullopt;
  auto rows = outbox.records(seq - 1, seq, 2);
  if (rows.empty() || rows.back().row.seq != seq) return std::nullopt;
  RecordCheck check;
  check.record = rows.back();
  const auto& r = check.record.row;
  const auto fields = record::EvidenceFields{station_id, r.seq,           r.idempotency_key,
                                             r.kind,     r.created_at_ms, r.payload_json};
  check.hash_ok = record::chain_hash(r.prev_hash, fields) == r.record_hash;
  if (!check.hash_ok) {
    check.problems.push_back({EvidenceProblemCode::altered, seq,
                              "the record's content does not match its hash: it was altered "
                              "after it was recorded"});
  }
  check.signature_ok = record::same_signature(record::sign_record(key, r.record_hash), r.signature);
  if (!check.signature_ok) {
    check.problems.push_back({EvidenceProblemCode::bad_signature, seq,
                              "the signature is not this station key's over the record's hash"});
  }
  // The record before it, or the point the held chain starts from.
  std::optional<std::string> expected_prev;
  if (rows.size() == 2) {
    expected_prev = rows.front().row.record_hash;
  } else {
    (void)outbox.scan_evidence(
        [&](const Outbox::Chain& c) {
          if (c.archive_anchor_seq == seq - 1 &&
              point_signed(key, "archive_anchor", c.archive_anchor_seq, c.archive_anchor_hash,
                           c.archive_anchor_signature)) {
            expected_prev = c.archive_anchor_hash;
          } else if (c.anchor_seq == seq - 1 &&
                     point_signed(key, "anchor", c.anchor_seq, c.anchor_hash, c.anchor_signature)) {
            expected_prev = c.anchor_hash;
          }
        },
        [](const StoredRecord&) { return false; });
  }
  check.chain_ok = expected_prev && *expected_prev == r.prev_hash;
  if (!check.chain_ok) {
    check.problems.push_back(
        {expected_prev ? EvidenceProblemCode::reordered : EvidenceProblemCode::removed, seq,
         expected_prev ? "prev_hash is not the hash of seq " + std::to_string(seq - 1)
                       : "neither seq " + std::to_string(seq - 1) +
                             " nor a signed anchor at it is held: the link cannot be checked"});
  }
  if (blobs) {
    const auto before = check.problems.size();
    check_attachments(r, *blobs, check.problems);
    check.attachments_ok = check.problems.size() == before;
  }
  return check;
}

}  // namespace weighlink::sync
