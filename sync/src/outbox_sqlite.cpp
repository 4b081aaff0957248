// The SQLite adapter of the outbox. One writer thread owns the write connection and commits
// queued mutations in groups (one fsync for many producers); readers use a second connection
// (WAL lets them run beside the writer).
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "weighlink/record/evidence.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::sync {
namespace {

constexpr int kSchemaVersion = 5;

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

constexpr const char* kAnchorKey = "chain.anchor";
constexpr const char* kHeadKey = "chain.head";

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

// A prepared statement with positional binding helpers. Reset on destruction.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql, unsigned flags = 0) : db_(db) {
    sqlite3_stmt* raw = nullptr;
    rc_ = sqlite3_prepare_v3(db, sql, -1, flags, &raw, nullptr);
    stmt_.reset(raw);
  }
  // Ready for another use (statements the writer keeps prepared).
  Stmt& reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
    return *this;
  }
  [[nodiscard]] bool ok() const { return rc_ == SQLITE_OK; }
  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_.get(), i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return rc_ = sqlite3_step(stmt_.get()); }
  [[nodiscard]] std::int64_t i64(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
  [[nodiscard]] std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), col));
    return p ? std::string(p, sqlite3_column_bytes(stmt_.get(), col)) : std::string();
  }
  [[nodiscard]] bool is_null(int col) const {
    return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL;
  }
  [[nodiscard]] int rc() const { return rc_; }
  [[nodiscard]] std::string error() const { return sqlite3_errmsg(db_); }

 private:
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, StmtFinalizer> stmt_;
  int rc_ = SQLITE_OK;
};

int exec(sqlite3* db, const char* sql, std::string* error = nullptr) {
  char* msg = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
  if (rc != SQLITE_OK && error) *error = msg ? msg : sqlite3_errstr(rc);
  sqlite3_free(msg);
  return rc;
}

boost::system::error_code sqlite_error(int rc) {
  // SQLite's primary result codes are small positive ints; carry them in a generic category so the
  // caller can log them; the message text travels separately.
  if (rc == SQLITE_FULL) return make_error_code(boost::system::errc::no_space_on_device);
  if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) {
    return make_error_code(boost::system::errc::illegal_byte_sequence);
  }
  return make_error_code(boost::system::errc::io_error);
}

constexpr const char* kRowColumns =
    "seq, idempotency_key, kind, payload, request_hash, state, created_at_ms, attempts, "
    "last_error, outcome, acknowledged_at_ms, prev_hash, record_hash, signature, "
    "discard_reason, discarded_at_ms";

// A chain point stored in the state table as "seq hash signature".
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

// Chains every row again, in seq order, from the genesis hash (prev_hash, record_hash, signature)
// and signs the head when there are rows: a file upgraded to the chain, or renumbered. Writer
// thread, inside its transaction. The last seq and hash, or the SQLite error code.
struct Rechained {
  int rc = SQLITE_OK;
  std::uint64_t last_seq = 0;
  std::string last_hash{kGenesisHash};
};
Rechained rechain_all(sqlite3* db, const OutboxOptions& options) {
  Rechained out;
  Stmt rows(
      db, "SELECT seq, idempotency_key, kind, created_at_ms, payload FROM mutations ORDER BY seq");
  Stmt update(db,
              "UPDATE mutations SET prev_hash = ?, record_hash = ?, signature = ? WHERE seq = ?");
  while (rows.step() == SQLITE_ROW) {
    out.last_seq = static_cast<std::uint64_t>(rows.i64(0));
    const auto hash =
        chain_hash(out.last_hash, EvidenceFields{options.station_id, out.last_seq, rows.text(1),
                                                 rows.text(2), rows.i64(3), rows.text(4)});
    update.reset()
        .bind(1, out.last_hash)
        .bind(2, hash)
        .bind(3, sign_record(options.signing_key, hash))
        .bind(4, static_cast<std::int64_t>(out.last_seq));
    if (update.step() != SQLITE_DONE) {
      out.rc = update.rc();
      return out;
    }
    out.last_hash = hash;
  }
  if (rows.rc() != SQLITE_DONE) {
    out.rc = rows.rc();
  } else if (out.last_seq > 0) {
    out.rc = put_state_row(
        db, StateWrite{kHeadKey, encode_point(out.last_seq, out.last_hash,
                                              sign_point(options.signing_key, "head", out.last_seq,
                                                         out.last_hash))});
  }
  return out;
}

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

