// The outbox file's schema, its upgrades, its rows and the evidence chain's stored points.
#include "outbox_schema.hpp"

#include <spdlog/spdlog.h>

#include <iterator>

#include "weighlink/record/evidence.hpp"

namespace weighlink::sync::detail {
namespace {

using sqlite::exec;
using sqlite::Stmt;
using sqlite::Transaction;

constexpr int kSchemaVersion = 7;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS mutations(
  seq INTEGER PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending','acknowledged','dead')),
  created_at_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  outcome TEXT NOT NULL DEFAULT '',
  acknowledged_at_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS mutations_by_state ON mutations(state, seq);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql";

// Schema 2: the evidence chain on every row, and durable key-value state (axle sessions, the
// chain's anchor and head).
constexpr const char* kSchema2 = R"sql(
ALTER TABLE mutations ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE mutations ADD COLUMN record_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE mutations ADD COLUMN signature TEXT NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS state(key TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql";

// Schema 3: rows per state kept by triggers, so stats() reads three rows and two index ends
// instead of counting the whole file (it runs after every replay batch and every status message),
// and stays right when `weighlink-agent outbox retry` changes states from another process.
constexpr const char* kSchema3 = R"sql(
CREATE TABLE IF NOT EXISTS state_counts(state TEXT PRIMARY KEY, n INTEGER NOT NULL);
INSERT OR IGNORE INTO state_counts(state, n) VALUES ('pending', 0), ('acknowledged', 0), ('dead', 0);
UPDATE state_counts SET n = (SELECT COUNT(*) FROM mutations WHERE mutations.state = state_counts.state);
CREATE TRIGGER IF NOT EXISTS mutations_counted_insert AFTER INSERT ON mutations BEGIN
  UPDATE state_counts SET n = n + 1 WHERE state = NEW.state;
END;
CREATE TRIGGER IF NOT EXISTS mutations_counted_delete AFTER DELETE ON mutations BEGIN
  UPDATE state_counts SET n = n - 1 WHERE state = OLD.state;
END;
CREATE TRIGGER IF NOT EXISTS mutations_counted_update AFTER UPDATE OF state ON mutations
WHEN OLD.state <> NEW.state BEGIN
  UPDATE state_counts SET n = n - 1 WHERE state = OLD.state;
  UPDATE state_counts SET n = n + 1 WHERE state = NEW.state;
END;
PRAGMA user_version=3;
)sql";

// Schema 4: meta 'backend_contact' once a backend has answered this file (continue_above). A file
// from before that has rows, an anchor or a seq floor may have talked to a backend already: marked.
constexpr const char* kSchema4 = R"sql(
INSERT OR IGNORE INTO meta(key, value)
  SELECT 'backend_contact', 1
  WHERE EXISTS (SELECT 1 FROM mutations) OR EXISTS (SELECT 1 FROM state WHERE key = 'chain.anchor')
     OR EXISTS (SELECT 1 FROM meta WHERE key = 'seq_floor');
PRAGMA user_version=4;
)sql";

// Schema 5: a dead letter can be discarded for good (`weighlink-agent outbox discard`): the state
// 'discarded', with its reason and time. SQLite cannot change a CHECK constraint in place, so the
// table is rebuilt, in one transaction, as https://www.sqlite.org/lang_altertable.html describes
// (no foreign keys or views refer to it); its index and the count triggers come back with it.
constexpr const char* kSchema5 = R"sql(
CREATE TABLE mutations_v5(
  seq INTEGER PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending','acknowledged','dead','discarded')),
  created_at_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  outcome TEXT NOT NULL DEFAULT '',
  acknowledged_at_ms INTEGER NOT NULL DEFAULT 0,
  prev_hash TEXT NOT NULL DEFAULT '',
  record_hash TEXT NOT NULL DEFAULT '',
  signature TEXT NOT NULL DEFAULT '',
  discard_reason TEXT NOT NULL DEFAULT '',
  discarded_at_ms INTEGER NOT NULL DEFAULT 0
);
INSERT INTO mutations_v5(seq, idempotency_key, kind, payload, request_hash, state, created_at_ms,
                         attempts, last_error, outcome, acknowledged_at_ms, prev_hash, record_hash,
                         signature)
  SELECT seq, idempotency_key, kind, payload, request_hash, state, created_at_ms, attempts,
         last_error, outcome, acknowledged_at_ms, prev_hash, record_hash, signature
  FROM mutations;
DROP TABLE mutations;
ALTER TABLE mutations_v5 RENAME TO mutations;
CREATE INDEX mutations_by_state ON mutations(state, seq);
CREATE TRIGGER mutations_counted_insert AFTER INSERT ON mutations BEGIN
  UPDATE state_counts SET n = n + 1 WHERE state = NEW.state;
END;
CREATE TRIGGER mutations_counted_delete AFTER DELETE ON mutations BEGIN
  UPDATE state_counts SET n = n - 1 WHERE state = OLD.state;
END;
CREATE TRIGGER mutations_counted_update AFTER UPDATE OF state ON mutations
WHEN OLD.state <> NEW.state BEGIN
  UPDATE state_counts SET n = n - 1 WHERE state = OLD.state;
  UPDATE state_counts SET n = n + 1 WHERE state = NEW.state;
END;
INSERT OR IGNORE INTO state_counts(state, n) VALUES ('discarded', 0);
PRAGMA user_version=5;
)sql";

// Schema 6: the evidence archive. prune() moves rows here instead of deleting them; trim_archive()
// deletes them once past the retention period. Same columns as mutations (read_row reads both);
// its size in bytes and rows kept by triggers in meta, as state_counts does for mutations.
constexpr const char* kSchema6 = R"sql(
CREATE TABLE IF NOT EXISTS archive(
  seq INTEGER PRIMARY KEY,
  idempotency_key TEXT NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  outcome TEXT NOT NULL DEFAULT '',
  acknowledged_at_ms INTEGER NOT NULL DEFAULT 0,
  prev_hash TEXT NOT NULL DEFAULT '',
  record_hash TEXT NOT NULL DEFAULT '',
  signature TEXT NOT NULL DEFAULT '',
  discard_reason TEXT NOT NULL DEFAULT '',
  discarded_at_ms INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO meta(key, value) VALUES ('archive_bytes', 0), ('archive_rows', 0);
CREATE TRIGGER IF NOT EXISTS archive_counted_insert AFTER INSERT ON archive BEGIN
  UPDATE meta SET value = value + 64 + length(CAST(NEW.payload AS BLOB))
      + length(CAST(NEW.idempotency_key AS BLOB)) + length(CAST(NEW.kind AS BLOB))
      + length(NEW.request_hash) + length(NEW.prev_hash) + length(NEW.record_hash)
      + length(NEW.signature) WHERE key = 'archive_bytes';
  UPDATE meta SET value = value + 1 WHERE key = 'archive_rows';
END;
CREATE TRIGGER IF NOT EXISTS archive_counted_delete AFTER DELETE ON archive BEGIN
  UPDATE meta SET value = value - 64 - length(CAST(OLD.payload AS BLOB))
      - length(CAST(OLD.idempotency_key AS BLOB)) - length(CAST(OLD.kind AS BLOB))
      - length(OLD.request_hash) - length(OLD.prev_hash) - length(OLD.record_hash)
      - length(OLD.signature) WHERE key = 'archive_bytes';
  UPDATE meta SET value = value - 1 WHERE key = 'archive_rows';
END;
)sql";

// Schema 7: the chain's signed head and the rows per state in one row of one table, so a commit
// writes one page for them (schema 3's counts and the head in the state table were two, and the
// insert trigger ran per row): each commit's own UPDATE sets the head and adds its rows to
// `pending`. Changes of state and deletions, which other processes make too (`weighlink-agent
// outbox retry`, pruning), keep the counts through triggers on that row. The counts start from
// the rows themselves; upgrade_to_7 moves the head out of the state table.
constexpr const char* kSchema7 = R"sql(
CREATE TABLE head(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL DEFAULT 0,
  hash TEXT NOT NULL DEFAULT '',
  signature TEXT NOT NULL DEFAULT '',
  pending INTEGER NOT NULL DEFAULT 0,
  acknowledged INTEGER NOT NULL DEFAULT 0,
  dead INTEGER NOT NULL DEFAULT 0,
  discarded INTEGER NOT NULL DEFAULT 0
);
INSERT INTO head(id, pending, acknowledged, dead, discarded) VALUES (1,
  (SELECT COUNT(*) FROM mutations WHERE state = 'pending'),
  (SELECT COUNT(*) FROM mutations WHERE state = 'acknowledged'),
  (SELECT COUNT(*) FROM mutations WHERE state = 'dead'),
  (SELECT COUNT(*) FROM mutations WHERE state = 'discarded'));
DROP TRIGGER IF EXISTS mutations_counted_insert;
DROP TRIGGER IF EXISTS mutations_counted_delete;
DROP TRIGGER IF EXISTS mutations_counted_update;
DROP TABLE IF EXISTS state_counts;
CREATE TRIGGER mutations_counted_delete AFTER DELETE ON mutations BEGIN
  UPDATE head SET pending = pending - (OLD.state = 'pending'),
      acknowledged = acknowledged - (OLD.state = 'acknowledged'),
      dead = dead - (OLD.state = 'dead'), discarded = discarded - (OLD.state = 'discarded')
    WHERE id = 1;
END;
CREATE TRIGGER mutations_counted_update AFTER UPDATE OF state ON mutations
WHEN OLD.state <> NEW.state BEGIN
  UPDATE head SET pending = pending - (OLD.state = 'pending') + (NEW.state = 'pending'),
      acknowledged = acknowledged - (OLD.state = 'acknowledged') + (NEW.state = 'acknowledged'),
      dead = dead - (OLD.state = 'dead') + (NEW.state = 'dead'),
      discarded = discarded - (OLD.state = 'discarded') + (NEW.state = 'discarded')
    WHERE id = 1;
END;
)sql";

