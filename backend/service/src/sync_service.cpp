#include "weighlink/service/sync_service.hpp"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <optional>
#include <thread>
#include <type_traits>

#include "weighlink/base/log_text.hpp"
#include "weighlink/proto/trailers.hpp"
#include "weighlink/record/typed_payload.hpp"
#include "weighlink/service/auth.hpp"
#include "weighlink/service/evidence_store.hpp"
#include "weighlink/service/order_gate.hpp"
#include "weighlink/service/pg_store.hpp"
#include "weighlink/service/replay.hpp"
#include "weighlink/service/token.hpp"
#include "weighlink/sync/v1/sync.grpc.pb.h"

namespace weighlink::service {
namespace {

namespace pb = weighlink::sync::v1;

constexpr std::string_view kCorrelationHeader = "x-correlation-id";

// What a call needs from its context, taken on the reaction thread before handing off.
struct CallInfo {
  std::string token;  // never logged
  bool has_token = false;
  std::string correlation_id;
  std::string peer;  // "ipv4:127.0.0.1:PORT": logged through base::log_safe like client text
  // A Replay batch's place in its station's order on this replica (order_gate.hpp).
  std::shared_ptr<OrderGate::Ticket> turn;
};

bool sane_correlation_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

CallInfo call_info(const grpc::CallbackServerContext& context) {
  CallInfo info;
  info.peer = context.peer();
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    const std::string_view value(it->second.data(), it->second.size());
    if (auto token = parse_bearer(value)) {
      info.token = std::string(*token);
      info.has_token = true;
    }
  }
  if (auto it = metadata.find(std::string(kCorrelationHeader)); it != metadata.end()) {
    const std::string_view value(it->second.data(), it->second.size());
    if (sane_correlation_id(value)) info.correlation_id = std::string(value);
  }
  if (info.correlation_id.empty()) info.correlation_id = random_hex(8);
  return info;
}

pb::Outcome to_proto(Outcome outcome) {
  switch (outcome) {
    case Outcome::applied:
      return pb::APPLIED;
    case Outcome::duplicate:
      return pb::DUPLICATE;
    case Outcome::rejected:
      return pb::REJECTED;
    case Outcome::unspecified:
      break;
  }
  return pb::OUTCOME_UNSPECIFIED;
}

void to_proto(const Watermark& watermark, pb::Watermark* out) {
  out->set_high_water_seq(watermark.high_water_seq);
  out->set_durable_seq(watermark.durable_seq);
  out->set_generation(watermark.generation);
}

// Moves the strings out of `w`, a message built for this call alone.
WeighingCaptured from_proto(pb::WeighingCaptured& w) {
  WeighingCaptured out;
  out.scale = std::move(*w.mutable_scale());
  out.weight = std::move(*w.mutable_weight());
  out.unit = std::move(*w.mutable_unit());
  out.mode = std::move(*w.mutable_mode());
  out.tare = std::move(*w.mutable_tare());
  out.decks.reserve(static_cast<std::size_t>(w.decks_size()));
  for (auto& deck : *w.mutable_decks()) {
    DeckWeight d;
    d.index = deck.index();
    d.weight = std::move(*deck.mutable_weight());
    d.stable = deck.stable();
    out.decks.push_back(std::move(d));
  }
  out.axles.reserve(static_cast<std::size_t>(w.axles_size()));
  for (auto& axle : *w.mutable_axles()) {
    AxleWeight a;
    a.index = axle.index();
    a.weight = std::move(*axle.mutable_weight());
    a.reading = std::move(*axle.mutable_reading());
    a.reading_seq = axle.reading_seq();
    a.raw = std::move(*axle.mutable_raw());
    a.captured_at = std::move(*axle.mutable_captured_at());
    out.axles.push_back(std::move(a));
  }
  out.reading_seq = w.reading_seq();
  out.reading_ts = std::move(*w.mutable_reading_ts());
  out.raw = std::move(*w.mutable_raw());
  out.operator_id = std::move(*w.mutable_operator_id());
  out.agent_version = std::move(*w.mutable_agent_version());
  out.signature = std::move(*w.mutable_signature());
  out.type = std::move(*w.mutable_type());
  out.gvw = std::move(*w.mutable_gvw());
  return out;
}

Mutation from_proto(const pb::Mutation& in) {
  Mutation m;
  m.station_id = in.station_id();
  m.idempotency_key = in.idempotency_key();
  m.seq = in.seq();
  m.kind = in.kind();
  m.payload_json = in.payload_json();
  m.created_at_unix_ms = in.created_at_unix_ms();
  m.prev_hash = in.prev_hash();
  m.record_hash = in.record_hash();
  m.signature = in.signature();
  m.withheld_reason = in.withheld_reason();
  m.withheld_payload_sha256 = in.withheld_payload_sha256();
  // The weighing is built from the JSON the signature covers, with the same mapping as the
  // agent's, for every station; the typed copy on the wire (weighing_captured) is ignored: a
  // client could make it say anything.
  if (m.kind == kWeighingCapturedKind && m.withheld_reason.empty()) {
    pb::WeighingCaptured from_payload;
    std::optional<record::Refusal> problem;
    if (record::weighing_from_payload(m.payload_json, from_payload, &problem)) {
      m.weighing = from_proto(from_payload);
      m.weighing_problem = std::move(problem);
    }
  }
  return m;
}

// Maps a typed backend error to the gRPC status the agent acts on: UNAVAILABLE is retried.
grpc::Status to_status(const boost::system::error_code& error, const std::string& correlation_id) {
  const std::string suffix = " (correlation id " + correlation_id + ")";
  if (error == pg::Errc::unauthenticated) {
    return {
        grpc::StatusCode::UNAUTHENTICATED,
        "the station token is missing, unknown or disabled; check the agent's token file" + suffix};
  }
  if (error == pg::Errc::permission_denied) {
    return {grpc::StatusCode::PERMISSION_DENIED,
            "this token may only write its own station; check that the agent's station_id is the "
            "station the token was made for" +
                suffix};
  }
  if (error == pg::Errc::connection_lost) {
    return {grpc::StatusCode::UNAVAILABLE, "database unavailable; retry later" + suffix};
  }
  if (error == pg::Errc::timed_out) {
    return {grpc::StatusCode::UNAVAILABLE, "database busy (timed out); retry later" + suffix};
  }
  if (error == pg::Errc::unique_violation || error == pg::Errc::serialization_failure) {
    return {grpc::StatusCode::UNAVAILABLE, "concurrent update of this station; retry" + suffix};
  }
  if (error == pg::Errc::not_migrated) {
    return {
        grpc::StatusCode::UNAVAILABLE,
        "backend database not migrated; the operator must run weighlink-backend migrate" + suffix};
  }
  if (error == pg::Errc::station_not_found) {
    return {grpc::StatusCode::NOT_FOUND, "station not found" + suffix};
  }
  return {grpc::StatusCode::INTERNAL,
          "internal database error; the backend's log has the cause under this correlation id" +
              suffix};
}

class SyncServiceImpl final : public pb::SyncService::CallbackService {
 public:
  explicit SyncServiceImpl(SyncServiceDeps deps) : deps_(std::move(deps)) {}

