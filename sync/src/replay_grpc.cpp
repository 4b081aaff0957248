// The gRPC adapter of the replay worker: the loop, its channel, deadlines and backoff, the window
// of Replay calls in flight (ReplayWindow), and the translation between SyncService messages
// (replay_proto.hpp) and the ReplayCursor (replay_cursor.hpp), which decides what is sent and what
// the answers do to the outbox.
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "replay_proto.hpp"
#include "weighlink/base/log_text.hpp"
#include "weighlink/sync/attachments.hpp"
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

class GrpcReplayWorker final : public ReplayWorker {
 public:
  GrpcReplayWorker(ReplayConfig config, Outbox& outbox)
      : config_(std::move(config)),
        outbox_(outbox),
        batch_(config_.batch_size, config_.initial_batch),
        window_(config_.max_in_flight),
        rng_(std::random_device{}()),
        cursor_(outbox_, ReplayCursor::Options{config_.min_retention}) {
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
        cursor_.set_backend(address);
        set_state(UplinkState::connecting, address, {});
      }

      check_stuck();
      std::optional<CallError> failure;
      bool idle = false;
      const bool hello_due = need_hello || Clock::now() - last_hello >= config_.hello_interval;
      // Hello compares the backend's high water with what is recorded here: the calls in flight
      // answered and their answers recorded first.
      while (hello_due && !failure && !flight_.empty()) {
        if (auto answered = answer_front(); !answered) failure = answered.error();
      }
      if (hello_due) drop_flight();  // the batch built next: Hello may rewind below it
      if (hello_due && !failure) failure = settle_marking();
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

      if (failure && stopping()) break;  // the calls were cancelled for it: not a failure
      if (failure) {
        drop_flight();
        window_.on_trouble(Clock::now());
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
            base::backoff_delay(config_.backoff, attempt - 1, static_cast<std::uint32_t>(rng_())),
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
    drop_flight();
    (void)settle_marking();
  }

  // Waits for the previous batch's answers to be recorded (mark_results runs while the next batch
  // is on its way); from then on the next batch starts at the oldest pending row again. An error
  // leaves those rows pending: they are sent again and the backend answers DUPLICATE.
  std::optional<CallError> settle_marking() {
    auto error = cursor_.settle();
    log_notes();
    if (error) return CallError{grpc::StatusCode::INTERNAL, std::move(*error)};
    return std::nullopt;
  }

  // What the cursor asks to log.
  void log_notes() {
    for (const auto& n : cursor_.take_notes()) {
      switch (n.level) {
        case ReplayNote::Level::info:
          spdlog::info("{}", n.text);
          break;
        case ReplayNote::Level::warn:
          spdlog::warn("{}", n.text);
          break;
        case ReplayNote::Level::error:
          spdlog::error("{}", n.text);
          break;
      }
    }
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
    auto r = cursor_.on_hello(from_proto(res.watermark()), stats.acknowledged_seq, now_ms());
    log_notes();
    mark_online();
    if (!r) return CallError{grpc::StatusCode::INTERNAL, r.error()};
    return std::nullopt;
  }

  // The backend answered: the uplink is online, with the backend's watermark.
  void mark_online() {
    const auto& wm = cursor_.watermark();
    std::lock_guard lock(mu_);
    status_.high_water_seq = wm.high_water_seq;
    status_.durable_seq = wm.durable_seq;
    status_.generation = wm.generation;
    status_.state = UplinkState::online;
    status_.backend = channel_address_;
    status_.last_error.clear();
    status_.consecutive_failures = 0;
    status_.last_sync_ms = now_ms();
  }

  // A batch on its way: its rows (payloads moved into the request), the request, and once
  // started the call's context, answer and status (`done` under mu_).
  struct Call {
    ReplayCursor::Batch batch;
    pb::ReplayRequest req;
    pb::ReplayResponse res;
    std::unique_ptr<grpc::ClientContext> ctx;
    grpc::Status status;
    bool done = false;
    Clock::time_point started;
  };

  // Fills the window with calls, then handles the oldest call's answer; returns how many
  // mutations were answered (0 = nothing pending and nothing in flight).
  boost::system::result<std::size_t, CallError> replay_batch() {
    const std::size_t window = cursor_.serial() ? 1 : window_.size();
    while (flight_.size() < window) {
      if (!ready_) {
        auto next = prepare();
        if (!next) return next.error();
        ready_ = std::move(*next);
      }
      if (!ready_) break;
      start(std::move(ready_));
    }
    if (flight_.empty()) return std::size_t{0};
    // The next batch is read and built while the backend works on those in flight.
    if (!ready_ && !cursor_.serial()) {
      auto next = prepare();
      if (!next) return next.error();
      ready_ = std::move(*next);
    }
    return answer_front();
  }

  // The next batch, read from the outbox and built into a request, its evidence files uploaded
  // first (send_blobs); nullptr when nothing is pending.
  boost::system::result<std::unique_ptr<Call>, CallError> prepare() {
    auto call = std::make_unique<Call>();
    call->batch = cursor_.next_batch(batch_.size());
    if (call->batch.empty()) return std::unique_ptr<Call>();
    if (auto sent = send_blobs(call->batch); !sent) return sent.error();
    call->req.set_station_id(config_.station_id);
    add_mutations(config_.station_id, call->batch.rows, call->batch.markers, call->req);
    return call;
  }