// One upgrade script in one transaction.
base::Expected<void> in_transaction(sqlite3* db, const char* sql) {
  Transaction tx(db, Transaction::Mode::immediate);
  if (auto begun = tx.began(); !begun) return begun;
  if (auto done = exec(db, sql); !done) return done;
  return tx.commit();
}

// Schema 1 -> 2 in one transaction: the chain columns, the state table, and the rows already
// queued chained and signed now (they were written before the chain existed).
// Nothing, or SQLite's message.
base::Expected<void> upgrade_to_2(sqlite3* db, const OutboxOptions& options) {
  Transaction tx(db, Transaction::Mode::immediate);
  if (auto begun = tx.began(); !begun) return begun;
  if (auto done = exec(db, kSchema2); !done) return done;
  const auto chained = rechain_all(db, options);
  if (chained.rc != SQLITE_OK) return sqlite::sqlite_failure(chained.rc, sqlite3_errmsg(db));
  if (chained.last_seq > 0) {
    // Schemas 2 to 6 kept the signed head in the state table (upgrade_to_7 moves it).
    if (const int rc = put_state_row(
            db, signed_point(options, ChainPoint::head, chained.last_seq, chained.last_hash));
        rc != SQLITE_OK) {
      return sqlite::sqlite_failure(rc, sqlite3_errmsg(db));
    }
    spdlog::info(
        "outbox upgraded to schema 2: the queued mutations (up to seq {}) chained and signed",
        chained.last_seq);
  }
  if (auto done = exec(db, "PRAGMA user_version=2"); !done) return done;
  return tx.commit();
}

