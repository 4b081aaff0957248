#pragma once
// Evidence files that travel with records (docs/sync-protocol.md, "Evidence files"): a payload's
// top-level `attachments` ([{"sha256","bytes","content_type"}], `weighlink.*` kinds only) lists
// the blobs of the BlobStore that must reach the backend before the record. send_attachments()
// uploads each one the backend does not hold whole, resuming where it stopped, in chunks; a blob
// that cannot be sent (missing or altered here, larger than the backend takes) is reported lost
// and the record still replays. Socket-free: the backend is a BlobRemote (the gRPC adapter in
// replay_grpc.cpp, a fake in tests).
//
// Threading: call from one thread (the replay worker's).

#include <boost/system/result.hpp>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/sync/blob_store.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::sync {

inline constexpr std::size_t kBlobChunkBytes = std::size_t{256} * 1024;

struct Attachment {
  std::string sha256;
  std::uint64_t bytes = 0;
  std::string content_type;
};

// The attachments a row lists: none unless `kind` starts with "weighlink." (checked before the
// payload is looked at, so other rows cost nothing) and the payload has a top-level
// "attachments" array. Entries without a SHA-256 name are left out, or, with `keep_malformed`
// (the evidence check, which then reports them missing), kept with the name as written.
[[nodiscard]] std::vector<Attachment> attachments_of(std::string_view kind,
                                                     std::string_view payload_json,
                                                     bool keep_malformed = false);

// What the backend holds of a blob.
struct RemoteBlobState {
  std::uint64_t received_bytes = 0;
  bool complete = false;
  std::uint64_t max_bytes = 0;  // the largest blob it takes; 0: not said
};

// A failed call: `permanent` when it can never succeed for this blob (refused for itself, or a
// backend without the evidence calls); otherwise the batch is retried with backoff.
struct RemoteError {
  int code = 0;  // the transport's status code
  std::string message;
  bool permanent = false;
};

template <class T>
using RemoteResult = boost::system::result<T, RemoteError>;

class BlobRemote {
 public:
  virtual ~BlobRemote() = default;
  virtual RemoteResult<RemoteBlobState> status(const std::string& sha256) = 0;
  virtual RemoteResult<RemoteBlobState> put_chunk(const Attachment& blob, std::uint64_t total_bytes,
                                                  std::uint64_t offset, std::string_view data) = 0;
  virtual RemoteResult<void> report_lost(const Attachment& blob, const OutboxRow& row,
                                         std::string_view reason) = 0;
};

struct AttachmentTally {
  std::uint64_t uploaded = 0;      // blobs completed by this call
  std::uint64_t already_held = 0;  // blobs the backend held whole already
  std::uint64_t lost = 0;          // (record, blob) pairs reported lost
  std::uint64_t chunks = 0;
  std::uint64_t bytes_sent = 0;
};

// Sends every attachment of `rows` (but those of the seqs in `skip`: markers carry no payload)
// that the backend does not hold whole. The first failure that is not permanent stops it: the
// batch is not sent, and everything is asked again next time (what the backend holds is kept).
[[nodiscard]] boost::system::result<AttachmentTally, RemoteError> send_attachments(
    std::span<const OutboxRow> rows, const std::set<std::uint64_t>& skip, const BlobStore& store,
    BlobRemote& remote, std::size_t chunk_bytes = kBlobChunkBytes);

}  // namespace weighlink::sync