  grpc::ServerUnaryReactor* Hello(grpc::CallbackServerContext* context,
                                  const pb::HelloRequest* request,
                                  pb::HelloResponse* response) override {
    return react(context, request, response, &SyncServiceImpl::hello);
  }

  grpc::ServerUnaryReactor* Replay(grpc::CallbackServerContext* context,
                                   const pb::ReplayRequest* request,
                                   pb::ReplayResponse* response) override {
    return react(context, request, response, &SyncServiceImpl::replay);
  }

  grpc::ServerUnaryReactor* BlobStatus(grpc::CallbackServerContext* context,
                                       const pb::BlobStatusRequest* request,
                                       pb::BlobStatusResponse* response) override {
    return react(context, request, response, &SyncServiceImpl::blob_status);
  }

  grpc::ServerUnaryReactor* PutBlobChunk(grpc::CallbackServerContext* context,
                                         const pb::BlobChunk* request,
                                         pb::BlobStatusResponse* response) override {
    return react(context, request, response, &SyncServiceImpl::put_blob_chunk);
  }

  grpc::ServerUnaryReactor* ReportBlobLost(grpc::CallbackServerContext* context,
                                           const pb::BlobLost* request,
                                           pb::BlobLostResponse* response) override {
    return react(context, request, response, &SyncServiceImpl::report_blob_lost);
  }