Db open_db(const std::filesystem::path& file, bool create, std::string* error) {
  sqlite3* raw = nullptr;
  // SQLite takes UTF-8 file names; a path's native string is UTF-16 on Windows.
  const auto name = file.u8string();
  const int rc = sqlite3_open_v2(
      reinterpret_cast<const char*>(name.c_str()), &raw,
      SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    *error = "cannot open outbox " + file.string() + ": " +
             (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)) +
             "; check that the data directory exists and is writable by the agent's user";
    return nullptr;
  }
  sqlite3_busy_timeout(db.get(), 5000);
  sqlite3_extended_result_codes(db.get(), 0);
  return db;
}

struct Pending {
  NewMutation mutation;
  std::function<void(EnqueueResult)> done;
  bool state_only = false;  // put_state(): only mutation.state_writes, in queue order
};

class SqliteOutbox final : public Outbox {
 public:
  SqliteOutbox(Db writer, Db reader, OutboxOptions options, std::filesystem::path file)
      : writer_(std::move(writer)),
        reader_(std::move(reader)),
        options_(options),
        file_(std::move(file)) {}

  ~SqliteOutbox() override { close(); }

  bool init(std::string* error) {
    Stmt last(writer_.get(), "SELECT COALESCE(MAX(seq), 0) FROM mutations");
    if (!last.ok() || last.step() != SQLITE_ROW) {
      *error = "cannot read outbox " + file_.string() + ": " + last.error();
      return false;
    }
    last_seq_ = static_cast<std::uint64_t>(last.i64(0));
    Stmt floor(writer_.get(), "SELECT value FROM meta WHERE key='seq_floor'");
    if (floor.step() == SQLITE_ROW) {
      last_seq_ = std::max<std::uint64_t>(last_seq_, static_cast<std::uint64_t>(floor.i64(0)));
    }
    Stmt rows(writer_.get(), "SELECT COUNT(*) FROM mutations");
    rows.step();
    row_count_ = static_cast<std::uint64_t>(rows.i64(0));
    // The chain continues from the newest row, or from the anchor when every row was pruned.
    Stmt head(writer_.get(), "SELECT record_hash FROM mutations ORDER BY seq DESC LIMIT 1");
    if (head.step() == SQLITE_ROW) {
      last_hash_ = head.text(0);
    } else {
      last_hash_ = std::string(kGenesisHash);
      const auto c = read_chain(writer_.get());
      if (!c.anchor_hash.empty()) last_hash_ = c.anchor_hash;
    }
    anchor_seq_ = read_chain(writer_.get()).anchor_seq;
    // Every row pruned: numbering continues after the last one.
    last_seq_ = std::max<std::uint64_t>(last_seq_, anchor_seq_);
    thread_ = std::thread([this] { writer_loop(); });
    return true;
  }

  void enqueue(NewMutation mutation, std::function<void(EnqueueResult)> done) override {
    EnqueueResult r;
    {
      std::lock_guard lock(mu_);
      if (closed_) {
        r.status = EnqueueStatus::failed;
        r.message = "the outbox is shutting down";
      } else if (!in_progress_.insert(mutation.idempotency_key).second) {
        // The same key is still being committed: tell the caller to come back (409).
        r.status = EnqueueStatus::in_progress;
      } else {
        queue_.push_back(Pending{std::move(mutation), std::move(done)});
        cv_.notify_one();
        return;
      }
    }
    done(std::move(r));  // outside the lock: `done` may call back into the outbox
  }

  EnqueueResult enqueue_wait(NewMutation mutation) override {
    std::promise<EnqueueResult> promise;
    auto future = promise.get_future();
    enqueue(std::move(mutation), [&promise](EnqueueResult r) { promise.set_value(std::move(r)); });
    return future.get();
  }

  std::optional<OutboxRow> find(const std::string& key) override {
    std::lock_guard lock(reader_mu_);
    const std::string sql =
        std::string("SELECT ") + kRowColumns + " FROM mutations WHERE idempotency_key=?";
    Stmt s(reader_.get(), sql.c_str());
    s.bind(1, key);
    if (s.step() == SQLITE_ROW) return read_row(s);
    return std::nullopt;
  }

