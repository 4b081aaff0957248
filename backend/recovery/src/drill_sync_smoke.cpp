// The drill's sync smoke over the generated gRPC stub: what an agent does first against a
// restored backend (Hello, a mutation, its re-send), with a deadline on every call.
#include <grpcpp/grpcpp.h>

#include "drill_probes.hpp"
#include "weighlink/sync/v1/sync.grpc.pb.h"

namespace weighlink::recovery {
namespace {

namespace pb = weighlink::sync::v1;

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string describe(const grpc::Status& status) {
  return "gRPC status " + std::to_string(static_cast<int>(status.error_code())) + " (" +
         status.error_message() + ")";
}

std::string describe(const pb::Watermark& w) {
  return "high_water_seq " + std::to_string(w.high_water_seq()) + ", durable_seq " +
         std::to_string(w.durable_seq()) + ", generation " +
         (w.generation().empty() ? std::string("none") : w.generation());
}

class Smoke {
 public:
  explicit Smoke(const SmokeTarget& target)
      : target_(target),
        stub_(pb::SyncService::NewStub(
            grpc::CreateChannel(target.grpc_address, grpc::InsecureChannelCredentials()))) {}

  SmokeResult run() {
    if (!hello() || !replay("replay", pb::APPLIED) || !replay("re-send", pb::DUPLICATE)) {
      return result_;
    }
    result_.detail = "Hello, a " + target_.kind +
                     " mutation APPLIED, its re-send DUPLICATE of APPLIED, generation " +
                     generation_;
    return result_;
  }

 private:
  void prepare(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + target_.call_timeout);
    context.AddMetadata("authorization", "Bearer " + target_.token);
  }

  bool fail(std::string call, std::string detail) {
    result_.failed_call = std::move(call);
    result_.detail = result_.failed_call + ": " + std::move(detail);
    return false;
  }

  // The watermark carries a generation, the restore's when it is known.
  bool check_generation(const std::string& call, const pb::Watermark& w) {
    if (w.generation().empty()) {
      return fail(call, "the watermark carries no generation (" + describe(w) +
                            "): agents could not notice the restore");
    }
    if (!target_.generation.empty() && w.generation() != target_.generation) {
      return fail(call, "the watermark's generation " + w.generation() +
                            " is not the one the restore set (" + target_.generation + ")");
    }
    generation_ = w.generation();
    return true;
  }

  bool hello() {
    grpc::ClientContext context;
    prepare(context);
    pb::HelloRequest request;
    request.set_station_id(target_.station_id);
    request.set_agent_version(std::string("weighlink-backend drill ") + WEIGHLINK_VERSION);
    pb::HelloResponse response;
    const auto status = stub_->Hello(&context, request, &response);
    if (!status.ok()) return fail("Hello", describe(status));
    if (!check_generation("Hello", response.watermark())) return false;
    result_.passed.push_back("Hello: " + describe(response.watermark()));
    return true;
  }

  // One Replay of the same mutation; its result must be `expected` (a DUPLICATE must carry the
  // original outcome APPLIED) and the high water 1.
  bool replay(const std::string& call, pb::Outcome expected) {
    grpc::ClientContext context;
    prepare(context);
    pb::ReplayRequest request;
    request.set_station_id(target_.station_id);
    auto& m = *request.add_mutations();
    m.set_station_id(target_.station_id);
    m.set_idempotency_key(target_.station_id + "-1");
    m.set_seq(1);
    m.set_kind(target_.kind);
    m.set_payload_json("{}");
    if (created_at_ms_ == 0) created_at_ms_ = now_unix_ms();
    m.set_created_at_unix_ms(created_at_ms_);
    pb::ReplayResponse response;
    const auto status = stub_->Replay(&context, request, &response);
    if (!status.ok()) return fail(call, describe(status));
    if (response.results_size() != 1) {
      return fail(call, std::to_string(response.results_size()) +
                            " results for one mutation (expected_seq " +
                            std::to_string(response.expected_seq()) + ")");
    }
    const auto& r = response.results(0);
    if (r.outcome() != expected ||
        (expected == pb::DUPLICATE && r.original_outcome() != pb::APPLIED)) {
      return fail(
          call, "expected " + pb::Outcome_Name(expected) +
                    (expected == pb::DUPLICATE ? " of APPLIED" : "") + ", got " +
                    pb::Outcome_Name(r.outcome()) +
                    (r.outcome() == pb::DUPLICATE ? " of " + pb::Outcome_Name(r.original_outcome())
                                                  : "") +
                    (r.reason().empty() ? "" : " (" + r.reason() + ")"));
    }
    if (response.watermark().high_water_seq() != 1) {
      return fail(call,
                  "the high water is not 1 after seq 1 (" + describe(response.watermark()) + ")");
    }
    if (!check_generation(call, response.watermark())) return false;
    result_.passed.push_back(call + ": " + pb::Outcome_Name(r.outcome()) + ", " +
                             describe(response.watermark()));
    return true;
  }

  const SmokeTarget& target_;
  std::unique_ptr<pb::SyncService::Stub> stub_;
  SmokeResult result_;
  std::string generation_;
  std::int64_t created_at_ms_ = 0;
};

}  // namespace

SmokeResult smoke_sync_service(const SmokeTarget& target) { return Smoke(target).run(); }

}  // namespace weighlink::recovery