 private:
  template <class Request, class Response>
  using Handler = grpc::Status (SyncServiceImpl::*)(WorkerContext&, const CallInfo&, const Request&,
                                                    Response&);

  // Every RPC: takes what the call needs from its context, answers at once what admit() refuses,
  // and hands the rest to a pool worker, which finishes the call with `handler`'s status.
  template <class Request, class Response>
  grpc::ServerUnaryReactor* react(grpc::CallbackServerContext* context, const Request* request,
                                  Response* response, Handler<Request, Response> handler) {
    auto* reactor = context->DefaultReactor();
    CallInfo info = call_info(*context);
    if (auto refused = admit(*context, info, *request)) {
      finish(context, reactor, info.correlation_id, *refused);
      return reactor;
    }
    // A station's Replay batches keep their arrival order on this replica (order_gate.hpp); the
    // ticket leaves when the call is done, refused by the pool or cancelled.
    if constexpr (std::is_same_v<Request, pb::ReplayRequest>) {
      if (!request->mutations().empty())
        info.turn = order_.arrive(request->station_id(), request->mutations(0).seq());
    }
    submit(context, reactor, info.correlation_id,
           [this, context, reactor, request, response, info, handler](WorkerContext& worker) {
             serve(context, reactor, request, response, info, handler, worker);
           });
    return reactor;
  }

  // On the worker: runs `handler` and finishes the call; a Replay batch whose station has an
  // earlier batch still queued goes back to the end of the queue first (order_gate.hpp).
  template <class Request, class Response>
  void serve(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
             const Request* request, Response* response, const CallInfo& info,
             Handler<Request, Response> handler, WorkerContext& worker) {
    if (info.turn && !info.turn->begin() &&
        try_submit(context, reactor, info.correlation_id,
                   [this, context, reactor, request, response, info, handler](WorkerContext& w) {
                     serve(context, reactor, request, response, info, handler, w);
                   })) {
      return;
    }
    const auto status = (this->*handler)(worker, info, *request, *response);
    if (info.turn) info.turn->done(std::nullopt);
    finish(context, reactor, info.correlation_id, status);
  }

  // What a call is refused on the reaction thread, before any database work. Hello: nothing.
  std::optional<grpc::Status> admit(grpc::CallbackServerContext& /*context*/,
                                    const CallInfo& /*info*/, const pb::HelloRequest& /*request*/) {
    return std::nullopt;
  }

  // Evidence files: what is wrong with the request itself (name, size, offset) before any work.
  std::optional<grpc::Status> admit(grpc::CallbackServerContext& /*context*/, const CallInfo& info,
                                    const pb::BlobStatusRequest& request) {
    return refuse_blob(info, blob_name_problem(request.sha256()));
  }
  std::optional<grpc::Status> admit(grpc::CallbackServerContext& /*context*/, const CallInfo& info,
                                    const pb::BlobChunk& request) {
    return refuse_blob(info, blob_chunk_problem(BlobChunkIn{request.sha256(), request.total_bytes(),
                                                            request.content_type(),
                                                            request.offset(), request.data()},
                                                deps_.max_blob_bytes));
  }
  std::optional<grpc::Status> admit(grpc::CallbackServerContext& /*context*/, const CallInfo& info,
                                    const pb::BlobLost& request) {
    return refuse_blob(info, blob_name_problem(request.sha256()));
  }
  static std::optional<grpc::Status> refuse_blob(const CallInfo& info,
                                                 const std::optional<std::string>& problem) {
    if (!problem) return std::nullopt;
    return grpc::Status{grpc::StatusCode::INVALID_ARGUMENT,
                        *problem + " (correlation id " + info.correlation_id + ")"};
  }

  // Replay: a batch over --max-batch, with the limit in a trailer for the agent to adopt.
  std::optional<grpc::Status> admit(grpc::CallbackServerContext& context, const CallInfo& info,
                                    const pb::ReplayRequest& request) {
    const auto count = static_cast<std::size_t>(request.mutations_size());
    if (count <= deps_.max_batch) return std::nullopt;
    deps_.metrics->count_oversize();
    spdlog::warn(
        "replay refused: {} mutations in one batch, the limit is {} station={} "
        "correlation_id={}",
        count, deps_.max_batch, base::log_safe(request.station_id()), info.correlation_id);
    context.AddTrailingMetadata(proto::kMaxBatchTrailer, std::to_string(deps_.max_batch));
    return grpc::Status{grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "batch of " + std::to_string(count) + " mutations; send at most " +
                            std::to_string(deps_.max_batch) + " per call (correlation id " +
                            info.correlation_id + ")"};
  }

