// The replay cursor over a real outbox in a temporary directory: what the next call carries,
// answers, gaps, rewinds after a restore, watermarks, pruning and withholding. No gRPC: the
// backend's answers are written here as the adapter translates them.
#include "weighlink/sync/replay_cursor.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include "weighlink/testing/process.hpp"

using weighlink::sync::EnqueueStatus;
using weighlink::sync::MutationState;
using weighlink::sync::NewMutation;
using weighlink::sync::Outbox;
using weighlink::sync::ReplayAnswer;
using weighlink::sync::ReplayCursor;
using weighlink::sync::ReplayNote;
using weighlink::sync::ReplayOutcome;
using weighlink::sync::ReplayResult;
using weighlink::sync::rewind_point;
using weighlink::sync::Watermark;
using weighlink::testing::TempDir;
using namespace std::chrono_literals;

namespace {

constexpr int kInternal = 13;     // grpc::StatusCode::INTERNAL: a content failure
constexpr int kUnavailable = 14;  // grpc::StatusCode::UNAVAILABLE: the link, not the content
constexpr std::int64_t kCreatedAt = 1'000'000;

struct Station {
  TempDir dir;
  std::unique_ptr<Outbox> outbox;

  explicit Station(int rows) {
    auto r = Outbox::open(dir / "outbox.db", {});
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
    outbox = std::move(*r);
    for (int i = 1; i <= rows; ++i) add("k" + std::to_string(i));
  }
  void add(const std::string& key) {
    REQUIRE(outbox
                ->enqueue_wait(NewMutation{
                    key, "transaction.created", R"({"k":")" + key + "\"}", "h", kCreatedAt, {}})
                .status == EnqueueStatus::accepted);
  }
  MutationState state(std::uint64_t seq) {
    auto rows = outbox->list(std::nullopt, seq - 1, 1);
    REQUIRE(rows.size() == 1);
    REQUIRE(rows.front().seq == seq);
    return rows.front().state;
  }
};

std::vector<std::uint64_t> seqs(const ReplayCursor::Batch& batch) {
  std::vector<std::uint64_t> out;
  for (const auto& row : batch.rows) out.push_back(row.seq);
  return out;
}

// The backend applied every row of the batch.
ReplayAnswer applied(const ReplayCursor::Batch& batch, Watermark wm = {}) {
  ReplayAnswer answer;
  for (const auto& row : batch.rows) {
    answer.results.push_back(ReplayResult{row.seq, row.idempotency_key, ReplayOutcome::applied,
                                          ReplayOutcome::unspecified, ""});
  }
  if (wm.high_water_seq == 0 && !batch.rows.empty()) wm.high_water_seq = batch.rows.back().seq;
  answer.watermark = wm;
  return answer;
}

bool noted(ReplayCursor& cursor, const std::string& text) {
  const auto notes = cursor.take_notes();
  return std::any_of(notes.begin(), notes.end(),
                     [&](const ReplayNote& n) { return n.text.find(text) != std::string::npos; });
}

using Seqs = std::vector<std::uint64_t>;

}  // namespace

TEST_CASE("replay cursor: re-send only when the backend holds less than was acknowledged") {
  CHECK_FALSE(rewind_point(50, 50).has_value());
  CHECK_FALSE(rewind_point(60, 50).has_value());
  CHECK(rewind_point(30, 50) == 30u);
  CHECK(rewind_point(0, 1) == 0u);
}

TEST_CASE("replay cursor: batches go in seq order, the next above the one being recorded") {
  Station station(5);
  ReplayCursor cursor(*station.outbox, {});
  const auto first = cursor.next_batch(3);
  CHECK(seqs(first) == Seqs{1, 2, 3});
  CHECK(first.markers.empty());
  REQUIRE(cursor.on_answer(first, applied(first), 2'000'000));
  // The answers of 1-3 may still be on their way to disk: the next batch starts above them.
  const auto second = cursor.next_batch(3);
  CHECK(seqs(second) == Seqs{4, 5});
  REQUIRE(cursor.on_answer(second, applied(second), 2'000'000));
  CHECK_FALSE(cursor.settle().has_value());
  CHECK(cursor.next_batch(3).empty());
  const auto stats = station.outbox->stats();
  CHECK(stats.acknowledged == 5);
  CHECK(stats.acknowledged_seq == 5);
  CHECK(cursor.watermark().high_water_seq == 5);
}

