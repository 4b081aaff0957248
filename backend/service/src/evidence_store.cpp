// Evidence files in PostgreSQL (evidence_store.hpp): chunk rows of bytea under a blob row that
// serialises concurrent uploads of the same content.

#include "weighlink/service/evidence_store.hpp"

#include <algorithm>

#include "weighlink/base/hash.hpp"

namespace weighlink::service {
namespace {

bool lower_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool sane_content_type(std::string_view type) {
  if (type.empty() || type.size() > 100) return false;
  return std::all_of(type.begin(), type.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

std::string hex_of(std::string_view bytes) {
  return base::to_hex({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()});
}

}  // namespace

std::optional<std::string> blob_name_problem(std::string_view sha256) {
  if (sha256.size() != 64 || !lower_hex(sha256)) {
    return "the blob's name is not a SHA-256 (64 lower-case hex digits)";
  }
  return std::nullopt;
}

std::optional<std::string> blob_chunk_problem(const BlobChunkIn& chunk, std::uint64_t max_bytes) {
  if (auto bad = blob_name_problem(chunk.sha256)) return bad;
  if (chunk.total_bytes > max_bytes) {
    return "the blob has " + std::to_string(chunk.total_bytes) + " bytes; this backend takes at " +
           "most " + std::to_string(max_bytes) + " (serve --max-blob-bytes)";
  }
  if (!sane_content_type(chunk.content_type)) {
    return "content_type must be 1-100 printable characters without spaces, e.g. image/jpeg";
  }
  if (chunk.data.size() > kBlobChunkBytes) {
    return "a chunk carries at most " + std::to_string(kBlobChunkBytes) + " bytes, not " +
           std::to_string(chunk.data.size());
  }
  if (chunk.offset > chunk.total_bytes || chunk.data.size() > chunk.total_bytes - chunk.offset) {
    return "the chunk at offset " + std::to_string(chunk.offset) + " with " +
           std::to_string(chunk.data.size()) + " bytes ends past the blob's " +
           std::to_string(chunk.total_bytes) + " bytes";
  }
  if (chunk.data.empty() && chunk.total_bytes != 0) return "the chunk carries no bytes";
  return std::nullopt;
}

pg::Result<BlobState> read_blob_state(pg::PgConnection& db, std::string_view sha256) {
  return pg::with_reconnect(db, [&]() -> pg::Result<BlobState> {
    auto r = db.exec("SELECT received_bytes, complete FROM evidence_blobs WHERE sha256 = $1",
                     {std::string(sha256)});
    if (!r) return r.error();
    if (r->rows() == 0) return BlobState{};
    return BlobState{pg::to_int<std::uint64_t>(r->get(0, 0)), r->get(0, 1) == "t"};
  });
}

pg::Result<ChunkAnswer> put_blob_chunk(pg::PgConnection& db, std::string_view station_id,
                                       const BlobChunkIn& chunk) {
  if (auto connected = db.ensure_connected(); !connected) return connected.error();
  const std::string sha(chunk.sha256);
  const std::string total = std::to_string(chunk.total_bytes);
  pg::PgTransaction tx(db);
  if (auto begun = tx.begin(); !begun) return begun.error();
  if (auto inserted =
          db.exec("INSERT INTO evidence_blobs (sha256, station_id, bytes, content_type) "
                  "VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING",
                  {sha, std::string(station_id), total, std::string(chunk.content_type)});
      !inserted) {
    return inserted.error();
  }
  auto row = db.exec(
      "SELECT bytes, received_bytes, complete FROM evidence_blobs WHERE sha256 = $1 FOR UPDATE",
      {sha});
  if (!row) return row.error();
  ChunkAnswer answer;
  answer.state.received_bytes = pg::to_int<std::uint64_t>(row->get(0, 1));
  answer.state.complete = row->get(0, 2) == "t";
  if (answer.state.complete) {
    if (auto committed = tx.commit(); !committed) return committed.error();
    return answer;
  }
  if (pg::to_int<std::uint64_t>(row->get(0, 0)) != chunk.total_bytes) {
    // Another size claimed for the same name: start afresh with this one.
    if (!db.exec("DELETE FROM evidence_blob_chunks WHERE sha256 = $1", {sha}) ||
        !db.exec("UPDATE evidence_blobs SET bytes = $2, content_type = $3, received_bytes = 0 "
                 "WHERE sha256 = $1",
                 {sha, total, std::string(chunk.content_type)})) {
      return pg::Errc::database_error;
    }
    answer.state.received_bytes = 0;
  }
  if (chunk.offset == answer.state.received_bytes && !chunk.data.empty()) {
    // DO UPDATE, not DO NOTHING: a chunk left at this offset by an upload that was started
    // afresh is replaced; the received prefix, under the row lock, is what makes a retry a no-op.
    if (auto stored = db.exec("INSERT INTO evidence_blob_chunks (sha256, \"offset\", data) "
                              "VALUES ($1, $2, decode($3, 'hex')) "
                              "ON CONFLICT (sha256, \"offset\") DO UPDATE SET data = EXCLUDED.data",
                              {sha, std::to_string(chunk.offset), hex_of(chunk.data)});
        !stored) {
      return stored.error();
    }
    answer.state.received_bytes += chunk.data.size();
    if (auto moved = db.exec("UPDATE evidence_blobs SET received_bytes = $2 WHERE sha256 = $1",
                             {sha, std::to_string(answer.state.received_bytes)});
        !moved) {
      return moved.error();
    }
  }
  if (answer.state.received_bytes == chunk.total_bytes) {
    auto hashed = db.exec(
        "SELECT encode(sha256(coalesce(string_agg(data, ''::bytea ORDER BY \"offset\"), "
        "''::bytea)), 'hex') FROM evidence_blob_chunks WHERE sha256 = $1 AND \"offset\" < $2",
        {sha, total});
    if (!hashed) return hashed.error();
    if (hashed->get(0, 0) == sha) {
      if (auto done = db.exec(
              "UPDATE evidence_blobs SET complete = true, completed_at = now() WHERE sha256 = $1",
              {sha});
          !done) {
        return done.error();
      }
      answer.state.complete = true;
    } else {
      if (!db.exec("DELETE FROM evidence_blob_chunks WHERE sha256 = $1", {sha}) ||
          !db.exec("UPDATE evidence_blobs SET received_bytes = 0 WHERE sha256 = $1", {sha})) {
        return pg::Errc::database_error;
      }
      answer.state.received_bytes = 0;
      answer.hash_mismatch = true;
    }
  }
  if (auto committed = tx.commit(); !committed) return committed.error();
  return answer;
}

pg::Result<void> record_blob_lost(pg::PgConnection& db, std::string_view station_id,
                                  std::string_view sha256, std::string_view idempotency_key,
                                  std::uint64_t seq, std::string_view reason) {
  return pg::with_reconnect(db, [&]() -> pg::Result<void> {
    auto r = db.exec(
        "INSERT INTO evidence_blob_losses (station_id, idempotency_key, sha256, seq, reason) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        {std::string(station_id), std::string(idempotency_key), std::string(sha256),
         std::to_string(seq), std::string(reason.substr(0, 300))});
    if (!r) return r.error();
    return {};
  });
}

}  // namespace weighlink::service