// Schema 5 -> 6 in one transaction: the archive, and its anchor where the outbox's chain starts
// now (records pruned before this version are gone; the archive holds what is pruned from now).
base::Expected<void> upgrade_to_6(sqlite3* db, const OutboxOptions& options) {
  Transaction tx(db, Transaction::Mode::immediate);
  if (auto begun = tx.began(); !begun) return begun;
  if (auto done = exec(db, kSchema6); !done) return done;
  const auto chain = read_chain(db);
  if (chain.anchor_seq > 0) {
    const int rc = put_state_row(
        db, signed_point(options, ChainPoint::archive_anchor, chain.anchor_seq, chain.anchor_hash));
    if (rc != SQLITE_OK) return sqlite::sqlite_failure(rc, sqlite3_errmsg(db));
  }
  if (auto done = exec(db, "PRAGMA user_version=6"); !done) return done;
  return tx.commit();
}

// Schema 6 -> 7 in one transaction: the head row with the counts from the rows, and the signed
// head moved into it from the state table (as signed: seq, hash and signature are unchanged).
base::Expected<void> upgrade_to_7(sqlite3* db) {
  Transaction tx(db, Transaction::Mode::immediate);
  if (auto begun = tx.began(); !begun) return begun;
  if (auto done = exec(db, kSchema7); !done) return done;
  std::uint64_t seq = 0;
  std::string hash, sig;
  {
    Stmt old(db, "SELECT value FROM state WHERE key = ?");
    old.bind(1, std::string_view(kLegacyHeadKey));
    if (old.step() == SQLITE_ROW && !decode_point(old.text(0), seq, hash, sig)) {
      return base::Error{
          std::make_error_code(std::errc::illegal_byte_sequence),
          "the chain head in the state table is not \"seq hash signature\": " + old.text(0)};
    }
  }
  if (!hash.empty()) {
    if (const int rc = write_head(db, seq, hash, sig); rc != SQLITE_OK) {
      return sqlite::sqlite_failure(rc, sqlite3_errmsg(db));
    }
  }
  if (const int rc = put_state_row(db, StateWrite{kLegacyHeadKey, std::nullopt}); rc != SQLITE_OK) {
    return sqlite::sqlite_failure(rc, sqlite3_errmsg(db));
  }
  if (auto done = exec(db, "PRAGMA user_version=7"); !done) return done;
  return tx.commit();
}

}  // namespace

