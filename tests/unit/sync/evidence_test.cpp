// The evidence chain and the outbox's retention: records written by a real outbox (SQLite in a
// temp dir), then altered, removed or reordered the way someone with the file would, and pruned.
#include "weighlink/record/evidence.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <system_error>

#include "evidence_fixture.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/sync/outbox.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::record::ChainPoint;
using weighlink::record::EvidenceProblemCode;
using weighlink::record::EvidenceRecord;
using weighlink::sync::EnqueueStatus;
using weighlink::sync::MutationOutcome;
using weighlink::sync::MutationState;
using weighlink::sync::NewMutation;
using weighlink::sync::Outbox;
using weighlink::sync::OutboxOptions;
using weighlink::sync::StateWrite;
using weighlink::testing::kKey;
using weighlink::testing::open_outbox;
using weighlink::testing::signed_options;
using weighlink::testing::TempDir;
using weighlink::testing::weighing;

namespace {

std::vector<EvidenceRecord> records_of(Outbox& outbox) {
  std::vector<EvidenceRecord> out;
  for (const auto& r : outbox.list(std::nullopt, 0, 100000)) {
    out.push_back({r.seq, r.idempotency_key, r.kind, r.created_at_ms, r.payload_json, r.prev_hash,
                   r.record_hash, r.signature});
  }
  return out;
}

struct Points {
  ChainPoint anchor;
  std::optional<ChainPoint> head;
};

Points points_of(Outbox& outbox) {
  weighlink::sync::Outbox::Chain c;
  REQUIRE(outbox.scan([&](const auto& chain) { c = chain; }, [](const auto&) { return false; })
              .has_value());
  Points p;
  p.anchor = ChainPoint{c.anchor_seq, c.anchor_hash, c.anchor_signature};
  if (c.head_seq) p.head = ChainPoint{*c.head_seq, c.head_hash, c.head_signature};
  return p;
}

weighlink::record::EvidenceReport verify(const std::vector<EvidenceRecord>& records,
                                         const Points& p,
                                         const std::vector<unsigned char>& key = kKey) {
  return weighlink::record::verify_chain(records, p.anchor, p.head, "station-7", key);
}

bool has_problem(const weighlink::record::EvidenceReport& report, EvidenceProblemCode code,
                 std::uint64_t seq) {
  return std::any_of(report.problems.begin(), report.problems.end(),
                     [&](const auto& p) { return p.code == code && p.seq == seq; });
}

std::unique_ptr<Outbox> filled(const TempDir& dir, int n) {
  auto outbox = open_outbox(dir.path() / "outbox.db");
  for (int i = 1; i <= n; ++i) {
    REQUIRE(outbox->enqueue_wait(weighing(i)).status == EnqueueStatus::accepted);
  }
  return outbox;
}

}  // namespace

TEST_CASE("evidence: an untouched outbox verifies, across a reopen") {
  TempDir dir;
  {
    auto outbox = filled(dir, 12);
    const auto report = verify(records_of(*outbox), points_of(*outbox));
    CHECK(report.ok());
    CHECK(report.records == 12);
    CHECK(report.last_seq == 12);
  }
  auto outbox = open_outbox(dir.path() / "outbox.db");
  REQUIRE(outbox->enqueue_wait(weighing(13)).status == EnqueueStatus::accepted);
  const auto records = records_of(*outbox);
  CHECK(records[12].prev_hash == records[11].hash);
  CHECK(verify(records, points_of(*outbox)).ok());
}