  template <class Job>
  void submit(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
              const std::string& correlation_id, Job job) {
    if (!try_submit(context, reactor, correlation_id, std::move(job))) {
      deps_.metrics->count_overloaded();
      spdlog::warn("worker queue full ({} waiting): refusing a call correlation_id={}",
                   deps_.pool->capacity(), correlation_id);
      context->AddTrailingMetadata(proto::kRetryAfterTrailer,
                                   std::to_string(kOverloadRetryAfterMs));
      finish(context, reactor, correlation_id,
             {grpc::StatusCode::RESOURCE_EXHAUSTED,
              "backend overloaded; retry with backoff (correlation id " + correlation_id + ")"});
    }
  }

  // Queues `job`; false (nothing queued) when the pool's queue is full.
  template <class Job>
  bool try_submit(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                  const std::string& correlation_id, Job job) {
    // The reaction only queues; the database work runs on a pool worker, which finishes the call.
    auto guarded = [this, context, reactor, correlation_id,
                    job = std::move(job)](WorkerContext& worker) mutable {
      if (context->IsCancelled()) {
        finish(context, reactor, correlation_id,
               {grpc::StatusCode::CANCELLED, "call cancelled before it was served"});
        return;
      }
      try {
        job(worker);
      } catch (const std::exception& e) {
        spdlog::error("unexpected exception in an RPC: {} correlation_id={}",
                      base::log_safe(e.what()), correlation_id);
        finish(
            context, reactor, correlation_id,
            {grpc::StatusCode::INTERNAL, "internal error (correlation id " + correlation_id + ")"});
      }
    };
    return deps_.pool->try_submit(std::move(guarded));
  }

  void finish(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
              const std::string& correlation_id, const grpc::Status& status) {
    context->AddTrailingMetadata(std::string(kCorrelationHeader), correlation_id);
    reactor->Finish(status);
  }

  // Resolves the token to a station and checks it may act for `station_id` and `mutations`.
  pg::Result<void> authorize(WorkerContext& worker, const CallInfo& info,
                             std::string_view station_id, const std::vector<Mutation>& mutations) {
    if (!info.has_token) return pg::Errc::unauthenticated;
    auto station = find_station_by_token_hash(worker.db, sha256_hex(info.token));
    if (!station) return station.error();
    return check_access(*station, station_id, mutations);
  }

  grpc::Status failed(WorkerContext& worker, const boost::system::error_code& error,
                      std::string_view what, std::string_view station_id,
                      const std::string& correlation_id) {
    if (error == pg::Errc::connection_lost) {
      // Drop the connection: the next job on this worker reconnects.
      worker.db.reset();
      deps_.metrics->count_unavailable();
    }
    // Client text (the station id) and server messages that may quote client values are
    // escaped: one log line per event, whatever they hold.
    if (error == pg::Errc::unauthenticated || error == pg::Errc::permission_denied) {
      spdlog::warn("{} refused: {} station={} correlation_id={}", what, error.message(),
                   base::log_safe(station_id), correlation_id);
    } else {
      spdlog::error("{} failed: {}: {} station={} correlation_id={}", what, error.message(),
                    base::log_safe(worker.db.last_error(), 1024), base::log_safe(station_id),
                    correlation_id);
    }
    return to_status(error, correlation_id);
  }

