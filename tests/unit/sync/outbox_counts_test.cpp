// The head row (schema 7): the chain's signed head and the rows per state, written by each commit
// itself. The counts must equal COUNT(*) of the rows after any mix of writes, after an upgrade
// from schema 6 and after a SIGKILL in the middle of commits.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "evidence_fixture.hpp"
#include "weighlink/sync/evidence_check.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::sync::EnqueueStatus;
using weighlink::sync::MutationOutcome;
using weighlink::sync::Outbox;
using weighlink::sync::OutboxStats;
using weighlink::testing::as_schema_6;
using weighlink::testing::kKey;
using weighlink::testing::open_outbox;
using weighlink::testing::sql;
using weighlink::testing::TempDir;
using weighlink::testing::weighing;

namespace {

constexpr const char* kStation = "station-7";

struct Counts {
  std::int64_t pending = 0, acknowledged = 0, dead = 0, discarded = 0;
  bool operator==(const Counts&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Counts& c) {
  return os << "pending " << c.pending << ", acknowledged " << c.acknowledged << ", dead " << c.dead
            << ", discarded " << c.discarded;
}

// COUNT(*) per state, from the rows, through a connection of the test's own.
Counts counted(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT state, COUNT(*) FROM mutations GROUP BY state", -1, &s,
                             nullptr) == SQLITE_OK);
  Counts c;
  while (sqlite3_step(s) == SQLITE_ROW) {
    const std::string state = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    const auto n = sqlite3_column_int64(s, 1);
    (state == "pending"        ? c.pending
     : state == "acknowledged" ? c.acknowledged
     : state == "dead"         ? c.dead
                               : c.discarded) = n;
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return c;
}

Counts of(const OutboxStats& st) {
  return Counts{static_cast<std::int64_t>(st.pending), static_cast<std::int64_t>(st.acknowledged),
                static_cast<std::int64_t>(st.dead), static_cast<std::int64_t>(st.discarded)};
}

void check_chain(Outbox& outbox) {
  const auto c = weighlink::sync::verify_evidence(outbox, kStation, kKey);
  REQUIRE(c.has_value());
  CHECK(c->report.ok());
}

// Rows in every state: 1-4 acknowledged (1-2 pruned into the archive), 5 dead, 6 discarded, 7
// dead then retried (pending), 8-10 pending.
void mixed_workload(Outbox& outbox) {
  for (int i = 1; i <= 10; ++i) {
    REQUIRE(outbox.enqueue_wait(weighing(i)).status == EnqueueStatus::accepted);
  }
  std::vector<MutationOutcome> answers;
  for (std::uint64_t seq = 1; seq <= 7; ++seq) {
    answers.push_back({seq,
                       seq <= 4 ? MutationOutcome::Kind::applied : MutationOutcome::Kind::rejected,
                       seq <= 4 ? "" : "invalid_payload: test"});
  }
  REQUIRE(outbox.mark_results(answers, 50'000).has_value());
  REQUIRE(outbox.discard_dead("cap-6", "entered twice", 60'000).value());
  REQUIRE(outbox.retry_dead("cap-7").value());
  REQUIRE(outbox.prune(2, 1'000'000).value().rows == 2);
}

}  // namespace

TEST_CASE("outbox: the counts equal COUNT(*) of the rows after a mixed workload") {
  TempDir dir;
  const auto file = dir / "outbox.db";
  auto outbox = open_outbox(file);
  mixed_workload(*outbox);
  const Counts expected{4, 2, 1, 1};
  CHECK(counted(file) == expected);
  CHECK(of(outbox->stats()) == expected);
  // A backend restored from an older backup: acknowledged rows above its high water go back.
  REQUIRE(outbox->rewind_above(3).value() == 1);
  CHECK(of(outbox->stats()) == counted(file));
  CHECK(of(outbox->stats()) == Counts{5, 1, 1, 1});
  // Another process changing states (weighlink-agent outbox retry opens the file itself).
  sql(file, "UPDATE mutations SET state = 'acknowledged' WHERE seq = 9");
  CHECK(of(outbox->stats()) == counted(file));
  check_chain(*outbox);
}

TEST_CASE("outbox: a schema 6 file with rows is upgraded: head moved as signed, counts recounted") {
  TempDir dir;
  const auto file = dir / "outbox.db";
  Outbox::Chain before;
  {
    auto outbox = open_outbox(file);
    mixed_workload(*outbox);
    REQUIRE(outbox->scan([&](const Outbox::Chain& c) { before = c; },
                         [](const weighlink::sync::OutboxRow&) { return true; }));
  }
  REQUIRE(before.head_seq == 10u);
  as_schema_6(file);
  // Counts that drifted under schema 6 are taken from the rows, not carried over.
  sql(file, "UPDATE state_counts SET n = 999 WHERE state = 'pending'");
  auto outbox = open_outbox(file);
  Outbox::Chain after;
  REQUIRE(outbox->scan([&](const Outbox::Chain& c) { after = c; },
                       [](const weighlink::sync::OutboxRow&) { return true; }));
  CHECK(after.head_seq == before.head_seq);
  CHECK(after.head_hash == before.head_hash);
  CHECK(after.head_signature == before.head_signature);
  CHECK(outbox->get_state("chain.head") == std::nullopt);  // moved, not copied
  CHECK(of(outbox->stats()) == Counts{4, 2, 1, 1});
  check_chain(*outbox);
  // The chain and the counts go on from there.
  const auto next = outbox->enqueue_wait(weighing(11));
  REQUIRE(next.status == EnqueueStatus::accepted);
  CHECK(next.row.seq == 11);
  CHECK(of(outbox->stats()) == counted(file));
  check_chain(*outbox);
}

TEST_CASE("outbox: the counts equal COUNT(*) after a SIGKILL in the middle of commits") {
  TempDir dir;
  const auto file = dir / "outbox.db";
  open_outbox(file)->close();
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Producers on the caller's thread and through the writer, and answers changing states, until
    // the kill.
    auto opened = Outbox::open(file, weighlink::testing::signed_options());
    if (!opened) ::_exit(2);
    auto& outbox = **opened;
    std::vector<std::thread> producers;
    for (int t = 0; t < 3; ++t) {
      producers.emplace_back([&outbox, t] {
        for (int i = 1;; ++i) {
          auto m = weighing(t * 1'000'000 + i);
          if (t == 0) {
            (void)outbox.enqueue_wait(std::move(m));
          } else {
            std::promise<void> done;
            outbox.enqueue(std::move(m), [&](auto) { done.set_value(); });
            done.get_future().wait();
          }
        }
      });
    }
    for (std::uint64_t seq = 1;; ++seq) {
      const auto kind = seq % 3 ? MutationOutcome::Kind::applied : MutationOutcome::Kind::rejected;
      while (outbox.stats().last_seq < seq) std::this_thread::yield();
      (void)outbox.mark_results(std::vector<MutationOutcome>{{seq, kind, ""}}, 1000);
    }
  }
  // Killed once it has committed rows in several states: where it stops is the fault injected.
  const bool busy = weighlink::testing::eventually(
      [&] {
        const auto c = counted(file);
        return c.pending > 20 && c.acknowledged > 20 && c.dead > 5;
      },
      std::chrono::seconds(60));
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(busy);
  REQUIRE(WIFSIGNALED(status));
  auto outbox = open_outbox(file);
  const auto rows = counted(file);
  MESSAGE("killed at " << rows);
  CHECK(of(outbox->stats()) == rows);
  CHECK(outbox->stats().rows ==
        static_cast<std::uint64_t>(rows.pending + rows.acknowledged + rows.dead + rows.discarded));
  check_chain(*outbox);
}
