// The gRPC adapter of the replay worker: turns outbox rows into SyncService calls and the
// answers back into outbox state. Generated protobuf types stay in this file.
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "weighlink/base/hash.hpp"
#include "weighlink/base/log_text.hpp"
#include "weighlink/record/typed_payload.hpp"
#include "weighlink/sync/replay.hpp"
#include "weighlink/sync/v1/sync.grpc.pb.h"

namespace weighlink::sync {
namespace {

namespace pb = weighlink::sync::v1;
using Clock = std::chrono::steady_clock;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Known kinds travel typed as well; the JSON stays the source of truth for hashing and
// signatures (typed_payload.hpp).
void fill_typed(const OutboxRow& row, pb::Mutation& m) {
  if (row.kind != "weighing.captured") return;
  pb::WeighingCaptured typed;
  if (weighing_from_payload(row.payload_json, typed)) *m.mutable_weighing_captured() = typed;
}

class GrpcReplayWorker final : public ReplayWorker {
 public:
  GrpcReplayWorker(ReplayConfig config, Outbox& outbox)
      : config_(std::move(config)),
        outbox_(outbox),
        batch_(config_.batch_size, config_.initial_batch),
        rng_(std::random_device{}()) {
    status_.state = config_.backends.empty() ? UplinkState::disabled : UplinkState::connecting;
    if (!config_.backends.empty()) status_.backend = config_.backends.front();
  }
  ~GrpcReplayWorker() override { stop(); }

  void start() override {
    if (config_.backends.empty() || thread_.joinable()) return;
    thread_ = std::thread([this] { run(); });
  }

  void stop() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

  void notify() override {
    std::lock_guard lock(mu_);
    wake_ = true;
    cv_.notify_all();
  }

  UplinkStatus status() const override {
    std::lock_guard lock(mu_);
    return status_;
  }

 private:
  struct CallError {
    grpc::StatusCode code;
    std::string message;
    // Isolating a mutation that fails whole calls: the next call goes out at once (the backend
    // answered promptly; it is not overloaded).
    bool isolating = false;
  };

  // At most this many mutations withheld in a row without the backend answering another mutation
  // in between: a backend that fails every call of some kind is broken, not fed one bad mutation,
  // and must not empty the queue into dead letters. Then the queue waits (the stuck alarm).
  static constexpr std::uint32_t kMaxWithheldInARow = 3;

  void run() {
    std::uint32_t attempt = 0;
    std::size_t backend_index = 0;
    bool need_hello = true;
    Clock::time_point last_hello{};
    while (!stopping()) {
      const std::string& address = config_.backends[backend_index % config_.backends.size()];
      if (!stub_ || channel_address_ != address) {
        channel_ = make_channel(address);
        stub_ = pb::SyncService::NewStub(channel_);
        channel_address_ = address;
        set_state(UplinkState::connecting, address, {});
      }

      check_stuck();
      std::optional<CallError> failure;
      bool idle = false;
      const bool hello_due = need_hello || Clock::now() - last_hello >= config_.hello_interval;
      // Hello compares the backend's high water with what is recorded here: settle first.
      if (hello_due) failure = settle_marking();
      if (!failure && hello_due) {
        failure = hello();
        if (!failure) {
          need_hello = false;
          last_hello = Clock::now();
        }
      }
      if (!failure) {
        auto sent = replay_batch();
        if (!sent) {
          failure = sent.error();
        } else {
          idle = *sent == 0;
        }
      }

      if (failure) {
        (void)settle_marking();
        ++attempt;
        // An overloaded backend (RESOURCE_EXHAUSTED) is still the one we said Hello to: another
        // Hello would only take a place in its full queue. Anything else may be another backend,
        // or one restored from a backup meanwhile: say Hello first.
        if (failure->code != grpc::StatusCode::RESOURCE_EXHAUSTED) need_hello = true;
        if (failure->code == grpc::StatusCode::UNAVAILABLE ||
            failure->code == grpc::StatusCode::DEADLINE_EXCEEDED) {
          ++backend_index;  // try the next backend address, if any
          // A call that timed out may sit on a connection that went silent (a middlebox lost
          // it, the host vanished behind a proxy): nothing would ever close it. Start afresh.
          stub_.reset();
          channel_.reset();
        }
        if (failure->code == grpc::StatusCode::UNAUTHENTICATED) reload_token();
        record_failure(*failure);
        if (failure->isolating) {
          attempt = 0;
          continue;
        }
        const auto delay = std::max(
            backoff_delay(config_.backoff, attempt - 1, static_cast<std::uint32_t>(rng_())),
            std::exchange(retry_after_, std::chrono::milliseconds(0)));
        wait_for(delay, /*wake_on_notify=*/false);
        continue;
      }
      attempt = 0;
      if (idle) {
        // Everything sent is answered and recorded; the next look starts from the oldest pending
        // row again (a dead-letter retried meanwhile sits below what was sent).
        (void)settle_marking();
        const auto until_hello = config_.hello_interval - (Clock::now() - last_hello);
        wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(until_hello), true);
      }
    }
    (void)settle_marking();
  }

