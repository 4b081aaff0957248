#pragma once
// The SyncService messages of the replay worker (replay_grpc.cpp): the rows of a batch into a
// ReplayRequest, the answers back into the cursor's structs, and the evidence-file calls.
// Generated protobuf types stop here and in replay_grpc.cpp.
//
// Threading: GrpcBlobRemote is used by one thread (the replay worker's).

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "weighlink/sync/attachments.hpp"
#include "weighlink/sync/replay_cursor.hpp"
#include "weighlink/sync/v1/sync.grpc.pb.h"

namespace weighlink::sync {

// Appends `rows` to `req` as mutations of `station_id`, the rows in `markers` as markers. The
// payloads are moved into the request, not copied: the rows keep their seq, key and kind.
void add_mutations(const std::string& station_id, std::vector<OutboxRow>& rows,
                   const std::map<std::uint64_t, std::string>& markers, v1::ReplayRequest& req);

[[nodiscard]] Watermark from_proto(const v1::Watermark& wm);
[[nodiscard]] ReplayAnswer from_proto(const v1::ReplayResponse& res);

// The evidence calls (BlobStatus, PutBlobChunk, ReportBlobLost) for send_attachments(), on the
// worker's stub, each with the worker's deadline and token.
class GrpcBlobRemote final : public BlobRemote {
 public:
  using ContextFactory = std::function<std::unique_ptr<grpc::ClientContext>()>;
  GrpcBlobRemote(v1::SyncService::Stub& stub, std::string station_id, ContextFactory context)
      : stub_(stub), station_id_(std::move(station_id)), context_(std::move(context)) {}

  RemoteResult<RemoteBlobState> status(const std::string& sha256) override;
  RemoteResult<RemoteBlobState> put_chunk(const Attachment& blob, std::uint64_t total_bytes,
                                          std::uint64_t offset, std::string_view data) override;
  RemoteResult<void> report_lost(const Attachment& blob, const OutboxRow& row,
                                 std::string_view reason) override;

 private:
  static RemoteError error(const grpc::Status& status);

  v1::SyncService::Stub& stub_;
  std::string station_id_;
  ContextFactory context_;
};

}  // namespace weighlink::sync
