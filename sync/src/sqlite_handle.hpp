#pragma once
// RAII over SQLite's C API for the outbox: the connection, prepared statements, and a transaction
// that rolls back unless committed. Private to sync/ (the outbox's adapter); no thread safety of
// its own: each connection is used by one thread at a time.

#include <sqlite3.h>

#include <boost/system/error_code.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace weighlink::sync::sqlite {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

// A prepared statement with positional binding helpers. Finalized on destruction.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql, unsigned flags = 0);
  // Ready for another use (statements the writer keeps prepared).
  Stmt& reset();
  [[nodiscard]] bool ok() const { return rc_ == SQLITE_OK; }
  Stmt& bind(int i, std::int64_t v);
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, std::string_view v);
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return rc_ = sqlite3_step(stmt_.get()); }
  [[nodiscard]] std::int64_t i64(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
  [[nodiscard]] std::string text(int col) const;
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

// sqlite3_exec; on failure `error` (when given) gets SQLite's message.
int exec(sqlite3* db, const char* sql, std::string* error = nullptr);

// A SQLite result code as an error_code the outbox's callers can act on (disk full, a damaged
// file, any other I/O failure); the message text travels separately.
[[nodiscard]] boost::system::error_code sqlite_error(int rc);

// Opens `file` read-write (created when `create`), with the busy timeout the outbox uses. Null
// with `error` set (which file, why, what to check) when it cannot.
[[nodiscard]] Db open_db(const std::filesystem::path& file, bool create, std::string* error);

// A transaction that rolls back unless committed (SQLiteCpp's Transaction, libpqxx's work).
// BEGIN runs in the constructor: check begun() (or rc()) before using it.
class Transaction {
 public:
  enum class Mode { immediate, deferred };  // a write transaction; a read snapshot
  explicit Transaction(sqlite3* db, Mode mode = Mode::immediate, std::string* error = nullptr);
  // The same with statements the caller keeps prepared ("BEGIN IMMEDIATE", "COMMIT").
  Transaction(sqlite3* db, Stmt& begin, Stmt& commit);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  [[nodiscard]] bool begun() const { return begun_; }
  // The result code of BEGIN, or of COMMIT once tried.
  [[nodiscard]] int rc() const { return rc_; }
  // SQLITE_OK once committed; otherwise the error code, and the destructor rolls back.
  int commit(std::string* error = nullptr);

 private:
  sqlite3* db_;
  Stmt* commit_stmt_ = nullptr;
  bool begun_ = false;
  bool committed_ = false;
  int rc_ = SQLITE_OK;
};

}  // namespace weighlink::sync::sqlite
