// Pipelined replay against the real backend: one station's batches sent without waiting for the
// previous answer (the agent's window, sync/replay.hpp) apply exactly once and in seq order; the
// per-station order gate (backend/service/src/order_gate.cpp) keeps a batch from taking the
// station's lock before its predecessor on the worker pool.
#include "backend_fixture.hpp"

using namespace backend_fixture;

namespace {

// A Replay call started on `stub` and not awaited yet.
struct Pending {
  grpc::ClientContext context;
  pb::ReplayRequest request;
  pb::ReplayResponse response;
  std::promise<grpc::Status> done;
};

std::unique_ptr<Pending> start_replay(pb::SyncService::Stub& stub, const std::string& token,
                                      pb::ReplayRequest request) {
  auto call = std::make_unique<Pending>();
  call->context.set_deadline(std::chrono::system_clock::now() + 30s);
  call->context.AddMetadata("authorization", "Bearer " + token);
  call->request = std::move(request);
  auto* c = call.get();
  stub.async()->Replay(&c->context, &c->request, &c->response,
                       [c](grpc::Status status) { c->done.set_value(std::move(status)); });
  return call;
}

std::vector<pb::Mutation> weighings(std::uint64_t first, std::uint64_t count) {
  std::vector<pb::Mutation> mutations;
  for (auto seq = first; seq < first + count; ++seq) {
    mutations.push_back(weighing("st1", seq, "k" + std::to_string(seq), std::to_string(seq)));
  }
  return mutations;
}

}  // namespace

TEST_CASE_FIXTURE(ServedStation,
                  "replay pipelined: batches of one station in flight at once apply exactly once, "
                  "in order") {
  auto channel = grpc::CreateChannel(backend.grpc(), grpc::InsecureChannelCredentials());
  auto stub = pb::SyncService::NewStub(channel);
  // The first batch alone, as the agent's window starts at one.
  const auto first = replay(weighings(1, 5));
  REQUIRE(first.watermark().high_water_seq() == 5);
  constexpr std::uint64_t kBatch = 5;
  constexpr int kRounds = 20;
  std::uint64_t next = 6;
  int gaps = 0;
  for (int round = 0; round < kRounds; ++round) {
    // Three calls in flight on one channel, as a window of three sends them.
    const auto round_first = next;
    std::vector<std::unique_ptr<Pending>> calls;
    for (int i = 0; i < 3; ++i) {
      calls.push_back(start_replay(*stub, token, batch("st1", weighings(next, kBatch))));
      next += kBatch;
    }
    std::uint64_t expected = 0;
    for (auto& call : calls) {
      const auto status = call->done.get_future().get();
      REQUIRE_MESSAGE(status.ok(), status.error_message());
      const auto& res = call->response;
      INFO("round ", round, " batch from seq ", call->request.mutations(0).seq());
      if (res.expected_seq() != 0) {
        // Overtaken after all (the gate's waits are bounded): nothing of it applied, and the
        // backend names the seq it needs, as the agent's rewind expects.
        CHECK(res.results_size() == 0);
        CHECK(res.expected_seq() <= call->request.mutations(0).seq());
        if (expected == 0) expected = res.expected_seq();
        ++gaps;
        continue;
      }
      REQUIRE(res.results_size() == static_cast<int>(kBatch));
      for (const auto& r : res.results()) CHECK(r.outcome() == pb::APPLIED);
    }
    if (expected != 0) {
      // What the agent does after a gap: re-send from expected_seq, one call at a time.
      REQUIRE(expected >= round_first);
      for (auto seq = expected; seq < next; seq += kBatch) {
        const auto again = replay(weighings(seq, kBatch));
        CHECK(again.expected_seq() == 0);
        for (const auto& r : again.results()) {
          CHECK((r.outcome() == pb::APPLIED || r.outcome() == pb::DUPLICATE));
        }
      }
    }
  }
  MESSAGE(gaps, " of ", 3 * kRounds, " pipelined calls answered with a gap");
  const auto total = std::to_string(next - 1);
  CHECK(rows_of(pg, "st1") == total);
  CHECK(pg.query_scalar("select count(*) from weighings where station_id='st1'") == total);
  CHECK(pg.query_scalar("select count(distinct seq) from mutation_log where station_id='st1'") ==
        total);
  CHECK(pg.query_scalar("select high_water_seq from stations where id='st1'") == total);
}