base::Expected<void> prepare_schema(sqlite3* db, const std::filesystem::path& file,
                                    const OutboxOptions& options) {
  auto fail = [](std::string message, std::errc errc) {
    return base::Error{std::make_error_code(errc), std::move(message)};
  };
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", kSchema}) {
    if (auto done = exec(db, sql); !done) {
      return fail("cannot prepare outbox " + file.string() + ": " + done.error().message,
                  std::errc::io_error);
    }
  }
  // Read and finalized before any upgrade: schema 5 drops a table, which SQLite refuses while
  // a statement is still open on the connection.
  const auto version = [&] {
    Stmt v(db, "PRAGMA user_version");
    v.step();
    return v.i64(0);
  }();
  if (version > kSchemaVersion) {
    return fail("the outbox " + file.string() + " was written by a newer weighlink-agent (schema " +
                    std::to_string(version) + "); upgrade the agent",
                std::errc::not_supported);
  }
  if (version < 2) {
    if (auto upgraded = upgrade_to_2(db, options); !upgraded) {
      return fail(
          "cannot upgrade outbox " + file.string() + " to schema 2: " + upgraded.error().message,
          std::errc::io_error);
    }
  }
  const char* const upgrades[] = {kSchema3, kSchema4, kSchema5};
  static_assert(std::size(upgrades) == 3);
  for (int to = 3; to <= 5; ++to) {
    if (version >= to) continue;
    if (auto upgraded = in_transaction(db, upgrades[to - 3]); !upgraded) {
      return fail("cannot upgrade outbox " + file.string() + " to schema " + std::to_string(to) +
                      ": " + upgraded.error().message,
                  std::errc::io_error);
    }
  }
  if (version < 6) {
    if (auto upgraded = upgrade_to_6(db, options); !upgraded) {
      return fail(
          "cannot upgrade outbox " + file.string() + " to schema 6: " + upgraded.error().message,
          std::errc::io_error);
    }
  }
  if (version < 7) {
    if (auto upgraded = upgrade_to_7(db); !upgraded) {
      return fail(
          "cannot upgrade outbox " + file.string() + " to schema 7: " + upgraded.error().message,
          std::errc::io_error);
    }
  }
  return {};
}

OutboxRow read_row(const Stmt& s) {
  OutboxRow r;
  r.seq = static_cast<std::uint64_t>(s.i64(0));
  r.idempotency_key = s.text(1);
  r.kind = s.text(2);
  r.payload_json = s.text(3);
  r.request_hash = s.text(4);
  r.state = parse_state(s.text(5)).value_or(MutationState::pending);
  r.created_at_ms = s.i64(6);
  r.attempts = s.i64(7);
  r.last_error = s.text(8);
  r.outcome = s.text(9);
  r.acknowledged_at_ms = s.i64(10);
  r.prev_hash = s.text(11);
  r.record_hash = s.text(12);
  r.signature = s.text(13);
  r.discard_reason = s.text(14);
  r.discarded_at_ms = s.i64(15);
  return r;
}

std::string encode_point(std::uint64_t seq, const std::string& hash, const std::string& sig) {
  return std::to_string(seq) + " " + hash + " " + sig;
}

bool decode_point(const std::string& text, std::uint64_t& seq, std::string& hash,
                  std::string& sig) {
  const auto a = text.find(' ');
  const auto b = a == std::string::npos ? a : text.find(' ', a + 1);
  if (b == std::string::npos) return false;
  try {
    seq = std::stoull(text.substr(0, a));
  } catch (const std::exception&) {
    return false;
  }
  hash = text.substr(a + 1, b - a - 1);
  sig = text.substr(b + 1);
  return true;
}

