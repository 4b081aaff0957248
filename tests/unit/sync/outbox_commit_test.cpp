// Who commits: a lone enqueue_wait() caller commits on its own thread (no hand-off to the writer
// thread); those arriving during a commit are grouped by the writer; a failed commit on the
// caller's thread writes nothing and leaves the outbox working.
#include <doctest/doctest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "evidence_fixture.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::sync::EnqueueResult;
using weighlink::sync::EnqueueStatus;
using weighlink::sync::NewMutation;
using weighlink::sync::Outbox;
using weighlink::testing::open_outbox;
using weighlink::testing::sql;
using weighlink::testing::TempDir;

namespace {

NewMutation mutation(const std::string& key) {
  return NewMutation{key, "note.added", R"({"k":")" + key + "\"}", "h-" + key, 1000, {}};
}

// Holds the outbox's first commit inside its on_commit callback (the connection still taken)
// until release().
struct CommitGate {
  explicit CommitGate(Outbox& outbox) {
    outbox.set_on_commit([this] { on_commit(); });
  }
  std::mutex mu;
  std::condition_variable cv;
  bool inside = false;
  bool released = false;
  std::thread::id thread;
  void on_commit() {
    std::unique_lock lock(mu);
    if (inside) return;  // only the first commit waits
    inside = true;
    thread = std::this_thread::get_id();
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
  }
  void wait_inside() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return inside; });
  }
  void release() {
    std::lock_guard lock(mu);
    released = true;
    cv.notify_all();
  }
};

}  // namespace

TEST_CASE("outbox: a lone producer's enqueue_wait commits on its own thread") {
  TempDir dir;
  auto outbox = open_outbox(dir / "o.db");
  std::vector<std::thread::id> committers;  // on_commit runs on the committing thread
  outbox->set_on_commit([&] { committers.push_back(std::this_thread::get_id()); });
  const auto before = outbox->stats();
  for (int i = 1; i <= 5; ++i) {
    const auto r = outbox->enqueue_wait(mutation("k" + std::to_string(i)));
    REQUIRE(r.status == EnqueueStatus::accepted);
    CHECK(r.row.seq == static_cast<std::uint64_t>(i));
  }
  REQUIRE(committers.size() == 5);
  for (const auto& id : committers) CHECK(id == std::this_thread::get_id());
  const auto after = outbox->stats();
  CHECK(after.commits - before.commits == 5);
  CHECK(after.caller_commits - before.caller_commits == 5);
  CHECK(after.pending == 5);

  // enqueue() never commits on its caller's thread (an io thread must not wait for a flush).
  std::promise<std::thread::id> committed_on;
  outbox->set_on_commit([&] { committed_on.set_value(std::this_thread::get_id()); });
  std::promise<EnqueueResult> answer;
  outbox->enqueue(mutation("async"), [&](EnqueueResult r) { answer.set_value(std::move(r)); });
  CHECK(answer.get_future().get().status == EnqueueStatus::accepted);
  CHECK(committed_on.get_future().get() != std::this_thread::get_id());
  CHECK(outbox->stats().caller_commits == after.caller_commits);
}

TEST_CASE("outbox: mutations queued during a caller's commit share the writer's next commit") {
  TempDir dir;
  auto outbox = open_outbox(dir / "o.db");
  CommitGate gate(*outbox);
  std::thread leader([&] {
    const auto r = outbox->enqueue_wait(mutation("first"));
    CHECK(r.status == EnqueueStatus::accepted);
    CHECK(r.row.seq == 1);
  });
  gate.wait_inside();  // the leader holds the connection: what comes now is queued
  CHECK(gate.thread != std::this_thread::get_id());
  constexpr int kFollowers = 7;
  std::vector<std::promise<EnqueueResult>> answers(kFollowers);
  for (int i = 0; i < kFollowers; ++i) {
    outbox->enqueue(mutation("f" + std::to_string(i)),
                    [&answers, i](EnqueueResult r) { answers[i].set_value(std::move(r)); });
  }
  const auto before = outbox->stats();
  gate.release();
  leader.join();
  for (int i = 0; i < kFollowers; ++i) {
    const auto r = answers[i].get_future().get();
    REQUIRE(r.status == EnqueueStatus::accepted);
    CHECK(r.row.seq == static_cast<std::uint64_t>(i + 2));  // queue order
  }
  const auto after = outbox->stats();
  // The leader's commit (counted when it returned) and one group for the seven.
  CHECK(after.commits == 2);
  CHECK(after.caller_commits == 1);
  CHECK(before.commits <= 1);
  CHECK(after.pending == kFollowers + 1);
}

TEST_CASE("outbox: a commit that fails on the caller's thread writes nothing and the next works") {
  TempDir dir;
  const auto file = dir / "o.db";
  open_outbox(file)->close();
  // A fault inside the transaction, after the row's INSERT started: the whole commit must go.
  sql(file,
      "CREATE TRIGGER refuse_bad BEFORE INSERT ON mutations WHEN NEW.idempotency_key = 'bad' "
      "BEGIN SELECT RAISE(ABORT, 'injected fault'); END;");
  auto outbox = open_outbox(file);
  REQUIRE(outbox->enqueue_wait(mutation("a")).status == EnqueueStatus::accepted);
  const auto bad = outbox->enqueue_wait(mutation("bad"));
  CHECK(bad.status == EnqueueStatus::failed);
  CHECK(bad.message.find("injected fault") != std::string::npos);
  CHECK_FALSE(outbox->find("bad").has_value());
  const auto next = outbox->enqueue_wait(mutation("b"));
  REQUIRE(next.status == EnqueueStatus::accepted);
  CHECK(next.row.seq == 2);  // no seq used up by the failed commit
  const auto stats = outbox->stats();
  CHECK(stats.pending == 2);
  CHECK(stats.last_seq == 2);
  // The same key again once the fault is gone: accepted, not "in progress".
  outbox->close();
  sql(file, "DROP TRIGGER refuse_bad;");
  outbox = open_outbox(file);
  const auto retried = outbox->enqueue_wait(mutation("bad"));
  CHECK(retried.status == EnqueueStatus::accepted);
  CHECK(retried.row.seq == 3);
}

TEST_CASE("outbox: close() waits for a commit a caller is making and refuses what comes after") {
  TempDir dir;
  auto outbox = open_outbox(dir / "o.db");
  CommitGate gate(*outbox);
  std::thread leader([&] {
    CHECK(outbox->enqueue_wait(mutation("in-flight")).status == EnqueueStatus::accepted);
  });
  gate.wait_inside();
  std::thread closer([&] { outbox->close(); });
  gate.release();
  closer.join();
  leader.join();
  CHECK(outbox->enqueue_wait(mutation("late")).status == EnqueueStatus::failed);
  outbox.reset();
  auto reopened = open_outbox(dir / "o.db");
  CHECK(reopened->find("in-flight").has_value());
  CHECK_FALSE(reopened->find("late").has_value());
}