  std::vector<OutboxRow> list(std::optional<MutationState> state, std::uint64_t after_seq,
                              std::size_t limit) override {
    std::lock_guard lock(reader_mu_);
    std::string sql = std::string("SELECT ") + kRowColumns + " FROM mutations WHERE seq > ?";
    if (state) sql += " AND state = ?";
    sql += " ORDER BY seq LIMIT ?";
    Stmt s(reader_.get(), sql.c_str());
    int i = 1;
    s.bind(i++, static_cast<std::int64_t>(after_seq));
    if (state) s.bind(i++, to_string(*state));
    s.bind(i++, static_cast<std::int64_t>(limit));
    std::vector<OutboxRow> out;
    while (s.step() == SQLITE_ROW) out.push_back(read_row(s));
    return out;
  }

  OutboxStats stats() override {
    OutboxStats st;
    {
      std::lock_guard lock(reader_mu_);
      sqlite3* db = reader_.get();
      exec(db, "BEGIN");  // one snapshot for the three reads
      {
        Stmt s(db, "SELECT state, n FROM state_counts");
        while (s.step() == SQLITE_ROW) {
          const auto state = parse_state(s.text(0));
          const auto n = static_cast<std::uint64_t>(std::max<std::int64_t>(0, s.i64(1)));
          if (state == MutationState::pending) st.pending = n;
          if (state == MutationState::acknowledged) st.acknowledged = n;
          if (state == MutationState::dead) st.dead = n;
          if (state == MutationState::discarded) st.discarded = n;
        }
      }
      {
        // The head of the queue: the pending row sent next (index mutations_by_state).
        Stmt s(db,
               "SELECT created_at_ms FROM mutations WHERE state = 'pending' ORDER BY seq "
               "LIMIT 1");
        if (s.step() == SQLITE_ROW) st.oldest_pending_created_at_ms = s.i64(0);
      }
      {
        Stmt s(db, "SELECT MAX(seq) FROM mutations WHERE state = 'acknowledged'");
        if (s.step() == SQLITE_ROW && !s.is_null(0)) {
          st.acknowledged_seq = static_cast<std::uint64_t>(s.i64(0));
        }
      }
      exec(db, "COMMIT");
    }
    std::lock_guard lock(mu_);
    st.last_seq = last_seq_;
    st.commits = commits_;
    st.rows = row_count_;
    st.max_rows = options_.max_rows;
    st.pruned_through_seq = anchor_seq_;
    st.full = full_;
    st.full_reason = full_reason_;
    return st;
  }

  boost::system::result<void> mark_results(std::span<const MutationOutcome> outcomes,
                                           std::int64_t now_ms) override {
    return run_on_writer([&](sqlite3* db) { return write_results(db, outcomes, now_ms); });
  }

  std::future<boost::system::result<void>> mark_results_later(std::vector<MutationOutcome> outcomes,
                                                              std::int64_t now_ms) override {
    return submit_on_writer([outcomes = std::move(outcomes), now_ms](sqlite3* db) {
      return write_results(db, outcomes, now_ms);
    });
  }

  boost::system::result<void> mark_attempt_failed(std::span<const std::uint64_t> seqs,
                                                  const std::string& error) override {
    return run_on_writer([&](sqlite3* db) -> boost::system::result<void> {
      Stmt s(db, "UPDATE mutations SET attempts=attempts+1, last_error=? WHERE seq=?");
      for (const auto seq : seqs) {
        s.reset().bind(1, error).bind(2, static_cast<std::int64_t>(seq));
        if (s.step() != SQLITE_DONE) return sqlite_error(s.rc());
      }
      return {};
    });
  }

  boost::system::result<std::uint64_t> rewind_above(std::uint64_t high_water_seq) override {
    std::uint64_t changed = 0;
    auto r = run_on_writer([&](sqlite3* db) -> boost::system::result<void> {
      Stmt s(db,
             "UPDATE mutations SET state='pending', outcome='' "
             "WHERE state='acknowledged' AND seq > ?");
      s.bind(1, static_cast<std::int64_t>(high_water_seq));
      if (s.step() != SQLITE_DONE) return sqlite_error(s.rc());
      changed = static_cast<std::uint64_t>(sqlite3_changes(db));
      return {};
    });
    if (!r) return {boost::system::in_place_error, r.error()};
    return changed;
  }

