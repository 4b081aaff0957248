// bench_replay, part 2's simulated station: the agent's replay worker over an in-memory backlog.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "replay_bench.hpp"
#include "weighlink/base/backoff.hpp"
#include "weighlink/proto/trailers.hpp"
#include "weighlink/sync/replay.hpp"

namespace weighlink::bench::replay {
namespace {

namespace pb = weighlink::sync::v1;

constexpr auto kCallDeadline = std::chrono::seconds(5);  // the agent's call_deadline

// A capture-shaped payload like the agent's (agent/src/core/captures.cpp: a static weighing with
// eight evidence frames and a reference), different for every station and seq.
std::string fanin_payload(const std::string& station, std::uint64_t seq) {
  const unsigned long long weight = 20000 + (seq * 37) % 30000;
  const unsigned long long reading = 1000 + seq * 11;
  char frames[1400];
  int used = 0;
  for (int f = 0; f < 8; ++f) {
    used += std::snprintf(frames + used, sizeof frames - static_cast<std::size_t>(used),
                          R"j(%s{"seq":%llu,"ts":"2026-11-21T15:47:18.%03dZ","weight":"%llu",)j"
                          R"j("stable":true,"raw":"\u0002*0 0%05llu000000\r)"})j",
                          f ? "," : "", reading - 7 + static_cast<unsigned long long>(f),
                          100 * f + 17, weight, weight);
  }
  char buf[2400];
  const int len = std::snprintf(
      buf, sizeof buf,
      R"({"station_id":"%s","type":"static","scale":"main","weight":"%llu","unit":"kg",)"
      R"("mode":"gross","tare":"0","reading_seq":%llu,"reading_ts":"2026-11-21T15:47:18.919Z",)"
      R"j("protocol":"mt-continuous","raw":"\u0002*0 0%05llu000000\r)","operator":"op-0193",)j"
      R"("agent_version":"0.1.0","captured_at":"2026-11-21T15:47:18.923Z",)"
      R"("reference":{"ticket":"T-2026-%06llu","vehicle":"KCY 482H","trailer":"ZF 7731",)"
      R"("transporter":"Mombasa Freight Ltd","commodity":"cement, bagged","permit":"AL-88812"},)"
      R"("evidence":{"frames":[%s],"stale_after_ms":1000}})",
      station.c_str(), weight, reading, weight, static_cast<unsigned long long>(seq), frames);
  return std::string(buf, static_cast<std::size_t>(std::max(len, 0)));
}

// The mutation the station holds at `seq`, as the agent's worker sends it (fill_typed).
void fill_mutation(pb::Mutation& m, const std::string& station, std::uint64_t seq) {
  m.set_station_id(station);
  m.set_idempotency_key(station + "-" + std::to_string(seq));
  m.set_seq(seq);
  m.set_kind("weighing.captured");
  m.set_payload_json(fanin_payload(station, seq));
  m.set_created_at_unix_ms(1'795'276'038'923 + static_cast<std::int64_t>(seq) * 1000);
  auto* w = m.mutable_weighing_captured();
  const unsigned long long weight = 20000 + (seq * 37) % 30000;
  char raw[32];
  std::snprintf(raw, sizeof raw, "\x02*0 0%05llu000000\r)", weight);
  w->set_scale("main");
  w->set_weight(std::to_string(weight));
  w->set_unit("kg");
  w->set_mode("gross");
  w->set_tare("0");
  w->set_reading_seq(1000 + seq * 11);
  w->set_reading_ts("2026-11-21T15:47:18.919Z");
  w->set_raw(raw);
  w->set_operator_id("op-0193");
  w->set_agent_version("0.1.0");
}

// grpc::StatusCode's names, in the order of their values.
constexpr const char* kCodeNames[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

struct Trailers {
  std::optional<std::uint64_t> retry_after_ms;
  std::optional<std::uint64_t> max_batch;
};

Trailers read_trailers(const grpc::ClientContext& ctx) {
  Trailers t;
  for (const auto& [k, v] : ctx.GetServerTrailingMetadata()) {
    const std::string key(k.data(), k.size());
    try {
      if (key == proto::kRetryAfterTrailer) t.retry_after_ms = std::stoull({v.data(), v.size()});
      if (key == proto::kMaxBatchTrailer) t.max_batch = std::stoull({v.data(), v.size()});
    } catch (const std::exception&) {
    }
  }
  return t;
}

}  // namespace

std::string code_name(grpc::StatusCode code) {
  const auto i = static_cast<std::size_t>(code);
  return i < std::size(kCodeNames) ? kCodeNames[i]
                                   : "code " + std::to_string(static_cast<int>(code));
}

CallCounts& CallCounts::operator+=(const CallCounts& other) {
  for (const auto& [code, count] : other.hello_errors) hello_errors[code] += count;
  for (const auto& [code, count] : other.replay_errors) replay_errors[code] += count;
  hello_calls += other.hello_calls;
  replay_calls += other.replay_calls;
  replay_ok += other.replay_ok;
  applied += other.applied;
  duplicates += other.duplicates;
  rejected += other.rejected;
  retry_after_hints += other.retry_after_hints;
  for (const auto& [k, v] : other.messages) messages.try_emplace(k, v);
  return *this;
}