  // Waits for the previous batch's answers to be recorded (mark_results runs while the next batch
  // is on its way); from then on the next batch starts at the oldest pending row again. An error
  // leaves those rows pending: they are sent again and the backend answers DUPLICATE.
  std::optional<CallError> settle_marking() {
    sent_through_ = 0;
    if (!marking_.valid()) return std::nullopt;
    if (auto r = marking_.get(); !r) {
      spdlog::error("cannot record the backend's answers in the outbox: {}", r.error().message());
      return CallError{grpc::StatusCode::INTERNAL,
                       "cannot record the backend's answers in the outbox: " + r.error().message()};
    }
    return std::nullopt;
  }

  // A channel of its own (not shared through gRPC's global subchannel pool, so dropping it
  // really drops its connection), whose reconnect backoff is the agent's: gRPC's default grows to
  // 120 s, and every call in between would fail without trying the backend.
  std::shared_ptr<grpc::Channel> make_channel(const std::string& address) const {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    const int cap = static_cast<int>(std::max<std::int64_t>(config_.backoff.cap.count(), 100));
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::min(200, cap));
    // gRPC also takes this as the time a connection attempt may take (TCP, TLS, HTTP/2 settings):
    // as long as a call may, so that a slow link (a satellite hop, a congested modem) still
    // connects, and a silent one is left after one call deadline.
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
                static_cast<int>(std::max<std::int64_t>(config_.call_deadline.count(), 1000)));
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, cap);
    if (!config_.tls.enabled) {
      return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = config_.tls.root_certs;
    ssl.pem_cert_chain = config_.tls.cert_chain;
    ssl.pem_private_key = config_.tls.private_key;
    if (!config_.tls.server_name.empty()) {
      args.SetSslTargetNameOverride(config_.tls.server_name);
    }
    return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
  }

  std::unique_ptr<grpc::ClientContext> context() const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + config_.call_deadline);
    ctx->AddMetadata("authorization", "Bearer " + config_.token);
    return ctx;
  }

  std::optional<CallError> hello() {
    pb::HelloRequest req;
    req.set_station_id(config_.station_id);
    req.set_agent_version(config_.agent_version);
    const auto stats = outbox_.stats();
    req.set_acknowledged_seq(stats.acknowledged_seq);
    req.set_last_seq(stats.last_seq);
    pb::HelloResponse res;
    auto ctx = context();
    const auto status = stub_->Hello(ctx.get(), req, &res);
    if (!status.ok()) return CallError{status.error_code(), status.error_message()};
    apply_watermark(res.watermark(), stats.acknowledged_seq);
    // An agent reinstalled on a known station continues the numbering above the backend's (and
    // renumbers what it queued offline before it first reached the backend). Only here: a Replay
    // answer's high water never passes what this outbox numbered. Until it is done, no Replay.
    if (auto r = outbox_.continue_above(res.watermark().high_water_seq()); !r) {
      return CallError{grpc::StatusCode::INTERNAL,
                       "cannot continue the outbox's numbering above seq " +
                           std::to_string(res.watermark().high_water_seq()) + ": " +
                           r.error().message() + "; check the disk holding the outbox"};
    }
    prune(res.watermark().durable_seq());
    return std::nullopt;
  }

  // The backend's view of this station; re-sends what a restore lost.
  void apply_watermark(const pb::Watermark& wm, std::uint64_t local_acknowledged) {
    if (auto from = rewind_point(wm.high_water_seq(), local_acknowledged)) {
      auto n = outbox_.rewind_above(*from);
      spdlog::warn(
          "backend {} holds this station only up to seq {} (generation {}) but {} was "
          "acknowledged: re-sending {} mutations",
          channel_address_, wm.high_water_seq(), wm.generation(), local_acknowledged, n ? *n : 0);
    }
    std::lock_guard lock(mu_);
    status_.high_water_seq = wm.high_water_seq();
    status_.durable_seq = wm.durable_seq();
    if (!status_.generation.empty() && status_.generation != wm.generation()) {
      spdlog::warn("backend generation changed from {} to {}: the database was restored",
                   status_.generation, wm.generation());
    }
    status_.generation = wm.generation();
    status_.state = UplinkState::online;
    status_.backend = channel_address_;
    status_.last_error.clear();
    status_.consecutive_failures = 0;
    status_.last_sync_ms = now_ms();
  }

  // Acknowledged rows the backend holds in a verified backup, old enough, leave the outbox.
  void prune(std::uint64_t durable_seq) {
    if (durable_seq == 0 || durable_seq <= pruned_through_) return;
    auto r = outbox_.prune(durable_seq, now_ms() - config_.min_retention.count());
    if (!r) {
      spdlog::warn("outbox: pruning up to seq {} failed: {}", durable_seq, r.error().message());
      return;
    }
    if (r->rows > 0) {
      spdlog::info("outbox: pruned {} acknowledged mutations up to seq {} (backend durable_seq {})",
                   r->rows, r->anchor_seq, durable_seq);
    }
    // Rows kept for their age are looked at again at the next Hello.
    if (r->anchor_seq >= durable_seq) pruned_through_ = durable_seq;
  }

  // The rows of the next call: markers first (the seqs the backend needs that are dead letters
  // here, or the one being withheld), then pending rows above them, at most `limit` in all.
  std::vector<OutboxRow> next_rows(std::size_t limit, std::set<std::uint64_t>& markers) {
    std::vector<OutboxRow> rows;
    if (withholding_) {
      auto found = outbox_.list(std::nullopt, withholding_->seq - 1, 1);
      if (found.empty() || found.front().seq != withholding_->seq ||
          found.front().state != MutationState::pending) {
        withholding_.reset();  // released or changed meanwhile
      } else {
        markers.insert(found.front().seq);
        rows.push_back(std::move(found.front()));
        return rows;  // alone: its answer decides whether it is withheld
      }
    }
    std::uint64_t after = sent_through_;
    if (expected_ && *expected_ > 0) {
      for (auto& row : outbox_.list(std::nullopt, *expected_ - 1, limit)) {
        if (row.state != MutationState::dead && row.state != MutationState::discarded) break;
        after = row.seq;
        markers.insert(row.seq);
        rows.push_back(std::move(row));
      }
    }
    if (rows.size() < limit) {
      for (auto& row : outbox_.list(MutationState::pending, after, limit - rows.size())) {
        rows.push_back(std::move(row));
      }
    }
    return rows;
  }

  // A marker in place of a mutation the backend cannot be given (sync.proto, withheld_reason):
  // the seq and the chain fields as recorded, no payload, the payload's hash as the backend
  // computes it.
  static void fill_marker(const OutboxRow& row, const std::string& reason, pb::Mutation& m) {
    m.set_payload_json("");
    m.clear_weighing_captured();
    m.set_withheld_reason(reason.substr(0, 200));
    m.set_withheld_payload_sha256(sha256_hex(row.kind + "\n" + row.payload_json));
  }

  // Sends one batch; returns how many mutations were sent (0 = nothing pending).
  boost::system::result<std::size_t, CallError> replay_batch() {
    std::size_t limit = batch_.size();
    if (auto cap = isolation_.limit()) limit = std::min(limit, *cap);
    std::set<std::uint64_t> markers;
    // Above what the previous batch sent: its answers may still be being recorded.
    const auto rows = next_rows(limit, markers);
    if (rows.empty()) return std::size_t{0};
    pb::ReplayRequest req;
    req.set_station_id(config_.station_id);
    for (const auto& row : rows) {
      auto* m = req.add_mutations();
      m->set_station_id(config_.station_id);
      m->set_idempotency_key(row.idempotency_key);
      m->set_seq(row.seq);
      m->set_kind(row.kind);
      m->set_payload_json(row.payload_json);
      m->set_created_at_unix_ms(row.created_at_ms);
      m->set_prev_hash(row.prev_hash);
      m->set_record_hash(row.record_hash);
      m->set_signature(row.signature);
      if (markers.contains(row.seq)) {
        fill_marker(row,
                    withholding_ ? withholding_->reason
                    : row.state == MutationState::discarded
                        ? "discarded at the agent: " + row.discard_reason
                        : "a dead letter at the agent: " + row.last_error,
                    *m);
      } else {
        fill_typed(row, *m);
      }
    }
    pb::ReplayResponse res;
    auto ctx = context();
    {
      std::lock_guard lock(mu_);
      status_.in_flight = rows.size();
    }
    const auto started = Clock::now();
    const auto status = stub_->Replay(ctx.get(), req, &res);
    {
      std::lock_guard lock(mu_);
      status_.in_flight = 0;
      status_.batch_size = batch_.size();
    }
    if (!status.ok()) {
      adapt_to_failure(*ctx, status);
      std::vector<std::uint64_t> seqs;
      for (const auto& row : rows) seqs.push_back(row.seq);
      (void)outbox_.mark_attempt_failed(seqs, status.error_message());
      return isolate(rows, markers, status);
    }
    batch_.on_answer(rows.size(),
                     std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started));
    isolation_.on_answer(rows.back().seq);
    const bool held_already_applied = withholding_ && res.results_size() > 0 &&
                                      res.results(0).seq() == withholding_->seq &&
                                      res.results(0).outcome() == pb::DUPLICATE &&
                                      res.results(0).original_outcome() == pb::APPLIED;
    if (held_already_applied) {
      // The backend had applied the mutation itself (an answer lost before the calls began to
      // fail): acknowledged, nothing withheld.
      const MutationOutcome done{withholding_->seq, MutationOutcome::Kind::duplicate, ""};
      if (auto r = outbox_.mark_results(std::span(&done, 1), now_ms()); !r) {
        return CallError{
            grpc::StatusCode::INTERNAL,
            "cannot record the backend's answer in the outbox: " + r.error().message()};
      }
    } else if (withholding_ && res.results_size() > 0 &&
               res.results(0).seq() == withholding_->seq) {
      // The backend recorded the marker: the seq is counted, the rows behind it flow on. The
      // mutation stays here as a dead letter with why.
      const MutationOutcome dead{withholding_->seq, MutationOutcome::Kind::rejected,
                                 withholding_->reason};
      if (auto r = outbox_.mark_results(std::span(&dead, 1), now_ms()); !r) {
        return CallError{grpc::StatusCode::INTERNAL,
                         "cannot record a withheld mutation in the outbox: " + r.error().message()};
      }
      spdlog::error(
          "withheld mutation seq {} key {} as a dead letter: {}; the rows behind it flow on "
          "(inspect it with `weighlink-agent outbox show {}`, then retry or discard it)",
          withholding_->seq, log_safe(rows.front().idempotency_key), log_safe(withholding_->reason),
          withholding_->seq);
      std::lock_guard lock(mu_);
      ++status_.withheld;
    }
    withholding_.reset();
    std::vector<MutationOutcome> outcomes;
    for (const auto& r : res.results()) {
      // A marker's answer changes nothing here: the row keeps its own reason and state.
      if (markers.contains(r.seq())) continue;
      withheld_in_a_row_ = 0;
      MutationOutcome o;
      o.seq = r.seq();
      o.reason = r.reason();
      const auto effective = r.outcome() == pb::DUPLICATE ? r.original_outcome() : r.outcome();
      if (effective == pb::REJECTED) {
        o.kind = MutationOutcome::Kind::rejected;
        spdlog::warn("backend rejected mutation seq {} key {}: {} (moved to dead letters)", r.seq(),
                     log_safe(r.idempotency_key()), log_safe(r.reason()));
      } else {
        o.kind = r.outcome() == pb::DUPLICATE ? MutationOutcome::Kind::duplicate
                                              : MutationOutcome::Kind::applied;
      }
      outcomes.push_back(std::move(o));
    }
    // The previous batch's answers are recorded before this one's: one order on disk.
    if (auto e = settle_marking()) return *e;
    expected_.reset();
    if (res.expected_seq() != 0) expected_ = res.expected_seq();
    if (res.expected_seq() != 0 || res.results_size() != static_cast<int>(rows.size()) ||
        !markers.empty()) {
      // Stopped at a gap: recorded now, and the next batch starts at the oldest pending row.
      if (auto r = outbox_.mark_results(outcomes, now_ms()); !r) {
        return CallError{
            grpc::StatusCode::INTERNAL,
            "cannot record the backend's answers in the outbox: " + r.error().message()};
      }
      if (res.expected_seq() != 0 && res.expected_seq() <= rows.front().seq) {
        // The backend misses earlier mutations (restored from a backup): re-send from there.
        auto n = outbox_.rewind_above(res.expected_seq() - 1);
        spdlog::warn("backend expects seq {}: re-sending {} acknowledged mutations",
                     res.expected_seq(), n ? *n : 0);
      }
    } else {
      // Recorded on the outbox writer while the next batch is on its way to the backend.
      sent_through_ = rows.back().seq;  // rows were listed above what was sent before
      marking_ = outbox_.mark_results_later(std::move(outcomes), now_ms());
    }
    const auto stats = outbox_.stats();
    apply_watermark(res.watermark(), stats.acknowledged_seq);
    std::lock_guard lock(mu_);
    status_.sent += static_cast<std::uint64_t>(res.results_size());
    return rows.size();
  }

  // A timeout or a refusal for load or size shrinks the next batch; a limit the backend
  // announces (trailer x-weighlink-max-batch) caps it.
  void adapt_to_failure(const grpc::ClientContext& ctx, const grpc::Status& status) {
    const auto code = status.error_code();
    if (code != grpc::StatusCode::DEADLINE_EXCEEDED &&
        code != grpc::StatusCode::RESOURCE_EXHAUSTED) {
      return;
    }
    const auto before = batch_.size();
    batch_.on_pressure();
    const auto& trailers = ctx.GetServerTrailingMetadata();
    auto number = [&](const char* name) -> std::optional<std::uint64_t> {
      auto it = trailers.find(name);
      if (it == trailers.end()) return std::nullopt;
      try {
        return std::stoull(std::string(it->second.data(), it->second.size()));
      } catch (const std::exception&) {
        return std::nullopt;
      }
    };
    if (auto limit = number(kMaxBatchTrailer)) batch_.on_limit(*limit);
    // An overloaded backend says how long to stay away; the backoff never waits less.
    if (auto after = number(kRetryAfterTrailer)) {
      retry_after_ = std::chrono::milliseconds(std::min<std::uint64_t>(*after, 60'000));
    }
    spdlog::info("replay batch size {} -> {} after {}", before, batch_.size(),
                 code == grpc::StatusCode::DEADLINE_EXCEEDED ? "a timeout" : "a refusal for load");
  }

  // A call failed. When the backend refused what it holds (content_failure), narrow the next call
  // down to the one mutation that does it (Isolation), and once that one fails alone, send a
  // marker in its place: when the backend records the marker, the mutation becomes a dead letter
  // here and the rest of the queue flows on.
  CallError isolate(const std::vector<OutboxRow>& rows, const std::set<std::uint64_t>& markers,
                    const grpc::Status& status) {
    CallError error{status.error_code(), status.error_message()};
    if (!content_failure(static_cast<int>(status.error_code()))) return error;
    if (withholding_) {
      // Even the marker, which holds no payload, fails: the backend is broken for this station,
      // not fed one bad mutation. Nothing is withheld; the queue waits with backoff.
      spdlog::warn(
          "the backend also fails the marker for seq {} ({}): not withholding it; "
          "retrying with backoff",
          withholding_->seq, log_safe(status.error_message()));
      withholding_.reset();
      return error;
    }
    if (rows.size() == 1 && markers.contains(rows.front().seq)) return error;
    const auto step = isolation_.on_failure(rows.front().seq, rows.size());
    if (step.withhold) {
      if (withheld_in_a_row_ >= kMaxWithheldInARow) {
        spdlog::error(
            "the backend fails every call holding seq {} ({}), and {} mutations were "
            "withheld in a row already: not withholding more; the queue waits (check "
            "the backend's log)",
            rows.front().seq, log_safe(status.error_message()), withheld_in_a_row_);
        return error;
      }
      ++withheld_in_a_row_;
      withholding_ = Withholding{rows.front().seq,
                                 "withheld: the backend fails every call holding this "
                                 "mutation alone (gRPC " +
                                     std::to_string(static_cast<int>(status.error_code())) + ": " +
                                     status.error_message().substr(0, 120) + ")"};
    } else {
      spdlog::warn(
          "the backend failed a call of {} mutations from seq {} ({}): sending at most {} "
          "to find the one it refuses",
          rows.size(), rows.front().seq, log_safe(status.error_message()), step.limit);
    }
    error.isolating = true;
    return error;
  }

  // The stuck alarm: the oldest pending mutation waited longer than alert_pending_after.
  void check_stuck() {
    // Once a second at most: the loop runs once per batch, and the alarm is about minutes.
    const auto now = Clock::now();
    if (now - stuck_checked_ < std::chrono::seconds(1)) return;
    stuck_checked_ = now;
    const auto stats = outbox_.stats();
    const bool stuck =
        stats.oldest_pending_created_at_ms &&
        now_ms() - *stats.oldest_pending_created_at_ms > config_.alert_pending_after.count();
    std::lock_guard lock(mu_);
    if (stuck && !status_.stuck) {
      spdlog::error(
          "outbox: the oldest pending mutation has waited more than {} s (backend {}: "
          "{}); see GET /v1/status and docs/security.md, \"A stuck queue\"",
          config_.alert_pending_after.count() / 1000, channel_address_,
          status_.last_error.empty() ? std::string("no error") : status_.last_error);
    } else if (!stuck && status_.stuck) {
      spdlog::info("outbox: the queue moves again (no pending mutation older than {} s)",
                   config_.alert_pending_after.count() / 1000);
    }
    status_.stuck = stuck;
  }

  void reload_token() {
    if (config_.token_file.empty()) return;
    std::string error;
    auto token = read_token_file(config_.token_file, &error);
    if (!error.empty() && error != token_error_) spdlog::error("{}", error);  // once per change
    token_error_ = error;
    if (!token.empty() && token != config_.token) {
      config_.token = std::move(token);
      spdlog::info("the station token file {} changed: using the new token",
                   config_.token_file);  // never the token itself
    }
  }

  void record_failure(const CallError& e) {
    std::lock_guard lock(mu_);
    ++status_.consecutive_failures;
    if (status_.state != UplinkState::offline || status_.last_error != e.message) {
      spdlog::warn("uplink to {} failed ({}): {}; retrying with backoff", channel_address_,
                   static_cast<int>(e.code), e.message);
    }
    status_.state = UplinkState::offline;
    status_.last_error = e.message;
  }

  void set_state(UplinkState state, const std::string& backend, const std::string& error) {
    std::lock_guard lock(mu_);
    if (status_.state != UplinkState::offline) status_.state = state;
    status_.backend = backend;
    if (!error.empty()) status_.last_error = error;
  }

  bool stopping() const {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  void wait_for(std::chrono::milliseconds delay, bool wake_on_notify) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, delay, [&] { return stopping_ || (wake_on_notify && wake_); });
    wake_ = false;
  }

  ReplayConfig config_;
  Outbox& outbox_;
  AdaptiveBatch batch_;                       // worker thread
  std::chrono::milliseconds retry_after_{0};  // worker thread: the backend's hint
  std::mt19937 rng_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::SyncService::Stub> stub_;
  std::string channel_address_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool wake_ = false;
  UplinkStatus status_;
  std::uint64_t pruned_through_ = 0;  // worker thread
  std::string token_error_;           // worker thread: the token file's last problem, logged once
  // Worker thread: the answers of the last batch being recorded, and the highest seq sent whose
  // answer is not recorded yet (0: none; the next batch starts at the oldest pending row).
  std::future<boost::system::result<void>> marking_;
  std::uint64_t sent_through_ = 0;
  // Worker thread: finding and withholding a mutation that fails whole calls.
  struct Withholding {
    std::uint64_t seq = 0;
    std::string reason;
  };
  Isolation isolation_;
  std::optional<Withholding> withholding_;
  std::uint32_t withheld_in_a_row_ = 0;
  // The seq the backend last said it needs next (a gap): dead letters from there go as markers.
  std::optional<std::uint64_t> expected_;
  Clock::time_point stuck_checked_{};  // worker thread: the last check_stuck() look
  std::thread thread_;
};

}  // namespace

std::unique_ptr<ReplayWorker> ReplayWorker::create(ReplayConfig config, Outbox& outbox) {
  return std::make_unique<GrpcReplayWorker>(std::move(config), outbox);
}

}  // namespace weighlink::sync
