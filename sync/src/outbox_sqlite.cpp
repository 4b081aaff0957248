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

#include "weighlink/sync/outbox.hpp"

namespace weighlink::sync {
namespace {

constexpr int kSchemaVersion = 1;

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
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    sqlite3_stmt* raw = nullptr;
    rc_ = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
    stmt_.reset(raw);
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
    "last_error, outcome, acknowledged_at_ms";

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
  return r;
}

Db open_db(const std::filesystem::path& file, std::string* error) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(file.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
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
    thread_ = std::thread([this] { writer_loop(); });
    return true;
  }

  void enqueue(NewMutation mutation, std::function<void(EnqueueResult)> done) override {
    {
      std::lock_guard lock(mu_);
      if (!closed_) {
        if (!in_progress_.insert(mutation.idempotency_key).second) {
          // The same key is still being committed: tell the caller to come back (409).
          EnqueueResult r;
          r.status = EnqueueStatus::in_progress;
          done(std::move(r));
          return;
        }
        queue_.push_back(Pending{std::move(mutation), std::move(done)});
        cv_.notify_one();
        return;
      }
    }
    EnqueueResult r;
    r.status = EnqueueStatus::failed;
    r.message = "the outbox is shutting down";
    done(std::move(r));
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
      Stmt s(reader_.get(),
             "SELECT state, COUNT(*), MIN(created_at_ms), MAX(seq) FROM mutations GROUP BY state");
      while (s.step() == SQLITE_ROW) {
        const auto state = parse_state(s.text(0));
        const auto n = static_cast<std::uint64_t>(s.i64(1));
        if (state == MutationState::pending) {
          st.pending = n;
          st.oldest_pending_created_at_ms = s.i64(2);
        } else if (state == MutationState::acknowledged) {
          st.acknowledged = n;
          st.acknowledged_seq = static_cast<std::uint64_t>(s.i64(3));
        } else if (state == MutationState::dead) {
          st.dead = n;
        }
      }
    }
    std::lock_guard lock(mu_);
    st.last_seq = last_seq_;
    st.commits = commits_;
    return st;
  }

  boost::system::result<void> mark_results(std::span<const MutationOutcome> outcomes,
                                           std::int64_t now_ms) override {
    return run_on_writer([&](sqlite3* db) -> boost::system::result<void> {
      for (const auto& o : outcomes) {
        const bool rejected = o.kind == MutationOutcome::Kind::rejected;
        Stmt s(db,
               "UPDATE mutations SET state=?, outcome=?, last_error=?, acknowledged_at_ms=?, "
               "attempts=attempts+1 WHERE seq=?");
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
    });
  }

  boost::system::result<void> mark_attempt_failed(std::span<const std::uint64_t> seqs,
                                                  const std::string& error) override {
    return run_on_writer([&](sqlite3* db) -> boost::system::result<void> {
      for (const auto seq : seqs) {
        Stmt s(db, "UPDATE mutations SET attempts=attempts+1, last_error=? WHERE seq=?");
        s.bind(1, error).bind(2, static_cast<std::int64_t>(seq));
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

  boost::system::result<void> ensure_seq_above(std::uint64_t seq) override {
    return run_on_writer([&](sqlite3* db) -> boost::system::result<void> {
      if (seq <= last_seq_) return {};
      Stmt s(db,
             "INSERT INTO meta(key, value) VALUES('seq_floor', ?) "
             "ON CONFLICT(key) DO UPDATE SET value=excluded.value");
      s.bind(1, static_cast<std::int64_t>(seq));
      if (s.step() != SQLITE_DONE) return sqlite_error(s.rc());
      last_seq_ = seq;
      return {};
    });
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

  // Runs `fn` inside one transaction on the writer thread and waits for it.
  template <class F>
  boost::system::result<void> run_on_writer(F&& fn) {
    std::promise<boost::system::result<void>> promise;
    auto future = promise.get_future();
    {
      std::lock_guard lock(mu_);
      if (closed_) return make_error_code(boost::system::errc::operation_canceled);
      jobs_.push_back([&](sqlite3* db) {
        if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK) {
          promise.set_value(sqlite_error(sqlite3_errcode(db)));
          return;
        }
        auto r = fn(db);
        if (r) {
          const int rc = exec(db, "COMMIT");
          if (rc != SQLITE_OK) {
            exec(db, "ROLLBACK");
            r = sqlite_error(rc);
          }
        } else {
          exec(db, "ROLLBACK");
        }
        promise.set_value(r);
      });
      cv_.notify_one();
    }
    return future.get();
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
    bool added = false;
    int rc = exec(db, "BEGIN IMMEDIATE", &error);
    for (std::size_t i = 0; rc == SQLITE_OK && i < batch.size(); ++i) {
      const auto& m = batch[i].mutation;
      auto& res = results[i];
      const std::string find_sql =
          std::string("SELECT ") + kRowColumns + " FROM mutations WHERE idempotency_key=?";
      Stmt find(db, find_sql.c_str());
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
                      " mutations, its configured cap: nothing was queued; restore the link to "
                      "the backend so acknowledged mutations can be pruned, or raise the cap";
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
      Stmt ins(db,
               "INSERT INTO mutations(seq, idempotency_key, kind, payload, request_hash, state, "
               "created_at_ms) VALUES(?,?,?,?,?,'pending',?)");
      ins.bind(1, static_cast<std::int64_t>(row.seq))
          .bind(2, row.idempotency_key)
          .bind(3, row.kind)
          .bind(4, row.payload_json)
          .bind(5, row.request_hash)
          .bind(6, row.created_at_ms);
      if (ins.step() != SQLITE_DONE) {
        rc = ins.rc();
        error = ins.error();
        break;
      }
      last_seq_ = row.seq;
      ++row_count_;
      res.status = EnqueueStatus::accepted;
      res.row = std::move(row);
      added = true;
    }
    if (rc == SQLITE_OK) {
      rc = exec(db, "COMMIT", &error);  // synchronous=FULL: returns once the WAL is fsync'd
    }
    if (rc != SQLITE_OK) {
      exec(db, "ROLLBACK");
      last_seq_ = seq_before;
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
      for (const auto& p : batch) in_progress_.erase(p.mutation.idempotency_key);
      on_commit = on_commit_;
    }
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
    if (added && on_commit) on_commit();
  }

  Db writer_;
  Db reader_;
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

  std::mutex reader_mu_;
  std::thread thread_;
};

}  // namespace

std::string_view to_string(MutationState state) {
  switch (state) {
    case MutationState::pending:
      return "pending";
    case MutationState::acknowledged:
      return "acknowledged";
    case MutationState::dead:
      return "dead";
  }
  return "pending";
}

std::optional<MutationState> parse_state(std::string_view text) {
  if (text == "pending") return MutationState::pending;
  if (text == "acknowledged") return MutationState::acknowledged;
  if (text == "dead") return MutationState::dead;
  return std::nullopt;
}

boost::system::result<std::unique_ptr<Outbox>> Outbox::open(const std::filesystem::path& file,
                                                            OutboxOptions options,
                                                            std::string* error) {
  std::string local_error;
  if (!error) error = &local_error;
  Db writer = open_db(file, error);
  if (!writer) return make_error_code(boost::system::errc::io_error);

  // Refuse a damaged file before touching it: an operator must decide what to do with it.
  {
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
    Stmt v(writer.get(), "PRAGMA user_version");
    v.step();
    const auto version = v.i64(0);
    if (version > kSchemaVersion) {
      *error = "the outbox " + file.string() + " was written by a newer weighlink-agent (schema " +
               std::to_string(version) + "); upgrade the agent";
      return make_error_code(boost::system::errc::not_supported);
    }
    exec(writer.get(), ("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
  }
  Db reader = open_db(file, error);
  if (!reader) return make_error_code(boost::system::errc::io_error);
  auto outbox = std::make_unique<SqliteOutbox>(std::move(writer), std::move(reader), options, file);
  if (!outbox->init(error)) return make_error_code(boost::system::errc::io_error);
  return std::unique_ptr<Outbox>(std::move(outbox));
}

}  // namespace weighlink::sync
