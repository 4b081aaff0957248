// What the replay worker and the operator's tools change in the outbox after a mutation was
// queued: the backend's answers, rewinds after a restore, dead letters released or discarded,
// renumbering above a backend's high water, and pruning. Each runs as one transaction on the
// writer thread (outbox_writer.cpp).
#include <spdlog/spdlog.h>

#include "outbox_schema.hpp"
#include "outbox_sqlite.hpp"
#include "weighlink/record/evidence.hpp"

namespace weighlink::sync::detail {
namespace {

using sqlite::exec;
using sqlite::sqlite_error;
using sqlite::Stmt;

// The backend's answers on their rows: applied/duplicate -> acknowledged, rejected -> dead.
boost::system::result<void> write_results(sqlite3* db, std::span<const MutationOutcome> outcomes,
                                          std::int64_t now_ms) {
  Stmt s(db,
         "UPDATE mutations SET state=?, outcome=?, last_error=?, acknowledged_at_ms=?, "
         "attempts=attempts+1 WHERE seq=? AND state <> 'discarded'");
  for (const auto& o : outcomes) {
    const bool rejected = o.kind == MutationOutcome::Kind::rejected;
    s.reset();
    s.bind(1, to_string(rejected ? MutationState::dead : MutationState::acknowledged));
    s.bind(2, std::string_view(o.kind == MutationOutcome::Kind::applied     ? "applied"
                               : o.kind == MutationOutcome::Kind::duplicate ? "duplicate"
                                                                            : "rejected"));
    s.bind(3, o.reason);
    s.bind(4, now_ms);
    s.bind(5, static_cast<std::int64_t>(o.seq));
    if (s.step() != SQLITE_DONE) return sqlite_error(s.rc());
  }
  return {};
}

// One UPDATE whose changed row count is the answer.
boost::system::result<std::uint64_t> changed_rows(Stmt& s, sqlite3* db) {
  if (s.step() != SQLITE_DONE) return sqlite_error(s.rc());
  return static_cast<std::uint64_t>(sqlite3_changes(db));
}

}  // namespace

boost::system::result<void> SqliteOutbox::mark_results(std::span<const MutationOutcome> outcomes,
                                                       std::int64_t now_ms) {
  return run_on_writer([&](sqlite3* db) { return write_results(db, outcomes, now_ms); });
}

std::future<boost::system::result<void>> SqliteOutbox::mark_results_later(
    std::vector<MutationOutcome> outcomes, std::int64_t now_ms) {
  return submit_on_writer([outcomes = std::move(outcomes), now_ms](sqlite3* db) {
    return write_results(db, outcomes, now_ms);
  });
}

boost::system::result<void> SqliteOutbox::mark_attempt_failed(std::span<const std::uint64_t> seqs,
                                                              const std::string& error) {
  return run_on_writer([&](sqlite3* db) -> boost::system::result<void> {
    Stmt s(db, "UPDATE mutations SET attempts=attempts+1, last_error=? WHERE seq=?");
    for (const auto seq : seqs) {
      s.reset().bind(1, error).bind(2, static_cast<std::int64_t>(seq));
      if (s.step() != SQLITE_DONE) return sqlite_error(s.rc());
    }
    return {};
  });
}

boost::system::result<std::uint64_t> SqliteOutbox::rewind_above(std::uint64_t high_water_seq) {
  std::uint64_t changed = 0;
  auto r = run_on_writer([&](sqlite3* db) -> boost::system::result<void> {
    Stmt s(db,
           "UPDATE mutations SET state='pending', outcome='' "
           "WHERE state='acknowledged' AND seq > ?");
    s.bind(1, static_cast<std::int64_t>(high_water_seq));
    auto n = changed_rows(s, db);
    if (!n) return n.error();
    changed = *n;
    return {};
  });
  if (!r) return {boost::system::in_place_error, r.error()};
  return changed;
}

boost::system::result<bool> SqliteOutbox::retry_dead(const std::string& key) {
  std::uint64_t changed = 0;
  auto r = run_on_writer([&](sqlite3* db) -> boost::system::result<void> {
    Stmt s(db,
           "UPDATE mutations SET state='pending', outcome='' "
           "WHERE state='dead' AND idempotency_key=?");
    s.bind(1, key);
    auto n = changed_rows(s, db);
    if (!n) return n.error();
    changed = *n;
    return {};
  });
  if (!r) return {boost::system::in_place_error, r.error()};
  if (changed > 0 && on_commit_) on_commit_();
  return changed > 0;
}

boost::system::result<bool> SqliteOutbox::discard_dead(const std::string& key,
                                                       const std::string& reason,
                                                       std::int64_t now_ms) {
  std::uint64_t changed = 0;
  auto r = run_on_writer([&](sqlite3* db) -> boost::system::result<void> {
    Stmt s(db,
           "UPDATE mutations SET state='discarded', discard_reason=?, discarded_at_ms=? "
           "WHERE state='dead' AND idempotency_key=?");
    s.bind(1, reason).bind(2, now_ms).bind(3, key);
    auto n = changed_rows(s, db);
    if (!n) return n.error();
    changed = *n;
    return {};
  });
  if (!r) return {boost::system::in_place_error, r.error()};
  return changed > 0;
}

boost::system::result<std::uint64_t> SqliteOutbox::continue_above(std::uint64_t high_water) {
  std::uint64_t renumbered = 0;
  std::optional<std::uint64_t> new_anchor;
  auto r = run_on_writer([&](sqlite3* db) -> boost::system::result<void> {
    Stmt contact(db, "SELECT 1 FROM meta WHERE key = 'backend_contact'");
    if (contact.step() != SQLITE_ROW) {
      // This file's first answer from a backend, before any Replay: seqs up to high_water
      // were used by an earlier installation of this station, never by these rows.
      if (auto moved = renumber_above(db, high_water); !moved) {
        return {boost::system::in_place_error, moved.error()};
      } else if (*moved > 0) {
        renumbered = *moved;
        new_anchor = high_water;
      }
      if (!exec(db, "INSERT INTO meta(key, value) VALUES('backend_contact', 1)")) {
        return sqlite_error(sqlite3_errcode(db));
      }
    }
    if (high_water <= last_seq_) return {};
    Stmt s(db,
           "INSERT INTO meta(key, value) VALUES('seq_floor', ?) "
           "ON CONFLICT(key) DO UPDATE SET value=excluded.value");
    s.bind(1, static_cast<std::int64_t>(high_water));
    if (s.step() != SQLITE_DONE) return sqlite_error(s.rc());
    last_seq_ = high_water;
    return {};
  });
  if (!r) return {boost::system::in_place_error, r.error()};
  if (new_anchor) {
    std::lock_guard lock(mu_);
    anchor_seq_ = *new_anchor;
  }
  return renumbered;
}

boost::system::result<PruneResult> SqliteOutbox::prune(std::uint64_t durable_seq,
                                                       std::int64_t created_before_ms) {
  PruneResult result;
  bool archive_full = false;
  auto r = run_on_writer([&](sqlite3* db) -> boost::system::result<void> {
    // The evidence archive at its cap: the rows stay where they are (never dropped).
    Stmt used(db, "SELECT value FROM meta WHERE key = 'archive_bytes'");
    if (used.step() == SQLITE_ROW && static_cast<std::uint64_t>(std::max<std::int64_t>(
                                         0, used.i64(0))) >= options_.archive_max_bytes) {
      archive_full = true;
      return {};
    }
    // The prefix that may go: below the first row that must stay.
    Stmt stop(db,
              "SELECT MIN(seq) FROM mutations WHERE state NOT IN ('acknowledged', 'discarded') OR "
              "created_at_ms > ? OR seq > ?");
    stop.bind(1, created_before_ms).bind(2, static_cast<std::int64_t>(durable_seq));
    if (stop.step() != SQLITE_ROW) return sqlite_error(stop.rc());
    std::uint64_t through = durable_seq;
    if (!stop.is_null(0)) {
      through = std::min<std::uint64_t>(through, static_cast<std::uint64_t>(stop.i64(0)) - 1);
    }
    Stmt last(db,
              "SELECT seq, record_hash FROM mutations WHERE seq <= ? ORDER BY seq DESC "
              "LIMIT 1");
    last.bind(1, static_cast<std::int64_t>(through));
    if (last.step() != SQLITE_ROW) return {};  // nothing to prune
    const auto anchor_seq = static_cast<std::uint64_t>(last.i64(0));
    const auto anchor_hash = last.text(1);
    // Moved, not deleted: the evidence is kept for the legal period (trim_archive).
    const std::string copy = std::string("INSERT INTO archive(") + kRowColumns + ") SELECT " +
                             kRowColumns + " FROM mutations WHERE seq <= ?";
    Stmt archive(db, copy.c_str());
    archive.bind(1, static_cast<std::int64_t>(anchor_seq));
    if (archive.step() != SQLITE_DONE) return sqlite_error(archive.rc());
    Stmt del(db, "DELETE FROM mutations WHERE seq <= ?");
    del.bind(1, static_cast<std::int64_t>(anchor_seq));
    auto n = changed_rows(del, db);
    if (!n) return n.error();
    result.rows = *n;
    const int rc =
        put_state_row(db, signed_point(options_, ChainPoint::anchor, anchor_seq, anchor_hash));
    if (rc != SQLITE_OK) return sqlite_error(rc);
    result.anchor_seq = anchor_seq;
    return {};
  });
  if (!r) return {boost::system::in_place_error, r.error()};
  if (archive_full != archive_full_.exchange(archive_full) && archive_full) {
    spdlog::warn(
        "outbox {}: the evidence archive is at its cap ({} bytes, evidence.max_archive_mb): "
        "acknowledged records stay in the outbox until the oldest archived ones pass the "
        "retention period; raise the cap or free disk space",
        file_.string(), options_.archive_max_bytes);
  }
  if (result.rows > 0) {
    row_count_ -= result.rows;
    std::lock_guard lock(mu_);
    anchor_seq_ = result.anchor_seq;
    full_ = false;  // room again; the next refusal, if any, sets it back
  }
  return result;
}

boost::system::result<PruneResult> SqliteOutbox::trim_archive(std::int64_t now_ms) {
  PruneResult result;
  const std::int64_t created_before_ms = now_ms - options_.evidence_retention_ms;
  auto r = run_on_writer([&](sqlite3* db) -> boost::system::result<void> {
    // A prefix only, and nothing younger than the retention period.
    Stmt stop(db, "SELECT MIN(seq) FROM archive WHERE created_at_ms >= ?");
    stop.bind(1, created_before_ms);
    if (stop.step() != SQLITE_ROW) return sqlite_error(stop.rc());
    std::string sql = "SELECT seq, record_hash FROM archive";
    if (!stop.is_null(0)) sql += " WHERE seq < ?";
    sql += " ORDER BY seq DESC LIMIT 1";
    Stmt last(db, sql.c_str());
    if (!stop.is_null(0)) last.bind(1, stop.i64(0));
    if (last.step() != SQLITE_ROW) return {};  // nothing old enough
    const auto through = static_cast<std::uint64_t>(last.i64(0));
    const auto hash = last.text(1);
    Stmt del(db, "DELETE FROM archive WHERE seq <= ?");
    del.bind(1, static_cast<std::int64_t>(through));
    auto n = changed_rows(del, db);
    if (!n) return n.error();
    result.rows = *n;
    result.anchor_seq = through;
    const int rc =
        put_state_row(db, signed_point(options_, ChainPoint::archive_anchor, through, hash));
    if (rc != SQLITE_OK) return sqlite_error(rc);
    return {};
  });
  if (!r) return {boost::system::in_place_error, r.error()};
  if (result.rows > 0) {
    spdlog::info(
        "outbox {}: {} archived records up to seq {} passed the retention period and were "
        "deleted",
        file_.string(), result.rows, result.anchor_seq);
  }
  return result;
}

// Writer thread, in its transaction. When the oldest row's seq is at or below `high_water`,
// moves every row up so that the oldest is high_water + 1 (order kept), chains them again from
// the genesis hash, signs them again, and anchors the chain at `high_water` (so verify-evidence
// expects the chain to start there). Returns how many rows moved. Refused (nothing moved) when a
// row was acknowledged or pruned: then these seqs were the backend's answer to this file.
boost::system::result<std::uint64_t> SqliteOutbox::renumber_above(sqlite3* db,
                                                                  std::uint64_t high_water) {
  Stmt range(db,
             "SELECT MIN(seq), MAX(seq), COUNT(*), "
             "(SELECT COUNT(*) FROM mutations WHERE state = 'acknowledged') FROM mutations");
  if (range.step() != SQLITE_ROW) return sqlite_error(range.rc());
  if (range.is_null(0)) return std::uint64_t{0};
  const auto oldest = static_cast<std::uint64_t>(range.i64(0));
  const auto count = static_cast<std::uint64_t>(range.i64(2));
  if (oldest > high_water) return std::uint64_t{0};
  if (range.i64(3) > 0 || read_chain(db).anchor_seq > 0) {
    spdlog::error(
        "outbox {}: the backend already holds seqs up to {}, which this file used for rows it "
        "sent before; not renumbering them (docs/outbox.md, \"Reinstalled stations\")",
        file_.string(), high_water);
    return std::uint64_t{0};
  }
  const auto shift = static_cast<std::int64_t>(high_water + 1 - oldest);
  // Two steps, so that no row lands on a seq another still holds (seq is the primary key).
  if (!exec(db, "UPDATE mutations SET seq = -seq")) {
    return sqlite_error(sqlite3_errcode(db));
  }
  Stmt move(db, "UPDATE mutations SET seq = ? - seq");
  move.bind(1, shift);
  if (move.step() != SQLITE_DONE) return sqlite_error(move.rc());

  const auto chained = rechain_all(db, options_);
  if (chained.rc != SQLITE_OK) return sqlite_error(chained.rc);
  if (const int rc = write_head(db, chained.last_seq, chained.last_hash,
                                sign_head(options_, chained.last_seq, chained.last_hash));
      rc != SQLITE_OK) {
    return sqlite_error(rc);
  }
  const std::string genesis(record::kGenesisHash);
  for (const auto point : {ChainPoint::anchor, ChainPoint::archive_anchor}) {
    if (const int rc = put_state_row(db, signed_point(options_, point, high_water, genesis));
        rc != SQLITE_OK) {
      return sqlite_error(rc);
    }
  }
  spdlog::warn(
      "outbox {}: the backend already holds seqs 1-{} of station {} (an earlier installation); "
      "the {} mutations queued here before this first contact are now seqs {}-{}, chained and "
      "signed again",
      file_.string(), high_water, options_.station_id, count, high_water + 1, chained.last_seq);
  last_seq_ = chained.last_seq;
  last_hash_ = chained.last_hash;
  return count;
}

}  // namespace weighlink::sync::detail