// The agent's worker loop (sync/src/replay_grpc.cpp) over an in-memory backlog of seqs 1..total.
void run_station(const StationPlan& plan, pb::SyncService::Stub& stub,
                 const Clock::time_point& start, std::latch& go, std::atomic<std::uint64_t>& acked,
                 StationResult& r) {
  const std::string& station = plan.station;
  const std::uint64_t total = plan.total;
  auto& calls = r.calls;
  sync::AdaptiveBatch batch(plan.max_batch, 50);
  const base::BackoffPolicy policy;
  std::mt19937 rng(static_cast<std::uint32_t>(std::hash<std::string>{}(station)));
  std::uint64_t next = 1;  // the first seq not acknowledged
  std::uint32_t attempt = 0;
  bool need_hello = true;
  std::chrono::milliseconds retry_after{0};
  const auto context = [&] {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    ctx->AddMetadata("authorization", "Bearer " + plan.token);
    return ctx;
  };
  const auto failed = [&](const char* call, const grpc::ClientContext& ctx,
                          const grpc::Status& status,
                          std::map<grpc::StatusCode, std::uint64_t>& errors) {
    const auto code = status.error_code();
    ++errors[code];
    calls.messages.try_emplace(std::string(call) + " " + code_name(code), status.error_message());
    if (code != grpc::StatusCode::DEADLINE_EXCEEDED &&
        code != grpc::StatusCode::RESOURCE_EXHAUSTED) {
      return;
    }
    batch.on_pressure();
    const auto t = read_trailers(ctx);
    if (t.max_batch) {
      ++r.max_batch_trailers;
      batch.on_limit(*t.max_batch);
    }
    if (t.retry_after_ms) {
      ++calls.retry_after_hints;
      retry_after = std::chrono::milliseconds(std::min<std::uint64_t>(*t.retry_after_ms, 60'000));
    }
  };
  go.arrive_and_wait();
  while (next <= total) {
    if (g_stop || Clock::now() > plan.deadline) return;
    std::optional<grpc::StatusCode> failure;
    if (need_hello) {
      pb::HelloRequest req;
      req.set_station_id(station);
      req.set_agent_version("bench");
      req.set_acknowledged_seq(next - 1);
      req.set_last_seq(total);
      pb::HelloResponse res;
      auto ctx = context();
      ++calls.hello_calls;
      const auto status = stub.Hello(ctx.get(), req, &res);
      if (status.ok()) {
        need_hello = false;
        // A restore: re-send what the backend lost. (Never skips ahead: a re-send of what it
        // holds is answered DUPLICATE.)
        next = std::min<std::uint64_t>(next, res.watermark().high_water_seq() + 1);
      } else {
        failure = status.error_code();
        failed("Hello", *ctx, status, calls.hello_errors);
      }
    }
    if (!failure) {
      const std::size_t size = plan.fixed_batch ? plan.fixed_batch : batch.size();
      const std::uint64_t last = std::min<std::uint64_t>(total, next + size - 1);
      pb::ReplayRequest req;
      req.set_station_id(station);
      for (std::uint64_t seq = next; seq <= last; ++seq) {
        fill_mutation(*req.add_mutations(), station, seq);
      }
      const auto sent = static_cast<std::size_t>(last - next + 1);
      pb::ReplayResponse res;
      auto ctx = context();
      ++calls.replay_calls;
      const auto t0 = Clock::now();
      const auto status = stub.Replay(ctx.get(), req, &res);
      const auto latency = Clock::now() - t0;
      if (!status.ok()) {
        failure = status.error_code();
        failed("Replay", *ctx, status, calls.replay_errors);
      } else {
        ++calls.replay_ok;
        r.ok_latency_ms.push_back(std::chrono::duration<double, std::milli>(latency).count());
        batch.on_answer(sent, std::chrono::duration_cast<std::chrono::milliseconds>(latency));
        std::uint64_t done = next - 1;
        for (const auto& result : res.results()) {
          switch (result.outcome()) {
            case pb::APPLIED:
              ++calls.applied;
              break;
            case pb::DUPLICATE:
              ++calls.duplicates;
              break;
            default:
              ++calls.rejected;
              break;
          }
          done = std::max<std::uint64_t>(done, result.seq());
        }
        if (res.expected_seq() != 0 && res.expected_seq() <= next) {
          done = res.expected_seq() - 1;
        }
        if (res.results_size() == 0 && res.expected_seq() == 0) {
          failure = grpc::StatusCode::UNKNOWN;  // an empty answer: never seen; retried
          ++calls.replay_errors[grpc::StatusCode::UNKNOWN];
        }
        if (done > next - 1) acked += done - (next - 1);
        next = done + 1;
        r.high_water = res.watermark().high_water_seq();
      }
    }
    if (failure) {
      ++attempt;
      // As the agent: after an overload refusal the Replay is retried without a new Hello.
      if (*failure != grpc::StatusCode::RESOURCE_EXHAUSTED) need_hello = true;
      const auto delay =
          std::max(base::backoff_delay(policy, attempt - 1, static_cast<std::uint32_t>(rng())),
                   std::exchange(retry_after, std::chrono::milliseconds(0)));
      r.waited_s += std::chrono::duration<double>(delay).count();
      std::this_thread::sleep_for(delay);
      continue;
    }
    attempt = 0;
  }
  r.finish_s = seconds_since(start);
  r.final_batch = plan.fixed_batch ? plan.fixed_batch : batch.size();
}

}  // namespace weighlink::bench::replay
