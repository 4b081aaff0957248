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

std::vector<std::uint64_t> seqs(const std::vector<weighlink::sync::OutboxRow>& rows) {
  std::vector<std::uint64_t> out;
  for (const auto& r : rows) out.push_back(r.seq);
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