  void start(std::unique_ptr<Call> call) {
    call->ctx = context();
    call->started = Clock::now();
    {
      std::lock_guard lock(mu_);
      status_.in_flight += call->batch.rows.size();
    }
    Call* c = call.get();
    flight_.push_back(std::move(call));
    stub_->async()->Replay(c->ctx.get(), &c->req, &c->res, [this, c](grpc::Status status) {
      std::lock_guard lock(mu_);
      c->status = std::move(status);
      c->done = true;
      cv_.notify_all();
    });
  }

  // Waits for the oldest call in flight and handles its answer: answers are handled strictly in
  // seq order. A failure, or an answer that is not clean (a gap, a marker, fewer answers), first
  // drops the calls behind it (their rows stay pending and are sent again; the backend answers
  // DUPLICATE for any it applied), so the existing rules run with nothing in flight.
  boost::system::result<std::size_t, CallError> answer_front() {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return flight_.front()->done || stopping_; });
    }
    if (!flight_.front()->done) {
      drop_flight();  // stopping
      return CallError{grpc::StatusCode::CANCELLED, "the agent is stopping"};
    }
    auto call = std::move(flight_.front());
    flight_.pop_front();
    const auto& rows = call->batch.rows;
    {
      std::lock_guard lock(mu_);
      status_.in_flight -= std::min<std::uint64_t>(status_.in_flight, rows.size());
      status_.batch_size = batch_.size();
    }
    const auto now = Clock::now();
    const auto& status = call->status;
    if (!status.ok()) {
      drop_flight();
      window_.on_trouble(now);
      adapt_to_failure(*call->ctx, status);
      CallError error{status.error_code(), status.error_message()};
      error.isolating = cursor_.on_failure(call->batch, static_cast<int>(status.error_code()),
                                           status.error_message());
      log_notes();
      return error;
    }
    auto answer = from_proto(call->res);
    const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(now - call->started);
    const bool clean = clean_answer(rows.size(), !call->batch.markers.empty(), answer);
    if (!clean) drop_flight();
    window_.on_answer(clean, latency, now);
    batch_.on_answer(rows.size(), latency);
    auto recorded = cursor_.on_answer(call->batch, answer, now_ms());
    log_notes();
    {
      std::lock_guard lock(mu_);
      status_.withheld = cursor_.withheld();
    }
    if (!recorded) return CallError{grpc::StatusCode::INTERNAL, recorded.error()};
    mark_online();
    std::lock_guard lock(mu_);
    status_.sent += answer.results.size();
    return rows.size();
  }

  // Cancels the calls in flight, waits until gRPC is done with each, and drops them and the
  // batch built next: their rows stay pending, and the next batch starts above what was answered.
  void drop_flight() {
    ready_.reset();
    for (auto& call : flight_) call->ctx->TryCancel();
    {
      std::unique_lock lock(mu_);
      for (auto& call : flight_) cv_.wait(lock, [&] { return call->done; });
      status_.in_flight = 0;
    }
    flight_.clear();
    cursor_.forget_listed();
  }

  // The evidence files the batch's rows list, before the batch (attachments.hpp). A failure stops
  // the batch like a failed Replay, without isolating anything: it is not the rows' fault.
  boost::system::result<void, CallError> send_blobs(const ReplayCursor::Batch& batch) {
    if (config_.blob_dir.empty()) return {};
    std::set<std::uint64_t> markers;
    for (const auto& [seq, reason] : batch.markers) markers.insert(seq);
    GrpcBlobRemote remote(*stub_, config_.station_id, [this] { return context(); });
    auto tally = send_attachments(batch.rows, markers, blob_store_, remote);
    if (!tally) {
      const auto code = tally.error().code == 0 ? grpc::StatusCode::UNKNOWN
                                                : static_cast<grpc::StatusCode>(tally.error().code);
      return CallError{code, "evidence file upload: " + tally.error().message};
    }
    if (tally->uploaded > 0 || tally->lost > 0) {
      spdlog::info(
          "evidence files before seq {}..{}: {} uploaded ({} bytes), {} held already, {} "
          "lost",
          batch.rows.front().seq, batch.rows.back().seq, tally->uploaded, tally->bytes_sent,
          tally->already_held, tally->lost);
    }
    std::lock_guard lock(mu_);
    status_.blobs_uploaded += tally->uploaded;
    status_.blob_bytes_sent += tally->bytes_sent;
    status_.blobs_lost += tally->lost;
    return {};
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
    auto token = base::read_token_file(config_.token_file);
    const std::string error = token ? std::string() : token.error().message;
    if (!error.empty() && error != token_error_) spdlog::error("{}", error);  // once per change
    token_error_ = error;
    if (token && *token != config_.token) {
      config_.token = std::move(*token);
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
  BlobStore blob_store_{config_.blob_dir};
  AdaptiveBatch batch_;                       // worker thread
  ReplayWindow window_;                       // worker thread
  std::deque<std::unique_ptr<Call>> flight_;  // worker thread: calls in flight, in seq order
  std::unique_ptr<Call> ready_;               // worker thread: the next batch, built, not sent
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
  std::string token_error_;            // worker thread: the token file's last problem, logged once
  ReplayCursor cursor_;                // worker thread
  Clock::time_point stuck_checked_{};  // worker thread: the last check_stuck() look
  std::thread thread_;
};

}  // namespace

std::unique_ptr<ReplayWorker> ReplayWorker::create(ReplayConfig config, Outbox& outbox) {
  return std::make_unique<GrpcReplayWorker>(std::move(config), outbox);
}

}  // namespace weighlink::sync
