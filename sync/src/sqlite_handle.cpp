#include "sqlite_handle.hpp"

namespace weighlink::sync::sqlite {

Stmt::Stmt(sqlite3* db, const char* sql, unsigned flags) : db_(db) {
  sqlite3_stmt* raw = nullptr;
  rc_ = sqlite3_prepare_v3(db, sql, -1, flags, &raw, nullptr);
  stmt_.reset(raw);
}

Stmt& Stmt::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
  return *this;
}

Stmt& Stmt::bind(int i, std::int64_t v) {
  sqlite3_bind_int64(stmt_.get(), i, v);
  return *this;
}

Stmt& Stmt::bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

std::string Stmt::text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), col));
  return p ? std::string(p, sqlite3_column_bytes(stmt_.get(), col)) : std::string();
}

std::errc sqlite_errc(int rc) {
  if (rc == SQLITE_FULL) return std::errc::no_space_on_device;
  if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return std::errc::illegal_byte_sequence;
  return std::errc::io_error;
}

boost::system::error_code sqlite_error(int rc) {
  return make_error_code(static_cast<boost::system::errc::errc_t>(sqlite_errc(rc)));
}

base::Error sqlite_failure(int rc, std::string message) {
  return base::Error{std::make_error_code(sqlite_errc(rc)), std::move(message)};
}

base::Expected<void> exec(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
  std::string message = rc == SQLITE_OK ? std::string() : msg ? msg : sqlite3_errstr(rc);
  sqlite3_free(msg);
  if (rc != SQLITE_OK) return sqlite_failure(rc, std::move(message));
  return {};
}

base::Expected<Db> open_db(const std::filesystem::path& file, bool create) {
  sqlite3* raw = nullptr;
  // SQLite takes UTF-8 file names; a path's native string is UTF-16 on Windows.
  const auto name = file.u8string();
  const int rc = sqlite3_open_v2(
      reinterpret_cast<const char*>(name.c_str()), &raw,
      SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return sqlite_failure(
        rc, "cannot open outbox " + file.string() + ": " +
                (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)) +
                "; check that the data directory exists and is writable by the agent's user");
  }
  sqlite3_busy_timeout(db.get(), 5000);
  sqlite3_extended_result_codes(db.get(), 0);
  return db;
}

Transaction::Transaction(sqlite3* db, Mode mode) : db_(db) {
  if (auto begun = exec(db, mode == Mode::immediate ? "BEGIN IMMEDIATE" : "BEGIN"); !begun) {
    rc_ = sqlite3_errcode(db);
    message_ = std::move(begun.error().message);
  }
  begun_ = rc_ == SQLITE_OK;
}

Transaction::Transaction(sqlite3* db, Stmt& begin, Stmt& commit) : db_(db), commit_stmt_(&commit) {
  rc_ = begin.reset().step() == SQLITE_DONE ? SQLITE_OK : begin.rc();
  if (rc_ != SQLITE_OK) message_ = sqlite3_errmsg(db);
  begun_ = rc_ == SQLITE_OK;
}

Transaction::~Transaction() {
  if (begun_ && !committed_) (void)exec(db_, "ROLLBACK");
}

base::Expected<void> Transaction::began() const {
  if (begun_) return {};
  return sqlite_failure(rc_, message_);
}

base::Expected<void> Transaction::commit() {
  if (committed_) return {};
  if (!begun_) return sqlite_failure(rc_, message_);
  if (commit_stmt_) {
    // synchronous=FULL: returns once the WAL is fsync'd
    rc_ = commit_stmt_->reset().step() == SQLITE_DONE ? SQLITE_OK : commit_stmt_->rc();
    if (rc_ != SQLITE_OK) message_ = sqlite3_errmsg(db_);
  } else if (auto done = exec(db_, "COMMIT"); !done) {
    rc_ = sqlite3_errcode(db_);
    message_ = std::move(done.error().message);
  }
  committed_ = rc_ == SQLITE_OK;
  if (!committed_) return sqlite_failure(rc_, message_);
  return {};
}

}  // namespace weighlink::sync::sqlite
