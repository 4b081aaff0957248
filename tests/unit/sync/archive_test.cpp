// The outbox's evidence archive and read-back (docs/outbox.md, "Evidence archive", "Read-back"):
// a real outbox (SQLite in a temp dir) pruned, trimmed, upgraded and altered the way someone with
// the file would, checked by the verification an inspector uses (evidence_check.hpp).
#include <doctest/doctest.h>
#include <sqlite3.h>

#include "evidence_fixture.hpp"
#include "weighlink/sync/evidence_check.hpp"
#include "weighlink/sync/outbox.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::record::EvidenceProblemCode;
using weighlink::sync::EnqueueStatus;
using weighlink::sync::MutationOutcome;
using weighlink::sync::Outbox;
using weighlink::sync::OutboxOptions;
using weighlink::testing::kKey;
using weighlink::testing::sql;
using weighlink::testing::TempDir;
using weighlink::testing::weighing;

namespace {

constexpr const char* kStation = "station-7";

OutboxOptions options() {
  OutboxOptions o = weighlink::testing::signed_options();
  o.evidence_retention_ms = 10'000;
  return o;
}

std::unique_ptr<Outbox> open_outbox(const std::filesystem::path& file,
                                    OutboxOptions o = options()) {
  return weighlink::testing::open_outbox(file, std::move(o));
}

// n records, seq i created at i seconds, the first `acked` acknowledged.
void fill(Outbox& outbox, int n, std::uint64_t acked) {
  for (int i = 1; i <= n; ++i) {
    REQUIRE(outbox.enqueue_wait(weighing(i, std::int64_t{i} * 1000)).status ==
            EnqueueStatus::accepted);
  }
  std::vector<MutationOutcome> acks;
  for (std::uint64_t seq = 1; seq <= acked; ++seq) acks.push_back({seq, {}, {}});
  REQUIRE(outbox.mark_results(acks, 50'000).has_value());
}

weighlink::sync::EvidenceCheck check_all(Outbox& outbox) {
  auto c = weighlink::sync::verify_evidence(outbox, kStation, kKey);
  REQUIRE(c.has_value());
  return *c;
}

}  // namespace

TEST_CASE("evidence archive: pruned rows are kept with their chain and verify across pruning") {
  TempDir dir;
  auto outbox = open_outbox(dir.path() / "outbox.db");
  fill(*outbox, 10, 6);
  const auto before = outbox->records(1, 10, 100);
  REQUIRE(before.size() == 10);

  const auto pruned = outbox->prune(6, 1'000'000);
  REQUIRE(pruned.has_value());
  CHECK(pruned->rows == 6);
  CHECK(outbox->stats().rows == 4);  // out of the replay set
  CHECK_FALSE(outbox->find("cap-1"));
  CHECK(outbox->list(std::nullopt, 0, 100).front().seq == 7);

  const auto st = outbox->stats();
  CHECK(st.archived_rows == 6);
  CHECK(st.archive_bytes > 6 * 64);
  CHECK(st.archive_oldest_seq == 1);
  CHECK(st.archive_oldest_created_at_ms == 1000);

  // Retrieved by seq range from both places, exactly as written.
  const auto after = outbox->records(5, 8, 100);
  REQUIRE(after.size() == 4);
  CHECK(after[0].archived);
  CHECK(after[1].archived);
  CHECK_FALSE(after[2].archived);
  for (const auto& r : after) {
    const auto& was = before[r.row.seq - 1].row;
    CHECK(r.row.payload_json == was.payload_json);
    CHECK(r.row.record_hash == was.record_hash);
    CHECK(r.row.signature == was.signature);
    CHECK(r.row.prev_hash == was.prev_hash);
  }
  CHECK(outbox->records(5, 8, 3).size() == 3);

  // The whole chain verifies from the archive's anchor, and so does each record, archived or not.
  auto all = check_all(*outbox);
  CHECK_MESSAGE(all.report.ok(), all.report.problems.front().message);
  CHECK(all.report.records == 10);
  CHECK(all.archived == 6);
  for (std::uint64_t seq : {1, 6, 7, 10}) {
    const auto one = weighlink::sync::verify_record(*outbox, seq, kStation, kKey);
    REQUIRE(one);
    CHECK(one->ok());
    CHECK(one->record.archived == (seq <= 6));
  }
  CHECK_FALSE(weighlink::sync::verify_record(*outbox, 11, kStation, kKey));

  // New records chain on after a reopen, and everything still verifies.
  outbox->close();
  auto again = open_outbox(dir.path() / "outbox.db");
  REQUIRE(again->enqueue_wait(weighing(11, 11'000)).status == EnqueueStatus::accepted);
  CHECK(check_all(*again).report.ok());
}

TEST_CASE("evidence archive: an altered archived record is found by both verifications") {
  TempDir dir;
  const auto file = dir.path() / "outbox.db";
  auto outbox = open_outbox(file);
  fill(*outbox, 6, 4);
  REQUIRE(outbox->prune(4, 1'000'000).value().rows == 4);
  sql(file, R"(UPDATE archive SET payload = replace(payload, '1002', '1902') WHERE seq = 2)");

  const auto one = weighlink::sync::verify_record(*outbox, 2, kStation, kKey);
  REQUIRE(one);
  CHECK_FALSE(one->hash_ok);
  CHECK(one->signature_ok);  // the hash itself was not touched
  CHECK(one->chain_ok);
  REQUIRE_FALSE(one->problems.empty());
  CHECK(one->problems.front().code == EvidenceProblemCode::altered);
  CHECK(weighlink::sync::verify_record(*outbox, 3, kStation, kKey)->ok());

  const auto all = check_all(*outbox);
  CHECK_FALSE(all.report.ok());
  CHECK(all.report.problems.front().code == EvidenceProblemCode::altered);
  CHECK(all.report.problems.front().seq == 2);

  // Archived rows deleted by hand (no signed anchor for it) are found too.
  sql(file, "DELETE FROM archive WHERE seq <= 2");
  const auto cut = check_all(*outbox);
  CHECK_FALSE(cut.report.ok());
  CHECK(cut.report.problems.front().code == EvidenceProblemCode::removed);
}

TEST_CASE("evidence archive: trimmed only past the retention period, and the chain still holds") {
  TempDir dir;
  auto outbox = open_outbox(dir.path() / "outbox.db");  // retention 10 s
  fill(*outbox, 8, 8);
  REQUIRE(outbox->prune(8, 1'000'000).value().rows == 8);

  // At 14.5 s, records created before 4.5 s (seq 1..4) are past the retention period.
  auto trimmed = outbox->trim_archive(14'500);
  REQUIRE(trimmed.has_value());
  CHECK(trimmed->rows == 4);
  CHECK(trimmed->anchor_seq == 4);
  // Again at the same time: nothing younger goes.
  CHECK(outbox->trim_archive(14'500).value().rows == 0);
  auto st = outbox->stats();
  CHECK(st.archived_rows == 4);
  CHECK(st.archive_oldest_seq == 5);
  CHECK(st.archive_trimmed_through_seq == 4);
  CHECK(outbox->records(1, 8, 100).front().row.seq == 5);

  auto all = check_all(*outbox);
  CHECK(all.report.ok());
  CHECK(all.chain.archive_anchor_seq == 4);
  CHECK(weighlink::sync::verify_record(*outbox, 5, kStation, kKey)->ok());

  // A younger record stops the trim before it, even with older ones after it (the clock went
  // back).
  REQUIRE(outbox->enqueue_wait(weighing(9, 30'000)).status == EnqueueStatus::accepted);
  REQUIRE(outbox->enqueue_wait(weighing(10, 1'000)).status == EnqueueStatus::accepted);
  REQUIRE(outbox->mark_results(std::vector<MutationOutcome>{{9, {}, {}}, {10, {}, {}}}, 60'000)
              .has_value());
  REQUIRE(outbox->prune(10, 1'000'000).value().rows == 2);
  CHECK(outbox->trim_archive(28'500).value().anchor_seq == 8);  // 9 is younger than 10 s
  CHECK(outbox->stats().archived_rows == 2);
  CHECK(check_all(*outbox).report.ok());

  // A faked trim (rows deleted, the archive's anchor moved by hand) is found.
  outbox->close();
  sql(dir.path() / "outbox.db",
      "UPDATE state SET value = '9 ' || (SELECT record_hash FROM archive WHERE seq = 9) || ' x' "
      "WHERE key = 'chain.archive_anchor'; DELETE FROM archive WHERE seq = 9;");
  auto again = open_outbox(dir.path() / "outbox.db");
  const auto faked = check_all(*again);
  CHECK_FALSE(faked.report.ok());
  CHECK(faked.report.problems.front().code == EvidenceProblemCode::bad_anchor);
}

TEST_CASE("evidence archive: at its disk cap nothing more is pruned and nothing is lost") {
  TempDir dir;
  auto o = options();
  o.archive_max_bytes = 300;  // about two records
  auto outbox = open_outbox(dir.path() / "outbox.db", o);
  fill(*outbox, 6, 6);
  REQUIRE(outbox->prune(3, 1'000'000).value().rows == 3);
  CHECK(outbox->stats().archive_bytes >= 300);
  // The archive is at its cap: the rows stay in the outbox.
  CHECK(outbox->prune(6, 1'000'000).value().rows == 0);
  CHECK(outbox->stats().rows == 3);
  CHECK(outbox->records(1, 6, 10).size() == 6);
  // Once the oldest pass the retention period and are trimmed, pruning moves on.
  REQUIRE(outbox->trim_archive(100'000).value().rows == 3);
  CHECK(outbox->prune(6, 1'000'000).value().rows == 3);
  CHECK(check_all(*outbox).report.ok());
}

TEST_CASE("evidence archive: a schema 5 file with pruned rows is upgraded, its chain kept") {
  TempDir dir;
  const auto file = dir.path() / "outbox.db";
  {
    auto outbox = open_outbox(file);
    fill(*outbox, 5, 2);
    REQUIRE(outbox->prune(2, 1'000'000).value().rows == 2);
  }
  // As an agent before the archive left it: rows 1-2 deleted, the anchor at 2.
  weighlink::testing::as_schema_6(file);
  sql(file,
      "DROP TRIGGER archive_counted_insert; DROP TRIGGER archive_counted_delete; DROP TABLE "
      "archive; DELETE FROM meta WHERE key IN ('archive_bytes', 'archive_rows'); DELETE FROM "
      "state WHERE key = 'chain.archive_anchor'; PRAGMA user_version=5;");
  auto outbox = open_outbox(file);
  const auto all = check_all(*outbox);
  CHECK(all.report.ok());
  CHECK(all.chain.archive_anchor_seq == 2);
  CHECK(all.report.records == 3);
  CHECK(outbox->stats().archived_rows == 0);
  // seq 3's link is checked against the signed anchor.
  CHECK(weighlink::sync::verify_record(*outbox, 3, kStation, kKey)->ok());
}

TEST_CASE("outbox: a row that reads back different from what was written is not reported") {
  TempDir dir;
  const auto file = dir.path() / "outbox.db";
  {
    auto outbox = open_outbox(file);
    const auto ok = outbox->enqueue_wait(weighing(1, 1000));
    REQUIRE(ok.status == EnqueueStatus::accepted);
    CHECK(outbox->stats().readback_failures == 0);
  }
  // Something between the agent and the disk changes what is stored.
  sql(file,
      "CREATE TRIGGER garble AFTER INSERT ON mutations BEGIN UPDATE mutations SET payload = "
      "replace(payload, '1002', '1092') WHERE seq = NEW.seq; END;");
  auto outbox = open_outbox(file);
  const auto bad = outbox->enqueue_wait(weighing(2, 2000));
  CHECK(bad.status == EnqueueStatus::readback_failed);
  CHECK(bad.message.find("payload") != std::string::npos);
  CHECK(outbox->stats().readback_failures == 1);
  // A row the trigger leaves alone is answered as usual.
  CHECK(outbox->enqueue_wait(weighing(3, 3000)).status == EnqueueStatus::accepted);
}