  grpc::Status hello(WorkerContext& worker, const CallInfo& info, const pb::HelloRequest& request,
                     pb::HelloResponse& response) {
    if (auto ok = authorize(worker, info, request.station_id(), {}); !ok) {
      return failed(worker, ok.error(), "hello", request.station_id(), info.correlation_id);
    }
    auto watermark = read_watermark(worker.db, request.station_id());
    if (!watermark) {
      return failed(worker, watermark.error(), "hello", request.station_id(), info.correlation_id);
    }
    if (request.acknowledged_seq() > watermark->high_water_seq) {
      spdlog::warn(
          "station={} holds seq {} as acknowledged but high water is {}: the database went back "
          "in time (restore?); the agent re-sends from {} correlation_id={}",
          base::log_safe(request.station_id()), request.acknowledged_seq(),
          watermark->high_water_seq, watermark->high_water_seq + 1, info.correlation_id);
    }
    to_proto(*watermark, response.mutable_watermark());
    deps_.metrics->station_seen(request.station_id(), request.last_seq(), watermark->high_water_seq,
                                deps_.now_unix_ms());
    response.set_server_time_unix_ms(deps_.now_unix_ms());
    response.set_backend_version(WEIGHLINK_VERSION);
    spdlog::debug("hello station={} agent_version={} peer={} high_water={} correlation_id={}",
                  base::log_safe(request.station_id()), base::log_safe(request.agent_version(), 64),
                  base::log_safe(info.peer), watermark->high_water_seq, info.correlation_id);
    return grpc::Status::OK;
  }

  grpc::Status replay(WorkerContext& worker, const CallInfo& info, const pb::ReplayRequest& request,
                      pb::ReplayResponse& response) {
    const std::string& station_id = request.station_id();
    std::vector<Mutation> mutations;
    mutations.reserve(static_cast<std::size_t>(request.mutations_size()));
    for (const auto& m : request.mutations()) mutations.push_back(from_proto(m));

    if (auto ok = authorize(worker, info, station_id, mutations); !ok) {
      return failed(worker, ok.error(), "replay", station_id, info.correlation_id);
    }
    if (auto problem = malformed_batch_reason(mutations)) {
      spdlog::warn("replay refused: {} station={} correlation_id={}", *problem,
                   base::log_safe(station_id), info.correlation_id);
      return {grpc::StatusCode::INVALID_ARGUMENT,
              *problem + " (correlation id " + info.correlation_id + ")"};
    }
    int attempts = 0;
    if (info.turn && info.turn->wait()) {  // this station's earlier batches first (order_gate.hpp)
      spdlog::debug("replay station={} from seq {} waited for its turn correlation_id={}",
                    base::log_safe(station_id), mutations.front().seq, info.correlation_id);
    }
    const auto started = std::chrono::steady_clock::now();
    auto outcome = replay_batch(worker.db, station_id, mutations, deps_.now_unix_ms(), &attempts);
    if (info.turn && outcome) info.turn->done(outcome->watermark.high_water_seq);
    if (!outcome) return failed(worker, outcome.error(), "replay", station_id, info.correlation_id);
    const std::chrono::duration<double> database_time = std::chrono::steady_clock::now() - started;

    if (deps_.pause_after_commit.count() > 0) {
      std::this_thread::sleep_for(deps_.pause_after_commit);  // tests only: see SyncServiceDeps
    }
    deps_.metrics->observe_batch(station_id, database_time.count(),
                                 outcome->watermark.high_water_seq, deps_.now_unix_ms());
    std::size_t counts[4] = {0, 0, 0, 0};
    deps_.metrics->count_unsigned(outcome->unsigned_recorded);
    for (std::size_t i = 0; i < outcome->results.size(); ++i) {
      const auto& result = outcome->results[i];
      deps_.metrics->count_outcome(result.outcome);
      ++counts[static_cast<int>(result.outcome)];
      if (result.outcome == Outcome::rejected) {
        deps_.metrics->count_evidence_rejection(result.reason);
        // Results answer the batch's mutations in order, one each up to a gap.
        spdlog::warn(
            "mutation rejected: {} station={} idempotency_key={} kind={} seq={} "
            "correlation_id={}",
            base::log_safe(result.reason, 512), base::log_safe(station_id),
            base::log_safe(result.idempotency_key), base::log_safe(mutations[i].kind, 100),
            result.seq, info.correlation_id);
      }
      auto* out = response.add_results();
      out->set_idempotency_key(result.idempotency_key);
      out->set_seq(result.seq);
      out->set_outcome(to_proto(result.outcome));
      out->set_reason(result.reason);
      out->set_original_outcome(to_proto(result.original_outcome));
      out->set_applied_at_unix_ms(result.applied_at_unix_ms);
    }
    to_proto(outcome->watermark, response.mutable_watermark());
    response.set_expected_seq(outcome->expected_seq);
    // Per batch, on the hot path: debug only (the metrics count batches and outcomes).
    spdlog::debug(
        "replay station={} mutations={} applied={} duplicate={} rejected={} high_water={} "
        "expected_seq={} attempts={} correlation_id={}",
        base::log_safe(station_id), mutations.size(), counts[static_cast<int>(Outcome::applied)],
        counts[static_cast<int>(Outcome::duplicate)], counts[static_cast<int>(Outcome::rejected)],
        outcome->watermark.high_water_seq, outcome->expected_seq, attempts, info.correlation_id);
    return grpc::Status::OK;
  }

