// Outbox::search_weighings: the filters of the operator page's recent weighings.
#include <doctest/doctest.h>

#include <chrono>

#include "weighlink/sync/outbox.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::sync::EnqueueStatus;
using weighlink::sync::MutationOutcome;
using weighlink::sync::MutationState;
using weighlink::sync::NewMutation;
using weighlink::sync::Outbox;
using weighlink::sync::WeighingQuery;
using weighlink::testing::TempDir;

namespace {

std::unique_ptr<Outbox> open_search_outbox(const std::filesystem::path& file) {
  auto r = Outbox::open(file, {});
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
  return std::move(*r);
}

std::uint64_t add(Outbox& o, const std::string& key, const std::string& kind,
                  const std::string& payload) {
  auto r = o.enqueue_wait(NewMutation{key, kind, payload, "h-" + key, 1000, {}});
  REQUIRE(r.status == EnqueueStatus::accepted);
  return r.row.seq;
}

std::vector<std::uint64_t> seqs(const std::vector<weighlink::sync::StoredRecord>& rows) {
  std::vector<std::uint64_t> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(r.row.seq);
  return out;
}

std::vector<bool> archived(const std::vector<weighlink::sync::StoredRecord>& rows) {
  std::vector<bool> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(r.archived);
  return out;
}

}  // namespace

TEST_CASE("outbox search: weighings only, newest first, by plate, text, time, state and page") {
  TempDir dir;
  auto o = open_search_outbox(dir / "o.db");
  const auto w1 = add(*o, "w1", "weighing.captured",
                      R"({"weight":"100","captured_at":"2026-12-06T23:59:59.999Z",)"
                      R"("reference":{"plate":"kbx 123-a","customer":"Mombasa Cement"}})");
  add(*o, "m1", "transaction.created", R"({"reference":{"plate":"KBX123A"}})");
  const auto w2 = add(*o, "w2", "weighing.captured",
                      R"({"weight":"200","captured_at":"2026-12-07T08:00:00.000Z",)"
                      R"("reference":{"plate":"KCA 9","product":"Clinker"}})");
  const auto w3 = add(*o, "w3", "weighing.captured",
                      R"({"weight":"300","captured_at":"2026-12-07T09:00:00.000Z"})");
  const auto w4 = add(*o, "w4", "weighing.captured",
                      R"({"weight":"400","captured_at":"2026-12-08T00:00:00.000Z",)"
                      R"("reference":{"plate":"KBX123A","ticket":17}})");
  const MutationOutcome acked{w2, MutationOutcome::Kind::applied, ""};
  const MutationOutcome rejected{w3, MutationOutcome::Kind::rejected, "bad"};
  REQUIRE(o->mark_results(std::vector{acked, rejected}, 2000));

  WeighingQuery q;
  CHECK(seqs(o->search_weighings(q)) == std::vector{w4, w3, w2, w1});
  q.plate = "KBX123A";
  CHECK(seqs(o->search_weighings(q)) == std::vector{w4, w1});
  q = {};
  q.text = "cement";
  CHECK(seqs(o->search_weighings(q)) == std::vector{w1});
  q.text = "17";  // a number in the reference is searched as its text
  CHECK(seqs(o->search_weighings(q)) == std::vector{w4});
  q = {};
  q.captured_from = "2026-12-07T00:00:00.000Z";
  q.captured_before = "2026-12-08T00:00:00.000Z";
  CHECK(seqs(o->search_weighings(q)) == std::vector{w3, w2});
  q = {};
  q.states = {MutationState::pending};
  CHECK(seqs(o->search_weighings(q)) == std::vector{w4, w1});
  q.states = {MutationState::dead, MutationState::discarded};
  CHECK(seqs(o->search_weighings(q)) == std::vector{w3});
  q = {};
  q.limit = 2;
  CHECK(seqs(o->search_weighings(q)) == std::vector{w4, w3});
  q.before_seq = w3;
  CHECK(seqs(o->search_weighings(q)) == std::vector{w2, w1});
  q.plate = "NOSUCH";
  CHECK(o->search_weighings(q).empty());
}

TEST_CASE(
    "outbox search: pruned weighings are found in the archive, filtered and paged with the rest") {
  TempDir dir;
  auto o = open_search_outbox(dir / "o.db");
  std::vector<std::uint64_t> w;
  std::uint64_t note = 0;  // archived too, and never found: not a weighing
  for (int i = 1; i <= 6; ++i) {
    const std::string plate = i % 2 ? "KBX 123A" : "KCA 9";
    w.push_back(add(*o, "w" + std::to_string(i), "weighing.captured",
                    R"({"weight":")" + std::to_string(i * 100) + R"(","captured_at":"2026-11-0)" +
                        std::to_string(i) + R"(T08:00:00.000Z","reference":{"plate":")" + plate +
                        R"(","customer":"c)" + std::to_string(i) + R"("}})"));
    if (i == 2) note = add(*o, "n1", "note.added", R"({"reference":{"plate":"KBX123A"}})");
  }
  // w1..w4 and the note acknowledged and pruned into the archive; w5 acknowledged and kept, w6
  // still queued.
  std::vector<MutationOutcome> acked;
  for (std::size_t i = 0; i < 5; ++i) acked.push_back({w[i], MutationOutcome::Kind::applied, ""});
  acked.push_back({note, MutationOutcome::Kind::applied, ""});
  REQUIRE(o->mark_results(acked, 2000));
  REQUIRE(o->prune(w[3], 1'000'000).value().rows == 5);
  REQUIRE(o->stats().archived_rows == 5);

  WeighingQuery q;
  auto all = o->search_weighings(q);
  CHECK(seqs(all) == std::vector{w[5], w[4], w[3], w[2], w[1], w[0]});
  CHECK(archived(all) == std::vector{false, false, true, true, true, true});
  CHECK(all[2].row.state == MutationState::acknowledged);  // only acknowledged rows are archived
  CHECK(all[2].row.payload_json.find(R"("weight":"400")") != std::string::npos);

  q.plate = "KBX123A";  // w1, w3, w5: two archived, one not
  CHECK(seqs(o->search_weighings(q)) == std::vector{w[4], w[2], w[0]});
  q = {};
  q.text = "C2";
  CHECK(seqs(o->search_weighings(q)) == std::vector{w[1]});
  q = {};
  q.captured_from = "2026-11-03T00:00:00.000Z";
  q.captured_before = "2026-11-06T00:00:00.000Z";
  CHECK(seqs(o->search_weighings(q)) == std::vector{w[4], w[3], w[2]});
  q = {};
  q.states = {MutationState::acknowledged};
  CHECK(seqs(o->search_weighings(q)) == std::vector{w[4], w[3], w[2], w[1], w[0]});
  q.states = {MutationState::pending};  // nothing queued is ever archived
  CHECK(seqs(o->search_weighings(q)) == std::vector{w[5]});

  // Pages run across the two tables in seq order, none skipped or repeated.
  q = {};
  q.limit = 4;
  CHECK(seqs(o->search_weighings(q)) == std::vector{w[5], w[4], w[3], w[2]});
  q.before_seq = w[2];
  CHECK(seqs(o->search_weighings(q)) == std::vector{w[1], w[0]});
  q.limit = 1;
  q.before_seq = w[5];
  auto one = o->search_weighings(q);
  CHECK(seqs(one) == std::vector{w[4]});
  CHECK(archived(one) == std::vector{false});
  q.before_seq = w[4];
  one = o->search_weighings(q);
  CHECK(seqs(one) == std::vector{w[3]});
  CHECK(archived(one) == std::vector{true});
}
