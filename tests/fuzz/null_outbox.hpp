#pragma once
#include <future>
// An outbox for fuzz targets: keeps no mutation (enqueue answers "full"), answers get_state() from
// `state`. The decoders under test only ask whether a key exists or read saved state.
#include <map>
#include <string>

#include "weighlink/agent/captures.hpp"
#include "weighlink/agent/live_state.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::fuzz {

// An outbox that keeps nothing: the decoders only ask whether a key exists.
class NullOutbox final : public sync::Outbox {
 public:
  void enqueue(sync::NewMutation, std::function<void(sync::EnqueueResult)> done) override {
    sync::EnqueueResult r;
    r.status = sync::EnqueueStatus::full;
    r.message = "fuzz";
    done(r);
  }
  sync::EnqueueResult enqueue_wait(sync::NewMutation) override { return {}; }
  std::optional<sync::OutboxRow> find(const std::string&) override { return std::nullopt; }
  std::vector<sync::OutboxRow> list(std::optional<sync::MutationState>, std::uint64_t,
                                    std::size_t) override {
    return {};
  }
  sync::OutboxStats stats() override { return {}; }
  std::vector<sync::StoredRecord> search_weighings(const sync::WeighingQuery&) override {
    return {};
  }
  boost::system::result<void> mark_results(std::span<const sync::MutationOutcome>,
                                           std::int64_t) override {
    return {};
  }
  std::future<boost::system::result<void>> mark_results_later(std::vector<sync::MutationOutcome>,
                                                              std::int64_t) override {
    std::promise<boost::system::result<void>> done;
    done.set_value({});
    return done.get_future();
  }
  boost::system::result<void> mark_attempt_failed(std::span<const std::uint64_t>,
                                                  const std::string&) override {
    return {};
  }
  boost::system::result<std::uint64_t> rewind_above(std::uint64_t) override { return 0; }
  boost::system::result<bool> retry_dead(const std::string&) override { return false; }
  boost::system::result<bool> discard_dead(const std::string&, const std::string&,
                                           std::int64_t) override {
    return false;
  }
  boost::system::result<std::uint64_t> continue_above(std::uint64_t) override { return 0; }
  boost::system::result<sync::PruneResult> prune(std::uint64_t, std::int64_t) override {
    return sync::PruneResult{};
  }
  boost::system::result<void> scan(const std::function<void(const Chain&)>&,
                                   const std::function<bool(const sync::OutboxRow&)>&) override {
    return {};
  }
  std::optional<std::string> get_state(const std::string& key) override {
    auto it = state.find(key);
    if (it == state.end()) return std::nullopt;
    return it->second;
  }
  void put_state(sync::StateWrite, std::function<void(boost::system::result<void>)> done) override {
    done(boost::system::result<void>());
  }
  void set_on_commit(std::function<void()>) override {}
  void close() override {}

  std::map<std::string, std::string> state;  // what get_state() answers
};

// One scale `main` (mt-continuous) in `live`, and captures over `outbox` that run posted work at
// once and never run scheduled work.
inline agent::CaptureContext fuzz_context(NullOutbox& outbox, agent::LiveState& live) {
  scale::ScaleConfig sc;
  sc.id = "main";
  sc.protocol = "mt-continuous";
  live.add_scale(sc);
  agent::CaptureContext ctx;
  ctx.station_id = "fuzz";
  ctx.outbox = &outbox;
  ctx.live = &live;
  ctx.post = [](const std::function<void()>& fn) { fn(); };
  ctx.schedule = [](std::chrono::milliseconds, const std::function<void()>&) {};
  return ctx;
}

}  // namespace weighlink::fuzz
