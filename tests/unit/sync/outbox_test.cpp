#include "weighlink/sync/outbox.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <future>
#include <system_error>
#include <thread>
#include <utility>

#include "weighlink/testing/process.hpp"

using weighlink::sync::EnqueueStatus;
using weighlink::sync::MutationOutcome;
using weighlink::sync::MutationState;
using weighlink::sync::NewMutation;
using weighlink::sync::Outbox;
using weighlink::testing::TempDir;

namespace {

std::unique_ptr<Outbox> open_outbox(const std::filesystem::path& file,
                                    weighlink::sync::OutboxOptions options = {}) {
  auto r = Outbox::open(file, std::move(options));
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
  return std::move(*r);
}

NewMutation mutation(const std::string& key, const std::string& hash = "h") {
  return NewMutation{key, "transaction.created", R"({"k":")" + key + "\"}", hash, 1000, {}};
}

}  // namespace

TEST_CASE("outbox: accepted mutations get gapless seqs and survive reopening") {
  TempDir dir;
  {
    auto outbox = open_outbox(dir / "o.db");
    for (int i = 1; i <= 5; ++i) {
      auto r = outbox->enqueue_wait(mutation("k" + std::to_string(i)));
      REQUIRE(r.status == EnqueueStatus::accepted);
      CHECK(r.row.seq == static_cast<std::uint64_t>(i));
    }
  }
  auto outbox = open_outbox(dir / "o.db");
  auto rows = outbox->list(MutationState::pending, 0, 100);
  REQUIRE(rows.size() == 5);
  CHECK(rows.front().idempotency_key == "k1");
  CHECK(rows.back().seq == 5);
  CHECK(outbox->enqueue_wait(mutation("k6")).row.seq == 6);
}

TEST_CASE("outbox: the same key with the same request is replayed, with another is refused") {
  TempDir dir;
  auto outbox = open_outbox(dir / "o.db");
  REQUIRE(outbox->enqueue_wait(mutation("a", "h1")).status == EnqueueStatus::accepted);
  auto again = outbox->enqueue_wait(mutation("a", "h1"));
  CHECK(again.status == EnqueueStatus::replayed);
  CHECK(again.row.seq == 1);
  CHECK(outbox->enqueue_wait(mutation("a", "h2")).status == EnqueueStatus::key_reused);
  CHECK(outbox->stats().pending == 1);
}

TEST_CASE("outbox: concurrent producers share commits and every seq is used once") {
  TempDir dir;
  auto outbox = open_outbox(dir / "o.db");
  constexpr int kThreads = 8, kEach = 40;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::vector<std::vector<std::uint64_t>> seqs(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = outbox->enqueue_wait(mutation("t" + std::to_string(t) + "-" + std::to_string(i)));
        if (r.status == EnqueueStatus::accepted) seqs[t].push_back(r.row.seq);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::uint64_t> all;
  for (auto& s : seqs) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end());
  REQUIRE(all.size() == kThreads * kEach);
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i] == i + 1);
  // Shared: fewer transactions than mutations (one commit per mutation fails this).
  const auto commits = outbox->stats().commits;
  MESSAGE((kThreads * kEach) << " mutations from " << kThreads << " producers in " << commits
                             << " commits");
  CHECK(commits < static_cast<std::uint64_t>(kThreads * kEach));
}

TEST_CASE("outbox: the same key sent twice at once is recorded once, the second told so") {
  TempDir dir;
  auto outbox = open_outbox(dir / "o.db");
  // Queue many so the writer is busy, then the same key twice without waiting.
  std::vector<std::future<weighlink::sync::EnqueueResult>> futures;
  std::promise<weighlink::sync::EnqueueResult> p1, p2;
  outbox->enqueue(mutation("dup"), [&](auto r) { p1.set_value(std::move(r)); });
  outbox->enqueue(mutation("dup"), [&](auto r) { p2.set_value(std::move(r)); });
  auto first = p1.get_future().get();
  auto second = p2.get_future().get();
  const bool one_each =
      (first.status == EnqueueStatus::accepted &&
       (second.status == EnqueueStatus::in_progress || second.status == EnqueueStatus::replayed));
  CHECK(one_each);
  // In progress while the first was being committed, else the first's answer replayed.
  if (second.status == EnqueueStatus::replayed) CHECK(second.row.seq == first.row.seq);
  CHECK(outbox->stats().pending == 1);
}