Outbox::Chain read_chain(sqlite3* db) {
  Outbox::Chain c;
  c.anchor_hash = std::string(record::kGenesisHash);
  c.archive_anchor_hash = std::string(record::kGenesisHash);
  Stmt s(db, "SELECT key, value FROM state WHERE key IN (?, ?)");
  s.bind(1, std::string_view(kAnchorKey)).bind(2, std::string_view(kArchiveAnchorKey));
  while (s.step() == SQLITE_ROW) {
    std::uint64_t seq = 0;
    std::string hash, sig;
    if (!decode_point(s.text(1), seq, hash, sig)) continue;
    if (s.text(0) == kArchiveAnchorKey) {
      c.archive_anchor_seq = seq;
      c.archive_anchor_hash = hash;
      c.archive_anchor_signature = sig;
    } else {
      c.anchor_seq = seq;
      c.anchor_hash = hash;
      c.anchor_signature = sig;
    }
  }
  // Before schema 7 (an upgrade in progress) there is no head table: no head.
  Stmt head(db, "SELECT seq, hash, signature FROM head WHERE id = 1 AND hash <> ''");
  if (head.ok() && head.step() == SQLITE_ROW) {
    c.head_seq = static_cast<std::uint64_t>(head.i64(0));
    c.head_hash = head.text(1);
    c.head_signature = head.text(2);
  }
  return c;
}

StateWrite signed_point(const OutboxOptions& options, ChainPoint point, std::uint64_t seq,
                        const std::string& hash) {
  const char* key = point == ChainPoint::head             ? kLegacyHeadKey
                    : point == ChainPoint::archive_anchor ? kArchiveAnchorKey
                                                          : kAnchorKey;
  const char* what = point == ChainPoint::head             ? "head"
                     : point == ChainPoint::archive_anchor ? "archive_anchor"
                                                           : "anchor";
  return StateWrite{
      key, encode_point(seq, hash, record::sign_point(options.signing_key, what, seq, hash))};
}

std::string sign_head(const OutboxOptions& options, std::uint64_t seq, const std::string& hash) {
  return record::sign_point(options.signing_key, "head", seq, hash);
}

int write_head(sqlite3* db, std::uint64_t seq, const std::string& hash, const std::string& sig) {
  Stmt s(db, kWriteHead);
  s.bind(1, static_cast<std::int64_t>(seq)).bind(2, hash).bind(3, sig).bind(4, std::int64_t{0});
  return s.step() == SQLITE_DONE ? SQLITE_OK : s.rc();
}

int put_state_row(sqlite3* db, const StateWrite& w) {
  if (!w.value) {
    Stmt s(db, "DELETE FROM state WHERE key=?");
    s.bind(1, w.key);
    return s.step() == SQLITE_DONE ? SQLITE_OK : s.rc();
  }
  Stmt s(db,
         "INSERT INTO state(key, value) VALUES(?, ?) "
         "ON CONFLICT(key) DO UPDATE SET value=excluded.value");
  s.bind(1, w.key).bind(2, *w.value);
  return s.step() == SQLITE_DONE ? SQLITE_OK : s.rc();
}

Rechained rechain_all(sqlite3* db, const OutboxOptions& options) {
  Rechained out;
  out.last_hash = std::string(record::kGenesisHash);
  Stmt rows(
      db, "SELECT seq, idempotency_key, kind, created_at_ms, payload FROM mutations ORDER BY seq");
  Stmt update(db,
              "UPDATE mutations SET prev_hash = ?, record_hash = ?, signature = ? WHERE seq = ?");
  while (rows.step() == SQLITE_ROW) {
    out.last_seq = static_cast<std::uint64_t>(rows.i64(0));
    const auto hash = record::chain_hash(
        out.last_hash, record::EvidenceFields{options.station_id, out.last_seq, rows.text(1),
                                              rows.text(2), rows.i64(3), rows.text(4)});
    update.reset()
        .bind(1, out.last_hash)
        .bind(2, hash)
        .bind(3, record::sign_record(options.signing_key, hash))
        .bind(4, static_cast<std::int64_t>(out.last_seq));
    if (update.step() != SQLITE_DONE) {
      out.rc = update.rc();
      return out;
    }
    out.last_hash = hash;
  }
  if (rows.rc() != SQLITE_DONE) out.rc = rows.rc();
  return out;
}

}  // namespace weighlink::sync::detail
