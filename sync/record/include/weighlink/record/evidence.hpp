#pragma once
// Tamper-evident evidence: every outbox record is hash-chained to the one before it and signed
// with the station key (HMAC-SHA256), so an altered, removed or reordered record is found by
// `weighlink-agent verify-evidence` (docs/outbox.md, "Evidence").
//
//   hash(n)      = SHA-256( "weighlink-evidence-v1" | station_id | seq | idempotency_key | kind
//                           | created_at_ms | payload | hash(n-1) ), each field length-prefixed
//   signature(n) = HMAC-SHA256( station key, hash(n) )
//
// The chain starts at an anchor: (0, 64 zeros) for a new outbox, or the last pruned record once
// acknowledged rows have been pruned. The anchor and the chain head (the newest record) are
// signed too, so pruning cannot be faked and a cut-off tail is found. Pure functions.

#include <cstdint>
#include <istream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/base/error.hpp"

namespace weighlink::record {

inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The fields of a record that the chain covers (what was captured, never its delivery state).
struct EvidenceFields {
  std::string_view station_id;
  std::uint64_t seq = 0;
  std::string_view idempotency_key;
  std::string_view kind;
  std::int64_t created_at_ms = 0;
  std::string_view payload_json;
};

// Lower-case hex SHA-256 chaining `fields` to `prev_hash`.
[[nodiscard]] std::string chain_hash(std::string_view prev_hash, const EvidenceFields& fields);

// The signature of a record hash, of an anchor and of a chain head.
[[nodiscard]] std::string sign_record(std::span<const unsigned char> key, std::string_view hash);
[[nodiscard]] std::string sign_point(std::span<const unsigned char> key, std::string_view what,
                                     std::uint64_t seq, std::string_view hash);
// Constant-time comparison of two signatures.
[[nodiscard]] bool same_signature(std::string_view a, std::string_view b);

// A point of the chain: the anchor it starts from, or its head.
struct ChainPoint {
  std::uint64_t seq = 0;
  std::string hash{kGenesisHash};
  std::string signature;
};

// One record as stored or exported.
struct EvidenceRecord {
  std::uint64_t seq = 0;
  std::string idempotency_key;
  std::string kind;
  std::int64_t created_at_ms = 0;
  std::string payload_json;
  std::string prev_hash;
  std::string hash;
  std::string signature;
};

enum class EvidenceProblemCode {
  altered,        // the record's content does not match its hash
  bad_signature,  // the hash was recomputed without the station key (or another key signed it)
  removed,        // records are missing (a seq gap that breaks the chain, or a cut-off tail)
  reordered,      // the record does not follow the one before it
  bad_anchor,     // the anchor's signature is wrong (pruning faked)
  bad_head,       // the head's signature is wrong
  // A file the record lists in its payload's `attachments` (a camera image) is gone, or its bytes
  // no longer hash to the SHA-256 the signed record holds.
  attachment_missing,
  attachment_altered,
};

[[nodiscard]] std::string_view to_string(EvidenceProblemCode code);

struct EvidenceProblem {
  EvidenceProblemCode code;
  std::uint64_t seq = 0;  // the record where it shows
  std::string message;
};

struct EvidenceReport {
  std::uint64_t records = 0;
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  std::vector<EvidenceProblem> problems;
  [[nodiscard]] bool ok() const { return problems.empty(); }
};

// Checks a chain record by record, in the order given (seq order for an outbox, file order for an
// export), without holding the records: memory grows by a few bytes per record.
class ChainVerifier {
 public:
  // `anchor_kind`: what the anchor was signed as ("anchor"; "archive_anchor" where the outbox's
  // evidence archive starts).
  ChainVerifier(const ChainPoint& anchor, std::string station_id, std::vector<unsigned char> key,
                std::size_t max_problems = 100, std::string_view anchor_kind = "anchor");
  void add(const EvidenceRecord& record);
  // Checks the head when given, and returns the report.
  [[nodiscard]] EvidenceReport finish(const std::optional<ChainPoint>& head);

 private:
  struct BrokenLink {
    std::uint64_t seq;
    std::uint64_t expected_seq;
    std::string prev_hash;
  };
  void problem(EvidenceProblemCode code, std::uint64_t seq, std::string message);

  std::string station_id_;
  std::vector<unsigned char> key_;
  std::size_t max_problems_;
  EvidenceReport report_;
  std::string expected_prev_;
  std::uint64_t expected_seq_;
  std::vector<BrokenLink> broken_;
  std::vector<std::pair<std::string, std::uint64_t>> hashes_;  // hash prefix -> seq, sorted later
};

// Walks `records` in the order given (seq order for an outbox, file order for an export) from
// `anchor`, and checks `head` when given. Stops collecting after `max_problems`.
[[nodiscard]] EvidenceReport verify_chain(std::span<const EvidenceRecord> records,
                                          const ChainPoint& anchor,
                                          const std::optional<ChainPoint>& head,
                                          std::string_view station_id,
                                          std::span<const unsigned char> key,
                                          std::size_t max_problems = 100);

// An export written by `weighlink-agent outbox export` (JSON lines: a header with the station id,
// the signed anchor and head, then one record per line), checked with `key`.
struct ExportCheck {
  std::string station_id;
  ChainPoint anchor;
  std::optional<ChainPoint> head;
  EvidenceReport report;
};
// Throws std::runtime_error("line N: ...") when the input is not such an export.
[[nodiscard]] ExportCheck verify_export(std::istream& in, std::span<const unsigned char> key);

// A station key from its file: 64 or more hex digits (32+ bytes), surrounding whitespace ignored.
// The Error when the file is missing or unreadable (its errno) or not such a key
// (invalid_argument).
[[nodiscard]] base::Expected<std::vector<unsigned char>> read_station_key(const std::string& path);
// Creates a new random 32-byte key file (hex, mode 0600); never overwrites one (EEXIST).
[[nodiscard]] base::Expected<void> create_station_key(const std::string& path);

}  // namespace weighlink::record