TEST_CASE("replay cursor: a Hello below what was acknowledged rewinds what the restore lost") {
  Station station(5);
  ReplayCursor cursor(*station.outbox, {});
  cursor.set_backend("backend-a");
  const auto batch = cursor.next_batch(10);
  REQUIRE(cursor.on_answer(batch, applied(batch, {5, 0, "g1"}), 2'000'000));
  REQUIRE_FALSE(cursor.settle().has_value());
  (void)cursor.take_notes();

  SUBCASE("the backend holds everything: nothing is re-sent") {
    REQUIRE(cursor.on_hello({5, 0, "g1"}, 5, 3'000'000));
    CHECK(cursor.take_notes().empty());
    CHECK(cursor.next_batch(10).empty());
  }
  SUBCASE("restored to seq 2 under a new generation: 3-5 are pending again and sent next") {
    REQUIRE(cursor.on_hello({2, 0, "g2"}, station.outbox->stats().acknowledged_seq, 3'000'000));
    const auto notes = cursor.take_notes();
    REQUIRE(notes.size() == 2);
    CHECK(notes[0].text ==
          "backend backend-a holds this station only up to seq 2 (generation g2) but 5 was "
          "acknowledged: re-sending 3 mutations");
    CHECK(notes[1].text == "backend generation changed from g1 to g2: the database was restored");
    CHECK(station.state(2) == MutationState::acknowledged);
    CHECK(station.state(3) == MutationState::pending);
    CHECK(cursor.watermark().generation == "g2");
    CHECK(seqs(cursor.next_batch(10)) == Seqs{3, 4, 5});
  }
}

TEST_CASE("replay cursor: a gap the backend reports at or below the batch re-sends from there") {
  Station station(5);
  ReplayCursor cursor(*station.outbox, {});
  const auto first = cursor.next_batch(5);
  REQUIRE(cursor.on_answer(first, applied(first), 2'000'000));
  REQUIRE_FALSE(cursor.settle().has_value());
  station.add("k6");
  station.add("k7");
  const auto second = cursor.next_batch(5);
  REQUIRE(seqs(second) == Seqs{6, 7});
  // Restored meanwhile: the backend needs seq 4 next and processed nothing of this call.
  ReplayAnswer gap;
  gap.expected_seq = 4;
  gap.watermark = {3, 0, "g2"};
  REQUIRE(cursor.on_answer(second, gap, 2'000'000));
  CHECK(noted(cursor, "backend expects seq 4: re-sending 2 acknowledged mutations"));
  CHECK(station.state(3) == MutationState::acknowledged);
  CHECK(station.state(4) == MutationState::pending);
  CHECK(station.state(5) == MutationState::pending);
  CHECK(seqs(cursor.next_batch(10)) == Seqs{4, 5, 6, 7});
}

TEST_CASE("replay cursor: dead letters at the backend's gap go as markers with their reason") {
  Station station(3);
  ReplayCursor cursor(*station.outbox, {});
  const auto first = cursor.next_batch(3);
  auto answer = applied(first);
  answer.results[1].outcome = ReplayOutcome::rejected;
  answer.results[1].reason = "bad_payload";
  REQUIRE(cursor.on_answer(first, answer, 2'000'000));
  CHECK(noted(cursor, "backend rejected mutation seq 2 key k2: bad_payload"));
  REQUIRE_FALSE(cursor.settle().has_value());
  CHECK(station.state(2) == MutationState::dead);
  station.add("k4");
  // The backend was restored to seq 1: it needs 2, which is a dead letter here.
  const auto next = cursor.next_batch(3);
  REQUIRE(seqs(next) == Seqs{4});
  ReplayAnswer gap;
  gap.expected_seq = 2;
  gap.watermark = {1, 0, ""};
  REQUIRE(cursor.on_answer(next, gap, 2'000'000));
  const auto again = cursor.next_batch(10);
  CHECK(seqs(again) == Seqs{2, 3, 4});
  REQUIRE(again.markers.size() == 1);
  CHECK(again.markers.at(2) == "a dead letter at the agent: bad_payload");
  // The marker's answer leaves the dead letter as it is; the rest are acknowledged.
  REQUIRE(cursor.on_answer(again, applied(again), 2'000'000));
  REQUIRE_FALSE(cursor.settle().has_value());
  CHECK(station.state(2) == MutationState::dead);
  CHECK(station.state(3) == MutationState::acknowledged);
  CHECK(station.state(4) == MutationState::acknowledged);
}

TEST_CASE("replay cursor: the durable watermark prunes acknowledged rows once old enough") {
  Station station(4);
  ReplayCursor cursor(*station.outbox, ReplayCursor::Options{1000ms});
  const auto batch = cursor.next_batch(4);
  REQUIRE(cursor.on_answer(batch, applied(batch), 2'000'000));
  REQUIRE_FALSE(cursor.settle().has_value());
  // Not old enough yet: created at kCreatedAt, retention 1 s.
  REQUIRE(cursor.on_hello({4, 3, "g"}, 4, kCreatedAt + 500));
  CHECK(station.outbox->stats().rows == 4);
  REQUIRE(cursor.on_hello({4, 3, "g"}, 4, kCreatedAt + 1000));
  CHECK(noted(cursor, "outbox: pruned 3 acknowledged mutations up to seq 3"));
  const auto stats = station.outbox->stats();
  CHECK(stats.rows == 1);
  CHECK(stats.pruned_through_seq == 3);
  CHECK(cursor.watermark().durable_seq == 3);
}

