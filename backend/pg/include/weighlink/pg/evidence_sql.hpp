#pragma once
// The queries over the evidence files (schema v6: evidence_blobs, evidence_blob_chunks,
// evidence_blob_losses) that the sync service (`records verify`) and the recovery toolchain
// (backup's manifest, verify-backup) both run, written once beside the schema they read.
// Hashes are recomputed by PostgreSQL (sha256(bytea)): the bytes never leave the server.

#include <cstdint>
#include <string>
#include <string_view>

#include "weighlink/pg/pg.hpp"

namespace weighlink::pg {

// The manifest's evidence figures: how many complete blobs, and a SHA-256 over their
// "sha256:bytes" lines in name order (hex of the empty text's hash when there are none).
// Columns: count, checksum.
inline constexpr std::string_view kEvidenceSummarySql = R"sql(
SELECT count(*),
       encode(sha256(convert_to(coalesce(string_agg(sha256 || ':' || bytes, E'\n'
                                                    ORDER BY sha256), ''), 'UTF8')), 'hex')
FROM evidence_blobs WHERE complete)sql";

// The attachments of applied `weighlink.*` records (all of them, or with $1/$2 one station's
// record at one seq), each with what the backend holds: columns station_id, seq,
// idempotency_key, sha256, bytes listed, bytes held (NULL: no blob row), received_bytes,
// complete, the recomputed SHA-256 of the chunks (NULL: not complete), the loss the station
// reported (NULL: none).
inline constexpr std::string_view kAttachmentsSelectSql = R"sql(
SELECT m.station_id, m.seq, m.idempotency_key, a.value->>'sha256',
       CASE WHEN jsonb_typeof(a.value->'bytes') = 'number' THEN (a.value->>'bytes')::numeric END,
       b.bytes, b.received_bytes, b.complete,
       CASE WHEN b.complete THEN
         (SELECT encode(sha256(coalesce(string_agg(c.data, ''::bytea ORDER BY c."offset"),
                                        ''::bytea)), 'hex')
          FROM evidence_blob_chunks c WHERE c.sha256 = b.sha256) END,
       l.reason
FROM mutation_log m
CROSS JOIN LATERAL (SELECT coalesce(m.payload, m.payload_text::jsonb)) AS p(payload)
CROSS JOIN LATERAL jsonb_array_elements(
  CASE WHEN jsonb_typeof(p.payload->'attachments') = 'array' THEN p.payload->'attachments'
       ELSE '[]'::jsonb END) AS a(value)
LEFT JOIN evidence_blobs b ON b.sha256 = a.value->>'sha256'
LEFT JOIN evidence_blob_losses l ON l.station_id = m.station_id
  AND l.idempotency_key = m.idempotency_key AND l.sha256 = a.value->>'sha256'
WHERE m.kind LIKE 'weighlink.%' AND m.outcome = 'applied')sql";

// One row of kAttachmentsSelectSql, judged: `state` is "present" (complete and hashing to its
// name), "lost" (the station reported it could not send it: `detail` says why), "incomplete"
// (an upload under way or interrupted), "missing" (no blob) or "altered" (the bytes held do not
// hash to the name, or are not the size the record lists).
struct AttachmentRow {
  std::string station_id;
  std::uint64_t seq = 0;
  std::string idempotency_key;
  std::string sha256;
  std::string state;
  std::string detail;
  [[nodiscard]] bool ok() const { return state == "present" || state == "lost"; }
};

[[nodiscard]] inline AttachmentRow attachment_row(const PgResult& r, int row) {
  AttachmentRow a;
  a.station_id = std::string(r.get(row, 0));
  a.seq = to_int<std::uint64_t>(r.get(row, 1));
  a.idempotency_key = std::string(r.get(row, 2));
  a.sha256 = std::string(r.get(row, 3));
  const bool has_blob = !r.is_null(row, 5);
  if (has_blob && r.get(row, 7) == "t") {
    if (r.get(row, 8) != a.sha256) {
      a.state = "altered";
      a.detail = "the bytes held hash to " + std::string(r.get(row, 8));
    } else if (!r.is_null(row, 4) && r.get(row, 4) != r.get(row, 5)) {
      a.state = "altered";
      a.detail = "the record lists " + std::string(r.get(row, 4)) + " bytes, the blob has " +
                 std::string(r.get(row, 5));
    } else {
      a.state = "present";
      a.detail = std::string(r.get(row, 5)) + " bytes";
    }
  } else if (!r.is_null(row, 9)) {
    a.state = "lost";
    a.detail = "the station could not send it: " + std::string(r.get(row, 9));
  } else if (has_blob) {
    a.state = "incomplete";
    a.detail = std::string(r.get(row, 6)) + " of " + std::string(r.get(row, 5)) + " bytes received";
  } else {
    a.state = "missing";
    a.detail = "no such blob here";
  }
  return a;
}

}  // namespace weighlink::pg