TEST_CASE("evidence: a changed weight is found, even with the hash recomputed") {
  TempDir dir;
  auto outbox = filled(dir, 6);
  auto records = records_of(*outbox);
  const auto points = points_of(*outbox);
  records[3].payload_json = R"({"scale":"main","weight":"999","unit":"kg"})";
  auto report = verify(records, points);
  CHECK_FALSE(report.ok());
  CHECK(has_problem(report, EvidenceProblemCode::altered, 4));

  // Someone without the key recomputes the hashes from there on: the signatures give it away.
  for (std::size_t i = 3; i < records.size(); ++i) {
    if (i > 3) records[i].prev_hash = records[i - 1].hash;
    records[i].hash = weighlink::record::chain_hash(
        records[i].prev_hash, {"station-7", records[i].seq, records[i].idempotency_key,
                               records[i].kind, records[i].created_at_ms, records[i].payload_json});
  }
  report = verify(records, points);
  CHECK(has_problem(report, EvidenceProblemCode::bad_signature, 4));
  CHECK_FALSE(has_problem(report, EvidenceProblemCode::altered, 4));
  // A changed created_at or key is caught the same way as a weight.
  records = records_of(*outbox);
  records[1].created_at_ms += 1;
  CHECK(has_problem(verify(records, points), EvidenceProblemCode::altered, 2));
}

TEST_CASE("evidence: a removed record is found, in the middle and at the end") {
  TempDir dir;
  auto outbox = filled(dir, 8);
  const auto points = points_of(*outbox);
  auto records = records_of(*outbox);
  records.erase(records.begin() + 4);  // seq 5
  auto report = verify(records, points);
  CHECK(has_problem(report, EvidenceProblemCode::removed, 6));
  CHECK(report.problems.size() == 1);

  records = records_of(*outbox);
  records.pop_back();  // the newest: only the signed head tells
  report = verify(records, points);
  CHECK(has_problem(report, EvidenceProblemCode::removed, 8));

  records = records_of(*outbox);
  records.erase(records.begin());  // the first: the anchor is genesis, seq 1 is missing
  CHECK(has_problem(verify(records, points), EvidenceProblemCode::removed, 2));
}

TEST_CASE("evidence: a reordered chain is found") {
  TempDir dir;
  auto outbox = filled(dir, 6);
  const auto points = points_of(*outbox);
  auto records = records_of(*outbox);
  std::swap(records[2], records[3]);  // seq 3 and 4 change places, each intact
  const auto report = verify(records, points);
  CHECK_FALSE(report.ok());
  CHECK(has_problem(report, EvidenceProblemCode::reordered, 4));
  CHECK(has_problem(report, EvidenceProblemCode::reordered, 3));
  for (const auto& p : report.problems) CHECK(p.code == EvidenceProblemCode::reordered);
}

TEST_CASE("evidence: another station key verifies nothing") {
  TempDir dir;
  auto outbox = filled(dir, 3);
  const std::vector<unsigned char> other(32, 0x11);
  const auto report = verify(records_of(*outbox), points_of(*outbox), other);
  CHECK(has_problem(report, EvidenceProblemCode::bad_signature, 1));
  CHECK(has_problem(report, EvidenceProblemCode::bad_head, 3));
}

TEST_CASE(
    "outbox: pruning removes acknowledged rows below durable_seq and the chain still verifies") {
  TempDir dir;
  auto outbox = filled(dir, 10);
  std::vector<MutationOutcome> acks;
  for (std::uint64_t seq = 1; seq <= 8; ++seq) acks.push_back({seq, {}, {}});
  acks[2].kind = MutationOutcome::Kind::rejected;  // seq 3 is dead: pruning stops before it
  REQUIRE(outbox->mark_results(acks, 5000).has_value());

  // Nothing is verified in a backup yet: nothing goes.
  auto pruned = outbox->prune(0, 1'000'000);
  REQUIRE(pruned.has_value());
  CHECK(pruned->rows == 0);

  pruned = outbox->prune(8, 1'000'000);
  REQUIRE(pruned.has_value());
  CHECK(pruned->rows == 2);
  CHECK(pruned->anchor_seq == 2);
  CHECK(outbox->stats().rows == 8);
  CHECK(outbox->stats().pruned_through_seq == 2);
  CHECK_FALSE(outbox->find("cap-1"));

  REQUIRE(outbox->retry_dead("cap-3").value());
  REQUIRE(outbox->mark_results(std::vector<MutationOutcome>{{3, {}, {}}}, 6000).has_value());
  // durable_seq 6: rows 3..6 go, 7 and 8 (acknowledged, not yet in a verified backup) stay.
  pruned = outbox->prune(6, 1'000'000);
  REQUIRE(pruned.has_value());
  CHECK(pruned->rows == 4);
  CHECK(pruned->anchor_seq == 6);
  const auto records = records_of(*outbox);
  REQUIRE(records.size() == 4);
  CHECK(records.front().seq == 7);
  CHECK(verify(records, points_of(*outbox)).ok());

  // A faked prune (rows deleted, anchor moved by hand without the key) is found.
  auto points = points_of(*outbox);
  points.anchor.seq = 7;
  points.anchor.hash = records.front().hash;
  std::vector<EvidenceRecord> rest(records.begin() + 1, records.end());
  CHECK(has_problem(verify(rest, points), EvidenceProblemCode::bad_anchor, 7));

  // New records chain on; a reopen continues from the newest row.
  REQUIRE(outbox->enqueue_wait(weighing(11)).status == EnqueueStatus::accepted);
  outbox->close();
  auto again = open_outbox(dir.path() / "outbox.db");
  REQUIRE(again->enqueue_wait(weighing(12)).status == EnqueueStatus::accepted);
  CHECK(verify(records_of(*again), points_of(*again)).ok());
}