  grpc::Status blob_status(WorkerContext& worker, const CallInfo& info,
                           const pb::BlobStatusRequest& request, pb::BlobStatusResponse& response) {
    if (auto ok = authorize(worker, info, request.station_id(), {}); !ok) {
      return failed(worker, ok.error(), "blob status", request.station_id(), info.correlation_id);
    }
    auto state = read_blob_state(worker.db, request.sha256());
    if (!state) {
      return failed(worker, state.error(), "blob status", request.station_id(),
                    info.correlation_id);
    }
    response.set_received_bytes(state->received_bytes);
    response.set_complete(state->complete);
    response.set_max_bytes(deps_.max_blob_bytes);
    return grpc::Status::OK;
  }

  grpc::Status put_blob_chunk(WorkerContext& worker, const CallInfo& info,
                              const pb::BlobChunk& request, pb::BlobStatusResponse& response) {
    const std::string& station_id = request.station_id();
    if (auto ok = authorize(worker, info, station_id, {}); !ok) {
      return failed(worker, ok.error(), "blob upload", station_id, info.correlation_id);
    }
    auto answer = service::put_blob_chunk(
        worker.db, station_id,
        BlobChunkIn{request.sha256(), request.total_bytes(), request.content_type(),
                    request.offset(), request.data()});
    if (!answer)
      return failed(worker, answer.error(), "blob upload", station_id, info.correlation_id);
    response.set_received_bytes(answer->state.received_bytes);
    response.set_complete(answer->state.complete);
    response.set_max_bytes(deps_.max_blob_bytes);
    if (answer->hash_mismatch) {
      deps_.metrics->count_blob(BlobEvent::hash_mismatch);
      spdlog::warn("blob {} from station={} did not hash to its name: discarded correlation_id={}",
                   request.sha256(), base::log_safe(station_id), info.correlation_id);
      return {grpc::StatusCode::DATA_LOSS,
              "the bytes received do not hash to " + request.sha256() +
                  "; they were discarded, send the blob again (correlation id " +
                  info.correlation_id + ")"};
    }
    deps_.metrics->count_blob(BlobEvent::chunk, request.data().size());
    if (answer->state.complete &&
        request.offset() + request.data().size() == request.total_bytes()) {
      deps_.metrics->count_blob(BlobEvent::completed);
      spdlog::info("blob {} complete ({} bytes, {}) station={} correlation_id={}", request.sha256(),
                   request.total_bytes(), base::log_safe(request.content_type(), 100),
                   base::log_safe(station_id), info.correlation_id);
    }
    return grpc::Status::OK;
  }

  grpc::Status report_blob_lost(WorkerContext& worker, const CallInfo& info,
                                const pb::BlobLost& request, pb::BlobLostResponse& /*response*/) {
    const std::string& station_id = request.station_id();
    if (auto ok = authorize(worker, info, station_id, {}); !ok) {
      return failed(worker, ok.error(), "blob lost", station_id, info.correlation_id);
    }
    if (auto recorded =
            record_blob_lost(worker.db, station_id, request.sha256(), request.idempotency_key(),
                             request.seq(), request.reason());
        !recorded) {
      return failed(worker, recorded.error(), "blob lost", station_id, info.correlation_id);
    }
    deps_.metrics->count_blob(BlobEvent::lost);
    spdlog::warn(
        "station={} could not send blob {} of record seq={} idempotency_key={}: {} "
        "correlation_id={}",
        base::log_safe(station_id), request.sha256(), request.seq(),
        base::log_safe(request.idempotency_key()), base::log_safe(request.reason(), 300),
        info.correlation_id);
    return grpc::Status::OK;
  }

  SyncServiceDeps deps_;
  OrderGate order_;
};

}  // namespace

std::unique_ptr<grpc::Service> make_sync_service(SyncServiceDeps deps) {
  return std::make_unique<SyncServiceImpl>(std::move(deps));
}

}  // namespace weighlink::service