  boost::system::result<bool> retry_dead(const std::string& key) override {
    bool found = false;
    auto r = run_on_writer([&](sqlite3* db) -> boost::system::result<void> {
      Stmt s(db,
             "UPDATE mutations SET state='pending', outcome='' "
             "WHERE state='dead' AND idempotency_key=?");
      s.bind(1, key);
      if (s.step() != SQLITE_DONE) return sqlite_error(s.rc());
      found = sqlite3_changes(db) > 0;
      return {};
    });
    if (!r) return {boost::system::in_place_error, r.error()};
    if (found && on_commit_) on_commit_();
    return found;
  }

  boost::system::result<bool> discard_dead(const std::string& key, const std::string& reason,
                                           std::int64_t now_ms) override {
    bool found = false;
    auto r = run_on_writer([&](sqlite3* db) -> boost::system::result<void> {
      Stmt s(db,
             "UPDATE mutations SET state='discarded', discard_reason=?, discarded_at_ms=? "
             "WHERE state='dead' AND idempotency_key=?");
      s.bind(1, reason).bind(2, now_ms).bind(3, key);
      if (s.step() != SQLITE_DONE) return sqlite_error(s.rc());
      found = sqlite3_changes(db) > 0;
      return {};
    });
    if (!r) return {boost::system::in_place_error, r.error()};
    return found;
  }