TEST_CASE("replay cursor: a mutation that fails every call is found, withheld, and the rest flow") {
  Station station(4);
  ReplayCursor cursor(*station.outbox, {});
  auto batch = cursor.next_batch(4);
  REQUIRE(seqs(batch) == Seqs{1, 2, 3, 4});

  SUBCASE("a link failure is retried as it is") {
    CHECK_FALSE(cursor.on_failure(batch, kUnavailable, "connection refused"));
    CHECK(seqs(cursor.next_batch(4)) == Seqs{1, 2, 3, 4});
    CHECK(station.outbox->list(std::nullopt, 0, 1).front().attempts == 1);
  }
  SUBCASE("content failures halve the call down to seq 1, which fails alone twice") {
    CHECK(cursor.on_failure(batch, kInternal, "boom"));
    batch = cursor.next_batch(4);
    CHECK(seqs(batch) == Seqs{1, 2});
    CHECK(cursor.on_failure(batch, kInternal, "boom"));
    batch = cursor.next_batch(4);
    CHECK(seqs(batch) == Seqs{1});
    CHECK(batch.markers.empty());
    CHECK(cursor.on_failure(batch, kInternal, "boom"));
    batch = cursor.next_batch(4);
    CHECK(batch.markers.empty());  // one strike: INTERNAL may pass
    CHECK(cursor.on_failure(batch, kInternal, "boom"));
    batch = cursor.next_batch(4);
    REQUIRE(seqs(batch) == Seqs{1});
    REQUIRE(batch.markers.count(1) == 1);
    const auto reason = batch.markers.at(1);
    CHECK(reason.find("withheld: the backend fails every call holding this mutation alone (gRPC "
                      "13: boom)") == 0);

    SUBCASE("the backend records the marker: a dead letter here, the next go one by one") {
      ReplayAnswer answer = applied(batch);
      answer.results[0].outcome = ReplayOutcome::rejected;
      REQUIRE(cursor.on_answer(batch, answer, 2'000'000));
      CHECK(noted(cursor, "withheld mutation seq 1 key k1 as a dead letter"));
      CHECK(cursor.withheld() == 1);
      CHECK(station.state(1) == MutationState::dead);
      CHECK(station.outbox->list(std::nullopt, 0, 1).front().last_error == reason);
      CHECK(seqs(cursor.next_batch(4)) == Seqs{2});
    }
    SUBCASE("the backend had applied it before: acknowledged, nothing withheld") {
      ReplayAnswer answer = applied(batch);
      answer.results[0].outcome = ReplayOutcome::duplicate;
      answer.results[0].original_outcome = ReplayOutcome::applied;
      REQUIRE(cursor.on_answer(batch, answer, 2'000'000));
      CHECK(cursor.withheld() == 0);
      CHECK(station.state(1) == MutationState::acknowledged);
    }
    SUBCASE("the marker fails too: nothing is withheld, the queue waits") {
      CHECK_FALSE(cursor.on_failure(batch, kInternal, "boom"));
      CHECK(noted(cursor, "the backend also fails the marker for seq 1"));
      CHECK(station.state(1) == MutationState::pending);
      CHECK(cursor.next_batch(4).markers.empty());
    }
  }
}

TEST_CASE("replay cursor: with calls in flight each batch starts above the last one listed") {
  Station station(10);
  ReplayCursor cursor(*station.outbox, {});
  const auto first = cursor.next_batch(3);
  const auto second = cursor.next_batch(3);  // while the first is in flight
  const auto third = cursor.next_batch(3);
  CHECK(seqs(first) == Seqs{1, 2, 3});
  CHECK(seqs(second) == Seqs{4, 5, 6});
  CHECK(seqs(third) == Seqs{7, 8, 9});
  CHECK_FALSE(cursor.serial());
  // Answers in seq order: each is recorded while the later calls are still in flight.
  REQUIRE(cursor.on_answer(first, applied(first), 2'000'000));
  CHECK(seqs(cursor.next_batch(3)) == Seqs{10});
  REQUIRE(cursor.on_answer(second, applied(second), 2'000'000));
  // The calls behind the second were dropped (a failure of the next one, a gap): the next batch
  // starts above what was answered, at 7 again.
  cursor.forget_listed();
  CHECK(seqs(cursor.next_batch(2)) == Seqs{7, 8});
  CHECK_FALSE(cursor.settle().has_value());
  CHECK(station.outbox->stats().acknowledged_seq == 6);
}

TEST_CASE("replay cursor: a gap in an answer makes the next calls go one at a time") {
  Station station(6);
  ReplayCursor cursor(*station.outbox, {});
  const auto first = cursor.next_batch(3);
  const auto second = cursor.next_batch(3);
  CHECK(seqs(second) == Seqs{4, 5, 6});
  ReplayAnswer gap;
  gap.expected_seq = 1;  // restored: the backend holds nothing of this station
  CHECK_FALSE(weighlink::sync::clean_answer(first.rows.size(), false, gap));
  CHECK(weighlink::sync::clean_answer(first.rows.size(), false, applied(first)));
  CHECK_FALSE(weighlink::sync::clean_answer(first.rows.size(), true, applied(first)));
  cursor.forget_listed();  // the worker awaits the second call and drops its answer
  REQUIRE(cursor.on_answer(first, gap, 2'000'000));
  CHECK(cursor.serial());
  CHECK(seqs(cursor.next_batch(3)) == Seqs{1, 2, 3});
}
