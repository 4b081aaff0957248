#pragma once
// The backend's side of evidence files (camera images that records list in `attachments`):
// chunked, resumable uploads into PostgreSQL (schema v6, docs/decisions/0008-evidence-images.md).
// Each function runs on the caller's connection (one per pool worker); concurrent uploads of the
// same blob (two replicas, two stations) take turns on the blob's row lock.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "weighlink/pg/error.hpp"
#include "weighlink/pg/pg.hpp"

namespace weighlink::service {

// The largest chunk a PutBlobChunk carries, and the default largest blob (serve
// --max-blob-bytes).
inline constexpr std::uint64_t kBlobChunkBytes = std::uint64_t{256} * 1024;
inline constexpr std::uint64_t kDefaultMaxBlobBytes = std::uint64_t{16} * 1024 * 1024;

struct BlobState {
  std::uint64_t received_bytes = 0;  // the contiguous prefix held: the next chunk goes there
  bool complete = false;
};

struct BlobChunkIn {
  std::string_view sha256;
  std::uint64_t total_bytes = 0;
  std::string_view content_type;
  std::uint64_t offset = 0;
  std::string_view data;
};

// Why a chunk is refused before any SQL (a bad name, size, offset or content type), or nullopt.
// Pure.
[[nodiscard]] std::optional<std::string> blob_chunk_problem(const BlobChunkIn& chunk,
                                                            std::uint64_t max_bytes);
// Why a blob or loss report is refused before any SQL, or nullopt. Pure.
[[nodiscard]] std::optional<std::string> blob_name_problem(std::string_view sha256);

[[nodiscard]] pg::Result<BlobState> read_blob_state(pg::PgConnection& db, std::string_view sha256);

struct ChunkAnswer {
  BlobState state;
  // The whole was received but does not hash to its name: discarded, to be sent again.
  bool hash_mismatch = false;
};

// Stores `chunk` when it starts at the received prefix (one transaction, the blob's row locked):
// a chunk below it is already held, one above it is not stored; either way the answer says where
// the next chunk goes. The chunk that makes the blob whole completes it once the SHA-256 of all
// its bytes is its name; otherwise the chunks are discarded (hash_mismatch). A claim of another
// size for an incomplete blob starts it afresh: the hash decides who told the truth.
[[nodiscard]] pg::Result<ChunkAnswer> put_blob_chunk(pg::PgConnection& db,
                                                     std::string_view station_id,
                                                     const BlobChunkIn& chunk);

// The station could not send the blob `sha256` that its record `idempotency_key` (seq) lists.
// Recorded once per record and blob.
[[nodiscard]] pg::Result<void> record_blob_lost(pg::PgConnection& db, std::string_view station_id,
                                                std::string_view sha256,
                                                std::string_view idempotency_key, std::uint64_t seq,
                                                std::string_view reason);

}  // namespace weighlink::service
