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

int exec(sqlite3* db, const char* sql, std::string* error) {
  char* msg = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
  if (rc != SQLITE_OK && error) *error = msg ? msg : sqlite3_errstr(rc);
  sqlite3_free(msg);
  return rc;
}

boost::system::error_code sqlite_error(int rc) {
  if (rc == SQLITE_FULL) return make_error_code(boost::system::errc::no_space_on_device);
  if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) {
    return make_error_code(boost::system::errc::illegal_byte_sequence);
  }
  return make_error_code(boost::system::errc::io_error);
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

Transaction::Transaction(sqlite3* db, Mode mode, std::string* error) : db_(db) {
  rc_ = exec(db, mode == Mode::immediate ? "BEGIN IMMEDIATE" : "BEGIN", error);
  begun_ = rc_ == SQLITE_OK;
}

Transaction::Transaction(sqlite3* db, Stmt& begin, Stmt& commit) : db_(db), commit_stmt_(&commit) {
  rc_ = begin.reset().step() == SQLITE_DONE ? SQLITE_OK : begin.rc();
  begun_ = rc_ == SQLITE_OK;
}

Transaction::~Transaction() {
  if (begun_ && !committed_) exec(db_, "ROLLBACK");
}

int Transaction::commit(std::string* error) {
  if (!begun_ || committed_) return rc_;
  if (commit_stmt_) {
    // synchronous=FULL: returns once the WAL is fsync'd
    rc_ = commit_stmt_->reset().step() == SQLITE_DONE ? SQLITE_OK : commit_stmt_->rc();
    if (rc_ != SQLITE_OK && error) *error = sqlite3_errmsg(db_);
  } else {
    rc_ = exec(db_, "COMMIT", error);
  }
  committed_ = rc_ == SQLITE_OK;
  return rc_;
}

}  // namespace weighlink::sync::sqlite