TEST_CASE("outbox: pruning keeps rows younger than the retention minimum") {
  TempDir dir;
  auto outbox = open_outbox(dir.path() / "outbox.db");
  for (int i = 1; i <= 6; ++i) {
    REQUIRE(outbox->enqueue_wait(weighing(i, std::int64_t{i} * 1000)).status ==
            EnqueueStatus::accepted);
  }
  std::vector<MutationOutcome> acks;
  for (std::uint64_t seq = 1; seq <= 6; ++seq) acks.push_back({seq, {}, {}});
  REQUIRE(outbox->mark_results(acks, 9000).has_value());
  const auto pruned = outbox->prune(6, 3500);  // created at or before 3.5 s: seq 1..3
  REQUIRE(pruned.has_value());
  CHECK(pruned->rows == 3);
  CHECK(outbox->list(std::nullopt, 0, 100).front().seq == 4);

  // Every row pruned: the chain continues from the anchor, also after a reopen.
  REQUIRE(outbox->prune(6, 10'000).value().rows == 3);
  outbox->close();
  auto again = open_outbox(dir.path() / "outbox.db");
  CHECK(again->stats().rows == 0);
  REQUIRE(again->enqueue_wait(weighing(7, 11'000)).status == EnqueueStatus::accepted);
  const auto records = records_of(*again);
  REQUIRE(records.size() == 1);
  CHECK(records.front().seq == 7);
  CHECK(verify(records, points_of(*again)).ok());
}

TEST_CASE("outbox: state written with a mutation commits only when the mutation is accepted") {
  TempDir dir;
  auto outbox = open_outbox(dir.path() / "outbox.db");
  std::promise<bool> saved;
  outbox->put_state(StateWrite{"axle-session/main", R"({"axles":2})"},
                    [&](boost::system::result<void> r) { saved.set_value(r.has_value()); });
  REQUIRE(saved.get_future().get());
  CHECK(outbox->get_state("axle-session/main") == R"({"axles":2})");

  auto m = weighing(1);
  m.state_writes.push_back({"axle-session/main", std::nullopt});
  REQUIRE(outbox->enqueue_wait(m).status == EnqueueStatus::accepted);
  CHECK_FALSE(outbox->get_state("axle-session/main"));

  // A refused mutation (same key, other request) leaves the state alone.
  std::promise<bool> again;
  outbox->put_state(StateWrite{"axle-session/main", "x"},
                    [&](boost::system::result<void> r) { again.set_value(r.has_value()); });
  REQUIRE(again.get_future().get());
  auto reused = weighing(1);
  reused.request_hash = "other";
  reused.state_writes.push_back({"axle-session/main", std::nullopt});
  CHECK(outbox->enqueue_wait(reused).status == EnqueueStatus::key_reused);
  CHECK(outbox->get_state("axle-session/main") == "x");
  CHECK_FALSE(outbox->get_state("axle-session/other"));
}

TEST_CASE("outbox: a schema 1 file is upgraded and its rows chained") {
  TempDir dir;
  const auto file = dir.path() / "outbox.db";
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    const char* sql = R"sql(
      CREATE TABLE mutations(seq INTEGER PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL, payload TEXT NOT NULL, request_hash TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending','acknowledged','dead')),
        created_at_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL DEFAULT '',
        acknowledged_at_ms INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT INTO mutations(seq, idempotency_key, kind, payload, request_hash, state, created_at_ms)
        VALUES (1, 'a', 'k', '{"w":"1"}', 'h', 'acknowledged', 1), (2, 'b', 'k', '{"w":"2"}', 'h',
        'pending', 2);
      PRAGMA user_version=1;)sql";
    REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto outbox = open_outbox(file);
  REQUIRE(outbox->enqueue_wait(weighing(3)).status == EnqueueStatus::accepted);
  const auto records = records_of(*outbox);
  REQUIRE(records.size() == 3);
  CHECK(records[2].seq == 3);
  CHECK(outbox->find("b")->state == MutationState::pending);
  CHECK(verify(records, points_of(*outbox)).ok());
}

TEST_CASE("evidence: a station key file is read, and a bad one refused with the reason") {
  TempDir dir;
  const auto path = (dir.path() / "station.key").string();
  REQUIRE(weighlink::record::create_station_key(path).has_value());
  CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::group_read) ==
        std::filesystem::perms::none);
  const auto key = weighlink::record::read_station_key(path);
  REQUIRE(key.has_value());
  CHECK(key->size() == 32);
  const auto again = weighlink::record::create_station_key(path);  // never overwritten
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code == std::errc::file_exists);
  CHECK(again.error().message.find("cannot create") != std::string::npos);

  const auto short_key = (dir.path() / "short.key").string();
  std::ofstream(short_key) << "abcd\n";
  const auto too_short = weighlink::record::read_station_key(short_key);
  REQUIRE_FALSE(too_short.has_value());
  CHECK(too_short.error().code == std::errc::invalid_argument);
  CHECK(too_short.error().message.find("64 hex digits") != std::string::npos);
  const auto not_hex = (dir.path() / "nothex.key").string();
  std::ofstream(not_hex) << std::string(64, 'z');
  const auto bad_digit = weighlink::record::read_station_key(not_hex);
  REQUIRE_FALSE(bad_digit.has_value());
  CHECK(bad_digit.error().message.find("not a hex digit") != std::string::npos);
  const auto none = weighlink::record::read_station_key((dir.path() / "none").string());
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().code == std::errc::no_such_file_or_directory);
}

TEST_CASE("outbox: state writes and mutations commit in the order they were asked for") {
  TempDir dir;
  auto outbox = open_outbox(dir.path() / "outbox.db");
  // A session saved, a weighing that closes it, and at once the next session: the next session
  // must survive, however the writer groups them.
  for (int round = 0; round < 50; ++round) {
    const std::string first = "first-" + std::to_string(round);
    const std::string next = "next-" + std::to_string(round);
    std::promise<void> a, c;
    std::promise<EnqueueStatus> b;
    outbox->put_state(StateWrite{"axle-session/main", first},
                      [&](boost::system::result<void>) { a.set_value(); });
    auto m = weighing(round);
    m.state_writes.push_back({"axle-session/main", std::nullopt});
    outbox->enqueue(std::move(m),
                    [&](const weighlink::sync::EnqueueResult& r) { b.set_value(r.status); });
    outbox->put_state(StateWrite{"axle-session/main", next},
                      [&](boost::system::result<void>) { c.set_value(); });
    a.get_future().get();
    CHECK(b.get_future().get() == EnqueueStatus::accepted);
    c.get_future().get();
    CHECK(outbox->get_state("axle-session/main") == next);
  }
}

TEST_CASE("outbox: counts per state stay right across pruning, upgrades and another process") {
  TempDir dir;
  const auto file = dir.path() / "outbox.db";
  auto outbox = filled(dir, 6);
  REQUIRE(outbox
              ->mark_results(
                  std::vector<MutationOutcome>{
                      {1, {}, {}}, {2, {}, {}}, {3, MutationOutcome::Kind::rejected, "bad plate"}},
                  5000)
              .has_value());
  auto st = outbox->stats();
  CHECK(st.pending == 3);
  CHECK(st.acknowledged == 2);
  CHECK(st.dead == 1);
  CHECK(st.acknowledged_seq == 2);
  CHECK(st.oldest_pending_created_at_ms == 1000);

  // Another process (the `outbox retry` command) releases the dead row: the counts follow.
  {
    OutboxOptions tool = signed_options();
    tool.create_if_missing = false;
    tool.check_integrity = false;
    auto other = open_outbox(file, tool);
    REQUIRE(other->retry_dead("cap-3").value());
  }
  st = outbox->stats();
  CHECK(st.pending == 4);
  CHECK(st.dead == 0);

  REQUIRE(outbox->prune(2, 1'000'000).value().rows == 2);
  st = outbox->stats();
  CHECK(st.acknowledged == 0);
  CHECK(st.acknowledged_seq == 0);
  CHECK(st.pending == 4);
  outbox->close();

  // A file from before the counts (schema 2) gets them from its rows.
  weighlink::testing::as_schema_6(file);
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db,
                         "DROP TRIGGER mutations_counted_insert; DROP TRIGGER "
                         "mutations_counted_delete; DROP TRIGGER mutations_counted_update; "
                         "DROP TABLE state_counts; PRAGMA user_version=2;",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto again = open_outbox(file);
  st = again->stats();
  CHECK(st.pending == 4);
  CHECK(st.acknowledged == 0);
  CHECK(st.dead == 0);
}

TEST_CASE("hex: to_hex and from_hex round-trip, and bad input is refused") {
  const std::vector<unsigned char> bytes{0x00, 0x7f, 0x80, 0xff, 0x5a};
  CHECK(weighlink::base::to_hex(bytes) == "007f80ff5a");
  CHECK(weighlink::base::from_hex("007F80ff5A") == bytes);
  CHECK_FALSE(weighlink::base::from_hex("abc"));  // odd length
  CHECK_FALSE(weighlink::base::from_hex("zz"));
  CHECK(weighlink::base::from_hex("")->empty());
}

TEST_CASE(
    "outbox: rows queued offline by a reinstalled station are renumbered at its first contact") {
  // A station PC reinstalled while the link is down: its new outbox numbers from 1, but the
  // backend already holds this station's seqs 1-40 from the earlier installation.
  TempDir dir;
  const auto file = dir.path() / "outbox.db";
  {
    auto outbox = filled(dir, 5);  // cap-1 .. cap-5, seqs 1-5
    const auto moved = outbox->continue_above(40);
    REQUIRE(moved);
    CHECK(*moved == 5);
    const auto rows = outbox->list(std::nullopt, 0, 100);
    REQUIRE(rows.size() == 5);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      CHECK(rows[i].seq == 41 + i);
      CHECK(rows[i].idempotency_key == "cap-" + std::to_string(i + 1));  // order kept
      CHECK(rows[i].state == MutationState::pending);
    }
    CHECK(rows.front().prev_hash == std::string(weighlink::record::kGenesisHash));
    const auto points = points_of(*outbox);
    CHECK(points.anchor.seq == 40);
    const auto report = verify(records_of(*outbox), points);
    CHECK_MESSAGE(report.ok(), (report.problems.empty() ? "" : report.problems[0].message));
    CHECK(report.last_seq == 45);
    CHECK(outbox->stats().pending == 5);
    CHECK(outbox->stats().pruned_through_seq == 40);
    CHECK(outbox->enqueue_wait(weighing(6)).row.seq == 46);
    // Only at the first contact: later answers never renumber (these rows may have been sent).
    CHECK(*outbox->continue_above(50) == 0);
    CHECK(outbox->list(std::nullopt, 0, 1).front().seq == 41);
    CHECK(outbox->enqueue_wait(weighing(7)).row.seq == 51);
  }
  auto reopened = open_outbox(file);
  CHECK(*reopened->continue_above(60) == 0);
  CHECK(reopened->enqueue_wait(weighing(8)).row.seq == 61);
  CHECK(verify(records_of(*reopened), points_of(*reopened)).ok());
}