TEST_CASE("outbox: at its cap new mutations are refused and nothing queued is lost") {
  TempDir dir;
  weighlink::sync::OutboxOptions options;
  options.max_rows = 3;
  auto outbox = open_outbox(dir / "o.db", options);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(outbox->enqueue_wait(mutation("k" + std::to_string(i))).status ==
            EnqueueStatus::accepted);
  }
  auto full = outbox->enqueue_wait(mutation("k3"));
  CHECK(full.status == EnqueueStatus::full);
  CHECK(full.message.find("cap") != std::string::npos);
  CHECK(outbox->stats().pending == 3);
}

TEST_CASE("outbox: backend answers move rows to acknowledged or dead and a restore rewinds them") {
  TempDir dir;
  auto outbox = open_outbox(dir / "o.db");
  for (int i = 1; i <= 4; ++i) (void)outbox->enqueue_wait(mutation("k" + std::to_string(i)));
  std::vector<MutationOutcome> outcomes = {{1, MutationOutcome::Kind::applied, ""},
                                           {2, MutationOutcome::Kind::duplicate, ""},
                                           {3, MutationOutcome::Kind::rejected, "invalid_payload"},
                                           {4, MutationOutcome::Kind::applied, ""}};
  REQUIRE(outbox->mark_results(outcomes, 5000));
  auto stats = outbox->stats();
  CHECK(stats.pending == 0);
  CHECK(stats.acknowledged == 3);
  CHECK(stats.dead == 1);
  CHECK(stats.acknowledged_seq == 4);
  auto dead = outbox->list(MutationState::dead, 0, 10);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].last_error == "invalid_payload");

  // The backend was restored and only holds seq 1: 2 and 4 go back to pending; 3 stays dead.
  auto rewound = outbox->rewind_above(1);
  REQUIRE(rewound);
  CHECK(*rewound == 2);
  CHECK(outbox->stats().pending == 2);

  auto retried = outbox->retry_dead("k3");
  REQUIRE(retried);
  CHECK(*retried);
  CHECK(outbox->stats().pending == 3);
  CHECK_FALSE(*outbox->retry_dead("k3"));
}

TEST_CASE("outbox: numbering continues above the backend's high water after a reinstall") {
  TempDir dir;
  auto outbox = open_outbox(dir / "o.db");
  const auto renumbered = outbox->continue_above(120);
  REQUIRE(renumbered);
  CHECK(*renumbered == 0);  // nothing queued yet
  CHECK(outbox->enqueue_wait(mutation("x")).row.seq == 121);
  CHECK(*outbox->continue_above(90) == 0);  // never back down
  CHECK(outbox->enqueue_wait(mutation("y")).row.seq == 122);
}

TEST_CASE("outbox: a damaged file is refused with a message that says what to do") {
  TempDir dir;
  {
    auto outbox = open_outbox(dir / "o.db");
    for (int i = 0; i < 200; ++i) (void)outbox->enqueue_wait(mutation("k" + std::to_string(i)));
  }
  {
    // Overwrite every b-tree page after the header page with garbage.
    std::fstream f(dir / "o.db", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    const std::string junk(20000, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto r = Outbox::open(dir / "o.db", {});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == std::errc::illegal_byte_sequence);
  CHECK(r.error().message.find("o.db") != std::string::npos);
  CHECK(r.error().message.find("damaged") != std::string::npos);
}

TEST_CASE("outbox: answers recorded later are on disk once their future is ready") {
  TempDir dir;
  auto outbox = open_outbox(dir / "o.db");
  for (int i = 1; i <= 3; ++i) {
    REQUIRE(outbox->enqueue_wait(mutation("k" + std::to_string(i))).status ==
            EnqueueStatus::accepted);
  }
  std::vector<MutationOutcome> outcomes;
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    MutationOutcome o;
    o.seq = seq;
    o.kind = seq == 2 ? MutationOutcome::Kind::rejected : MutationOutcome::Kind::applied;
    o.reason = seq == 2 ? "invalid_payload: x" : "";
    outcomes.push_back(o);
  }
  auto done = outbox->mark_results_later(std::move(outcomes), 5000);
  REQUIRE(done.get().has_value());
  const auto stats = outbox->stats();
  CHECK(stats.acknowledged == 2);
  CHECK(stats.dead == 1);
  CHECK(stats.pending == 0);
  CHECK(outbox->list(MutationState::dead, 0, 10).front().last_error == "invalid_payload: x");

  outbox->close();  // after close: refused, not lost in a queue nobody runs
  auto refused = outbox->mark_results_later({MutationOutcome{}}, 6000);
  CHECK_FALSE(refused.get().has_value());
}
