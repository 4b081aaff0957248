// The replay worker's SyncService messages (replay_proto.hpp).
#include "replay_proto.hpp"

#include <spdlog/spdlog.h>

#include "weighlink/base/hash.hpp"
#include "weighlink/base/log_text.hpp"
#include "weighlink/record/typed_payload.hpp"

namespace weighlink::sync {
namespace {

namespace pb = weighlink::sync::v1;

// Known kinds travel typed as well; the JSON stays the source of truth for hashing and
// signatures (typed_payload.hpp).
void fill_typed(const OutboxRow& row, pb::Mutation& m) {
  if (row.kind != "weighing.captured") return;
  pb::WeighingCaptured typed;
  if (record::weighing_from_payload(row.payload_json, typed))
    *m.mutable_weighing_captured() = std::move(typed);
}

// A marker in place of a mutation the backend cannot be given (sync.proto, withheld_reason):
// the seq and the chain fields as recorded, no payload, the payload's hash as the backend
// computes it.
void fill_marker(const OutboxRow& row, const std::string& reason, pb::Mutation& m) {
  m.set_payload_json("");
  m.clear_weighing_captured();
  m.set_withheld_reason(reason.substr(0, 200));
  m.set_withheld_payload_sha256(base::sha256_hex(row.kind + "\n" + row.payload_json));
}

ReplayOutcome from_proto(pb::Outcome outcome) {
  switch (outcome) {
    case pb::APPLIED:
      return ReplayOutcome::applied;
    case pb::DUPLICATE:
      return ReplayOutcome::duplicate;
    case pb::REJECTED:
      return ReplayOutcome::rejected;
    default:
      return ReplayOutcome::unspecified;
  }
}

}  // namespace

void add_mutations(const std::string& station_id, std::vector<OutboxRow>& rows,
                   const std::map<std::uint64_t, std::string>& markers, pb::ReplayRequest& req) {
  req.mutable_mutations()->Reserve(static_cast<int>(rows.size()));
  for (auto& row : rows) {
    auto* m = req.add_mutations();
    m->set_station_id(station_id);
    m->set_idempotency_key(row.idempotency_key);
    m->set_seq(row.seq);
    m->set_kind(row.kind);
    m->set_created_at_unix_ms(row.created_at_ms);
    m->set_prev_hash(row.prev_hash);
    m->set_record_hash(row.record_hash);
    m->set_signature(row.signature);
    if (auto marker = markers.find(row.seq); marker != markers.end()) {
      fill_marker(row, marker->second, *m);
    } else {
      fill_typed(row, *m);
      // Moved, not copied: the payload is the bulk of a batch, and the row needs it no more.
      m->set_payload_json(std::move(row.payload_json));
    }
  }
}

Watermark from_proto(const pb::Watermark& wm) {
  return Watermark{wm.high_water_seq(), wm.durable_seq(), wm.generation()};
}

ReplayAnswer from_proto(const pb::ReplayResponse& res) {
  ReplayAnswer answer;
  answer.expected_seq = res.expected_seq();
  answer.watermark = from_proto(res.watermark());
  answer.results.reserve(static_cast<std::size_t>(res.results_size()));
  for (const auto& r : res.results()) {
    answer.results.push_back(ReplayResult{r.seq(), r.idempotency_key(), from_proto(r.outcome()),
                                          from_proto(r.original_outcome()), r.reason()});
  }
  return answer;
}

RemoteResult<RemoteBlobState> GrpcBlobRemote::status(const std::string& sha256) {
  pb::BlobStatusRequest req;
  req.set_station_id(station_id_);
  req.set_sha256(sha256);
  pb::BlobStatusResponse res;
  auto ctx = context_();
  const auto status = stub_.BlobStatus(ctx.get(), req, &res);
  if (!status.ok()) return error(status);
  return RemoteBlobState{res.received_bytes(), res.complete(), res.max_bytes()};
}

RemoteResult<RemoteBlobState> GrpcBlobRemote::put_chunk(const Attachment& blob,
                                                        std::uint64_t total_bytes,
                                                        std::uint64_t offset,
                                                        std::string_view data) {
  pb::BlobChunk req;
  req.set_station_id(station_id_);
  req.set_sha256(blob.sha256);
  req.set_total_bytes(total_bytes);
  req.set_content_type(blob.content_type);
  req.set_offset(offset);
  req.set_data(std::string(data));
  pb::BlobStatusResponse res;
  auto ctx = context_();
  const auto status = stub_.PutBlobChunk(ctx.get(), req, &res);
  if (!status.ok()) return error(status);
  return RemoteBlobState{res.received_bytes(), res.complete(), res.max_bytes()};
}

RemoteResult<void> GrpcBlobRemote::report_lost(const Attachment& blob, const OutboxRow& row,
                                               std::string_view reason) {
  pb::BlobLost req;
  req.set_station_id(station_id_);
  req.set_sha256(blob.sha256);
  req.set_idempotency_key(row.idempotency_key);
  req.set_seq(row.seq);
  req.set_reason(std::string(reason.substr(0, 300)));
  pb::BlobLostResponse res;
  auto ctx = context_();
  const auto status = stub_.ReportBlobLost(ctx.get(), req, &res);
  if (!status.ok()) return error(status);
  spdlog::warn("evidence file {} of record seq {} ({}) could not be sent: {}", blob.sha256, row.seq,
               base::log_safe(row.idempotency_key), base::log_safe(reason, 300));
  return {};
}

// A refusal of the blob itself, or a backend without these calls, will not change by retrying:
// the blob is reported lost and the record goes on. Anything else retries the batch.
RemoteError GrpcBlobRemote::error(const grpc::Status& status) {
  const auto code = status.error_code();
  const bool permanent =
      code == grpc::StatusCode::INVALID_ARGUMENT || code == grpc::StatusCode::UNIMPLEMENTED ||
      code == grpc::StatusCode::OUT_OF_RANGE || code == grpc::StatusCode::FAILED_PRECONDITION;
  std::string message = status.error_message();
  if (code == grpc::StatusCode::UNIMPLEMENTED) {
    message = "the backend does not take evidence files (older than weighlink's issue 20)";
  }
  return RemoteError{static_cast<int>(code), std::move(message), permanent};
}

}  // namespace weighlink::sync