  boost::system::result<std::uint64_t> continue_above(std::uint64_t high_water) override {
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
        if (exec(db, "INSERT INTO meta(key, value) VALUES('backend_contact', 1)") != SQLITE_OK) {
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

  boost::system::result<PruneResult> prune(std::uint64_t durable_seq,
                                           std::int64_t created_before_ms) override {
    PruneResult result;
    auto r = run_on_writer([&](sqlite3* db) -> boost::system::result<void> {
      // The prefix that may go: below the first row that must stay.
      Stmt stop(
          db,
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
      Stmt del(db, "DELETE FROM mutations WHERE seq <= ?");
      del.bind(1, static_cast<std::int64_t>(anchor_seq));
      if (del.step() != SQLITE_DONE) return sqlite_error(del.rc());
      result.rows = static_cast<std::uint64_t>(sqlite3_changes(db));
      const int rc = put_state_row(
          db, StateWrite{kAnchorKey, encode_point(anchor_seq, anchor_hash,
                                                  sign_point(options_.signing_key, "anchor",
                                                             anchor_seq, anchor_hash))});
      if (rc != SQLITE_OK) return sqlite_error(rc);
      result.anchor_seq = anchor_seq;
      return {};
    });
    if (!r) return {boost::system::in_place_error, r.error()};
    if (result.rows > 0) {
      row_count_ -= result.rows;
      std::lock_guard lock(mu_);
      anchor_seq_ = result.anchor_seq;
      full_ = false;  // room again; the next refusal, if any, sets it back
    }
    return result;
  }

  boost::system::result<void> scan(const std::function<void(const Chain&)>& on_chain,
                                   const std::function<bool(const OutboxRow&)>& on_row) override {
    std::lock_guard lock(reader_mu_);
    sqlite3* db = reader_.get();
    if (exec(db, "BEGIN") != SQLITE_OK) return sqlite_error(sqlite3_errcode(db));
    on_chain(read_chain(db));
    const std::string sql = std::string("SELECT ") + kRowColumns + " FROM mutations ORDER BY seq";
    int rc = SQLITE_DONE;
    {
      Stmt s(db, sql.c_str());
      while ((rc = s.step()) == SQLITE_ROW) {
        if (!on_row(read_row(s))) {
          rc = SQLITE_DONE;
          break;
        }
      }
    }
    exec(db, "COMMIT");
    if (rc != SQLITE_DONE) return sqlite_error(rc);
    return {};
  }

  std::optional<std::string> get_state(const std::string& key) override {
    std::lock_guard lock(reader_mu_);
    Stmt s(reader_.get(), "SELECT value FROM state WHERE key=?");
    s.bind(1, key);
    if (s.step() == SQLITE_ROW) return s.text(0);
    return std::nullopt;
  }

  // In the same queue as mutations, so a state write and a mutation that deletes the same state
  // commit in the order they were asked for.
  void put_state(StateWrite write, std::function<void(boost::system::result<void>)> done) override {
    Pending p;
    p.mutation.state_writes.push_back(std::move(write));
    p.state_only = true;
    p.done = [done = std::move(done)](EnqueueResult r) {
      if (r.status == EnqueueStatus::accepted) return done(boost::system::result<void>());
      done(make_error_code(r.status == EnqueueStatus::full ? boost::system::errc::no_space_on_device
                                                           : boost::system::errc::io_error));
    };
    {
      std::lock_guard lock(mu_);
      if (!closed_) {
        queue_.push_back(std::move(p));
        cv_.notify_one();
        return;
      }
    }
    p.done(EnqueueResult{});
  }

  void set_on_commit(std::function<void()> callback) override {
    std::lock_guard lock(mu_);
    on_commit_ = std::move(callback);
  }

  void close() override {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  using Job = std::function<void(sqlite3*)>;

  // Writer thread, in its transaction. When the oldest row's seq is at or below `high_water`,
  // moves every row up so that the oldest is high_water + 1 (order kept), chains them again from
  // the genesis hash, signs them again, and anchors the chain at `high_water` (so verify-evidence
  // expects the chain to start there). Returns how many rows moved. Refused (nothing moved) when a
  // row was acknowledged or pruned: then these seqs were the backend's answer to this file.
  boost::system::result<std::uint64_t> renumber_above(sqlite3* db, std::uint64_t high_water) {
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
    if (exec(db, "UPDATE mutations SET seq = -seq") != SQLITE_OK) {
      return sqlite_error(sqlite3_errcode(db));
    }
    Stmt move(db, "UPDATE mutations SET seq = ? - seq");
    move.bind(1, shift);
    if (move.step() != SQLITE_DONE) return sqlite_error(move.rc());

    const auto chained = rechain_all(db, options_);
    if (chained.rc != SQLITE_OK) return sqlite_error(chained.rc);
    const std::string genesis(kGenesisHash);
    if (const int rc = put_state_row(
            db, StateWrite{kAnchorKey, encode_point(high_water, genesis,
                                                    sign_point(options_.signing_key, "anchor",
                                                               high_water, genesis))});
        rc != SQLITE_OK) {
      return sqlite_error(rc);
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

  static Chain read_chain(sqlite3* db) {
    Chain c;
    c.anchor_hash = std::string(kGenesisHash);
    Stmt s(db, "SELECT key, value FROM state WHERE key IN (?, ?)");
    s.bind(1, std::string_view(kAnchorKey)).bind(2, std::string_view(kHeadKey));
    while (s.step() == SQLITE_ROW) {
      std::uint64_t seq = 0;
      std::string hash, sig;
      if (!decode_point(s.text(1), seq, hash, sig)) continue;
      if (s.text(0) == kAnchorKey) {
        c.anchor_seq = seq;
        c.anchor_hash = hash;
        c.anchor_signature = sig;
      } else {
        c.head_seq = seq;
        c.head_hash = hash;
        c.head_signature = sig;
      }
    }
    return c;
  }

  // Queues `fn` to run inside one transaction on the writer thread; its result once committed.
  template <class F>
  std::future<boost::system::result<void>> submit_on_writer(F fn) {
    auto promise = std::make_shared<std::promise<boost::system::result<void>>>();
    auto future = promise->get_future();
    std::lock_guard lock(mu_);
    if (closed_) {
      promise->set_value(make_error_code(boost::system::errc::operation_canceled));
      return future;
    }
    jobs_.push_back([promise, fn = std::move(fn)](sqlite3* db) {
      if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        promise->set_value(sqlite_error(sqlite3_errcode(db)));
        return;
      }
      boost::system::result<void> r = fn(db);
      if (r) {
        const int rc = exec(db, "COMMIT");
        if (rc != SQLITE_OK) {
          exec(db, "ROLLBACK");
          r = sqlite_error(rc);
        }
      } else {
        exec(db, "ROLLBACK");
      }
      promise->set_value(r);
    });
    cv_.notify_one();
    return future;
  }

  // The same, waiting for it (`fn` may refer to the caller's locals).
  template <class F>
  boost::system::result<void> run_on_writer(F&& fn) {
    return submit_on_writer([&fn](sqlite3* db) -> boost::system::result<void> { return fn(db); })
        .get();
  }

  void writer_loop() {
    while (true) {
      std::deque<Pending> batch;
      std::deque<Job> jobs;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return closed_ || !queue_.empty() || !jobs_.empty(); });
        if (queue_.empty() && jobs_.empty() && closed_) break;
        jobs.swap(jobs_);
        while (!queue_.empty() && batch.size() < options_.max_group) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      for (auto& job : jobs) job(writer_.get());
      if (!batch.empty()) commit_group(batch);
    }
  }

  // One transaction for the whole group; each mutation is checked against its key first.
  void commit_group(std::deque<Pending>& batch) {
    std::vector<EnqueueResult> results(batch.size());
    sqlite3* db = writer_.get();
    std::string error;
    const std::uint64_t seq_before = last_seq_;
    const std::uint64_t rows_before = row_count_;
    const std::string hash_before = last_hash_;
    bool added = false;
    prepare_writer_statements(db);
    int rc = w_->begin.reset().step() == SQLITE_DONE ? SQLITE_OK : w_->begin.rc();
    if (rc != SQLITE_OK) error = sqlite3_errmsg(db);
    for (std::size_t i = 0; rc == SQLITE_OK && i < batch.size(); ++i) {
      const auto& m = batch[i].mutation;
      auto& res = results[i];
      if (batch[i].state_only) {
        for (const auto& w : m.state_writes) {
          if (rc == SQLITE_OK) rc = put_state_row(db, w);
        }
        if (rc != SQLITE_OK) {
          error = sqlite3_errmsg(db);
          break;
        }
        res.status = EnqueueStatus::accepted;
        continue;
      }
      auto& find = w_->find.reset();
      find.bind(1, m.idempotency_key);
      const int frc = find.step();
      if (frc == SQLITE_ROW) {
        res.row = read_row(find);
        res.status = res.row.request_hash == m.request_hash ? EnqueueStatus::replayed
                                                            : EnqueueStatus::key_reused;
        continue;
      }
      if (frc != SQLITE_DONE) {
        rc = frc;
        error = find.error();
        break;
      }
      if (row_count_ >= options_.max_rows) {
        res.status = EnqueueStatus::full;
        res.message = "the outbox holds " + std::to_string(row_count_.load()) +
                      " mutations, its configured cap (outbox.max_rows): nothing was queued; "
                      "restore the link to the backend so acknowledged mutations can be pruned, "
                      "or raise the cap";
        continue;
      }
      OutboxRow row;
      row.seq = last_seq_ + 1;
      row.idempotency_key = m.idempotency_key;
      row.kind = m.kind;
      row.payload_json = m.payload_json;
      row.request_hash = m.request_hash;
      row.state = MutationState::pending;
      row.created_at_ms = m.created_at_ms;
      row.prev_hash = last_hash_;
      row.record_hash = chain_hash(
          row.prev_hash, EvidenceFields{options_.station_id, row.seq, row.idempotency_key, row.kind,
                                        row.created_at_ms, row.payload_json});
      row.signature = sign_record(options_.signing_key, row.record_hash);
      auto& ins = w_->insert.reset();
      ins.bind(1, static_cast<std::int64_t>(row.seq))
          .bind(2, row.idempotency_key)
          .bind(3, row.kind)
          .bind(4, row.payload_json)
          .bind(5, row.request_hash)
          .bind(6, row.created_at_ms)
          .bind(7, row.prev_hash)
          .bind(8, row.record_hash)
          .bind(9, row.signature);
      if (ins.step() != SQLITE_DONE) {
        rc = ins.rc();
        error = ins.error();
        break;
      }
      for (const auto& w : m.state_writes) {
        rc = put_state_row(db, w);
        if (rc != SQLITE_OK) {
          error = sqlite3_errmsg(db);
          break;
        }
      }
      if (rc != SQLITE_OK) break;
      last_hash_ = row.record_hash;
      last_seq_ = row.seq;
      ++row_count_;
      res.status = EnqueueStatus::accepted;
      res.row = std::move(row);
      added = true;
    }
    if (rc == SQLITE_OK && added) {
      // The signed head: a record cut off the end of the chain is found by verify-evidence.
      rc = put_state_row(
          db, StateWrite{kHeadKey, encode_point(last_seq_, last_hash_,
                                                sign_point(options_.signing_key, "head", last_seq_,
                                                           last_hash_))});
      if (rc != SQLITE_OK) error = sqlite3_errmsg(db);
    }
    if (rc == SQLITE_OK) {
      w_->find.reset();  // no statement left mid-row across the commit
      w_->insert.reset();
      // synchronous=FULL: returns once the WAL is fsync'd
      rc = w_->commit.reset().step() == SQLITE_DONE ? SQLITE_OK : w_->commit.rc();
      if (rc != SQLITE_OK) error = sqlite3_errmsg(db);
    }
    if (rc != SQLITE_OK) {
      exec(db, "ROLLBACK");
      last_seq_ = seq_before;
      last_hash_ = hash_before;
      row_count_ = rows_before;
      added = false;
      const bool full = rc == SQLITE_FULL;
      spdlog::error("outbox commit failed in {}: {}", file_.string(), error);
      for (auto& res : results) {
        res = EnqueueResult{};
        res.status = full ? EnqueueStatus::full : EnqueueStatus::failed;
        res.message = full ? "the disk holding the outbox (" + file_.string() +
                                 ") is full: nothing was queued; free space on it"
                           : "the outbox could not commit (" + error + ")";
      }
    }
    std::function<void()> on_commit;
    {
      std::lock_guard lock(mu_);
      if (rc == SQLITE_OK) ++commits_;
      for (const auto& res : results) {
        if (res.status == EnqueueStatus::full) {
          if (!full_) spdlog::error("outbox full: {}", res.message);
          full_ = true;
          full_reason_ = res.message;
        } else if (res.status == EnqueueStatus::accepted && full_) {
          spdlog::info("outbox accepting mutations again after being full");
          full_ = false;
          full_reason_.clear();
        }
      }
      for (const auto& p : batch) {
        if (!p.state_only) in_progress_.erase(p.mutation.idempotency_key);
      }
      on_commit = on_commit_;
    }
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
    if (added && on_commit) on_commit();
  }

  // The statements of every commit, prepared once on the writer thread.
  struct WriterStatements {
    explicit WriterStatements(sqlite3* db)
        : begin(db, "BEGIN IMMEDIATE", SQLITE_PREPARE_PERSISTENT),
          commit(db, "COMMIT", SQLITE_PREPARE_PERSISTENT),
          find(db,
               (std::string("SELECT ") + kRowColumns + " FROM mutations WHERE idempotency_key=?")
                   .c_str(),
               SQLITE_PREPARE_PERSISTENT),
          insert(db,
                 "INSERT INTO mutations(seq, idempotency_key, kind, payload, request_hash, "
                 "state, created_at_ms, prev_hash, record_hash, signature) "
                 "VALUES(?,?,?,?,?,'pending',?,?,?,?)",
                 SQLITE_PREPARE_PERSISTENT) {}
    Stmt begin, commit, find, insert;
  };
  void prepare_writer_statements(sqlite3* db) {
    if (!w_) w_ = std::make_unique<WriterStatements>(db);
  }

  Db writer_;
  Db reader_;
  std::unique_ptr<WriterStatements> w_;  // writer thread
  OutboxOptions options_;
  std::filesystem::path file_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  std::deque<Job> jobs_;
  std::unordered_set<std::string> in_progress_;
  std::function<void()> on_commit_;
  bool closed_ = false;
  std::uint64_t commits_ = 0;

  // Written by the writer thread only; read by stats().
  std::atomic<std::uint64_t> last_seq_{0};
  std::atomic<std::uint64_t> row_count_{0};
  std::string last_hash_;  // the chain's newest hash (writer thread)
  std::uint64_t anchor_seq_ = 0;
  bool full_ = false;
  std::string full_reason_;

  std::mutex reader_mu_;
  std::thread thread_;
};

bool in_transaction(sqlite3* db, const char* sql, std::string* error) {
  if (exec(db, "BEGIN IMMEDIATE", error) != SQLITE_OK) return false;
  if (exec(db, sql, error) != SQLITE_OK || exec(db, "COMMIT", error) != SQLITE_OK) {
    exec(db, "ROLLBACK");
    return false;
  }
  return true;
}

// Schema 1 -> 2 in one transaction: the chain columns, the state table, and the rows already
// queued chained and signed now (they were written before the chain existed).
bool upgrade_to_2(sqlite3* db, const OutboxOptions& options, std::string* error) {
  if (exec(db, "BEGIN IMMEDIATE", error) != SQLITE_OK) return false;
  auto fail = [&](const std::string& what) {
    if (error->empty()) *error = what;
    exec(db, "ROLLBACK");
    return false;
  };
  if (exec(db, kSchema2, error) != SQLITE_OK) return fail("schema");
  const auto chained = rechain_all(db, options);
  if (chained.rc != SQLITE_OK) return fail(sqlite3_errmsg(db));
  if (chained.last_seq > 0) {
    spdlog::info(
        "outbox upgraded to schema 2: the queued mutations (up to seq {}) chained and signed",
        chained.last_seq);
  }
  if (exec(db, "PRAGMA user_version=2", error) != SQLITE_OK) return fail("user_version");
  if (exec(db, "COMMIT", error) != SQLITE_OK) return fail("commit");
  return true;
}

}  // namespace

std::string_view to_string(MutationState state) {
  switch (state) {
    case MutationState::pending:
      return "pending";
    case MutationState::acknowledged:
      return "acknowledged";
    case MutationState::dead:
      return "dead";
    case MutationState::discarded:
      return "discarded";
  }
  return "pending";
}

std::optional<MutationState> parse_state(std::string_view text) {
  if (text == "pending") return MutationState::pending;
  if (text == "acknowledged") return MutationState::acknowledged;
  if (text == "dead") return MutationState::dead;
  if (text == "discarded") return MutationState::discarded;
  return std::nullopt;
}

boost::system::result<std::unique_ptr<Outbox>> Outbox::open(const std::filesystem::path& file,
                                                            OutboxOptions options,
                                                            std::string* error) {
  std::string local_error;
  if (!error) error = &local_error;
  if (!options.create_if_missing && !std::filesystem::exists(file)) {
    *error = "no outbox at " + file.string() +
             "; give the agent's data directory (--data-dir or data_dir in the configuration)";
    return make_error_code(boost::system::errc::no_such_file_or_directory);
  }
  Db writer = open_db(file, options.create_if_missing, error);
  if (!writer) return make_error_code(boost::system::errc::io_error);

  // Refuse a damaged file before touching it: an operator must decide what to do with it.
  if (options.check_integrity) {
    Stmt check(writer.get(), "PRAGMA quick_check");
    const int rc = check.step();
    const std::string verdict = rc == SQLITE_ROW ? check.text(0) : check.error();
    if (verdict != "ok") {
      *error = "the outbox " + file.string() + " is damaged (" + verdict +
               "); the agent will not start on it. Stop the agent, move the file (with its -wal "
               "and -shm files) aside for support, and see docs/operations.md, "
               "\"Outbox integrity\"";
      return make_error_code(boost::system::errc::illegal_byte_sequence);
    }
  }
  std::string sql_error;
  if (exec(writer.get(), "PRAGMA journal_mode=WAL", &sql_error) != SQLITE_OK ||
      exec(writer.get(), "PRAGMA synchronous=FULL", &sql_error) != SQLITE_OK ||
      exec(writer.get(), kSchema, &sql_error) != SQLITE_OK) {
    *error = "cannot prepare outbox " + file.string() + ": " + sql_error;
    return make_error_code(boost::system::errc::io_error);
  }
  {
    // Read and finalized before any upgrade: schema 5 drops a table, which SQLite refuses while
    // a statement is still open on the connection.
    const auto version = [&] {
      Stmt v(writer.get(), "PRAGMA user_version");
      v.step();
      return v.i64(0);
    }();
    if (version > kSchemaVersion) {
      *error = "the outbox " + file.string() + " was written by a newer weighlink-agent (schema " +
               std::to_string(version) + "); upgrade the agent";
      return make_error_code(boost::system::errc::not_supported);
    }
    if (version < 2 && !upgrade_to_2(writer.get(), options, &sql_error)) {
      *error = "cannot upgrade outbox " + file.string() + " to schema 2: " + sql_error;
      return make_error_code(boost::system::errc::io_error);
    }
    if (version < 3 && !in_transaction(writer.get(), kSchema3, &sql_error)) {
      *error = "cannot upgrade outbox " + file.string() + " to schema 3: " + sql_error;
      return make_error_code(boost::system::errc::io_error);
    }
    if (version < 4 && !in_transaction(writer.get(), kSchema4, &sql_error)) {
      *error = "cannot upgrade outbox " + file.string() + " to schema 4: " + sql_error;
      return make_error_code(boost::system::errc::io_error);
    }
    if (version < 5 && !in_transaction(writer.get(), kSchema5, &sql_error)) {
      *error = "cannot upgrade outbox " + file.string() + " to schema 5: " + sql_error;
      return make_error_code(boost::system::errc::io_error);
    }
  }
  Db reader = open_db(file, options.create_if_missing, error);
  if (!reader) return make_error_code(boost::system::errc::io_error);
  auto outbox = std::make_unique<SqliteOutbox>(std::move(writer), std::move(reader), options, file);
  if (!outbox->init(error)) return make_error_code(boost::system::errc::io_error);
  return std::unique_ptr<Outbox>(std::move(outbox));
}

}  // namespace weighlink::sync