TEST_CASE("outbox: a first contact below the queued seqs renumbers nothing") {
  TempDir dir;
  auto outbox = filled(dir, 3);
  CHECK(*outbox->continue_above(0) == 0);  // a new station: the backend holds nothing
  CHECK(outbox->list(std::nullopt, 0, 1).front().seq == 1);
  // The first batch was applied and its answer lost: the backend now holds 1-3. Those are this
  // file's own rows, sent after the first contact: never moved, re-sent as they are.
  CHECK(*outbox->continue_above(3) == 0);
  CHECK(outbox->list(std::nullopt, 0, 1).front().seq == 1);
  CHECK(verify(records_of(*outbox), points_of(*outbox)).ok());
}

TEST_CASE("outbox: a file from before schema 4 that holds rows never renumbers them") {
  TempDir dir;
  const auto file = dir.path() / "outbox.db";
  { auto outbox = filled(dir, 3); }
  weighlink::testing::as_schema_6(file);
  {
    // As schema 3 left it: no contact mark.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.string().c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "DELETE FROM meta WHERE key='backend_contact'; PRAGMA user_version=3",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto outbox = open_outbox(file);
  CHECK(*outbox->continue_above(10) == 0);
  CHECK(outbox->list(std::nullopt, 0, 1).front().seq == 1);
}

TEST_CASE(
    "outbox: a discarded dead letter is kept with its reason, never sent again, and pruned "
    "like an acknowledged row") {
  TempDir dir;
  auto outbox = filled(dir, 4);
  const std::vector<MutationOutcome> answers{
      {1, MutationOutcome::Kind::applied, ""},
      {2, MutationOutcome::Kind::rejected,
       "invalid_weight: weight \"1e5\" is not an exact decimal"},
      {3, MutationOutcome::Kind::applied, ""},
      {4, MutationOutcome::Kind::applied, ""}};
  REQUIRE(outbox->mark_results(answers, 5000).has_value());
  CHECK_FALSE(*outbox->discard_dead("cap-1", "not dead", 6000));  // acknowledged: refused
  CHECK_FALSE(*outbox->discard_dead("no-such-key", "x", 6000));
  REQUIRE(*outbox->discard_dead("cap-2", "typed by mistake; re-weighed as cap-9", 6000));
  const auto row = outbox->find("cap-2");
  REQUIRE(row);
  CHECK(row->state == MutationState::discarded);
  CHECK(row->discard_reason == "typed by mistake; re-weighed as cap-9");
  CHECK(row->discarded_at_ms == 6000);
  CHECK(row->last_error == "invalid_weight: weight \"1e5\" is not an exact decimal");
  const auto stats = outbox->stats();
  CHECK(stats.dead == 0);
  CHECK(stats.discarded == 1);
  CHECK(outbox->list(MutationState::pending, 0, 10).empty());
  // Neither a retry nor a late answer for its seq brings it back.
  CHECK_FALSE(*outbox->retry_dead("cap-2"));
  const MutationOutcome late{2, MutationOutcome::Kind::applied, ""};
  REQUIRE(outbox->mark_results(std::span(&late, 1), 7000).has_value());
  CHECK(outbox->find("cap-2")->state == MutationState::discarded);
  CHECK(*outbox->rewind_above(0) == 3);  // a restored backend: acknowledged rows re-sent, not it
  CHECK(outbox->find("cap-2")->state == MutationState::discarded);
  REQUIRE(outbox->mark_results(answers, 8000).has_value());
  // It does not stop pruning, and the chain still verifies after.
  const auto pruned = outbox->prune(4, 1'000'000);
  REQUIRE(pruned.has_value());
  CHECK(pruned->rows == 4);
  CHECK(verify(records_of(*outbox), points_of(*outbox)).ok());
}
