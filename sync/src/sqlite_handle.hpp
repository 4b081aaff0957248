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
#include <system_error>

#include "weighlink/base/error.hpp"

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

// A SQLite result code as the errc the outbox's callers can act on: no_space_on_device (disk
// full), illegal_byte_sequence (a damaged file), io_error (any other failure).
[[nodiscard]] std::errc sqlite_errc(int rc);
// The same as the boost::system::error_code of the Outbox's results.
[[nodiscard]] boost::system::error_code sqlite_error(int rc);
// An Error with sqlite_errc(rc) and `message`.
[[nodiscard]] base::Error sqlite_failure(int rc, std::string message);

// sqlite3_exec: nothing, or SQLite's message (sqlite3_errcode(db) keeps the result code).
[[nodiscard]] base::Expected<void> exec(sqlite3* db, const char* sql);

// Opens `file` read-write (created when `create`), with the busy timeout the outbox uses, or the
// Error saying which file, why and what to check.
[[nodiscard]] base::Expected<Db> open_db(const std::filesystem::path& file, bool create);

// A transaction that rolls back unless committed (SQLiteCpp's Transaction, libpqxx's work).
// BEGIN runs in the constructor: check begun() (or rc(), or began() for SQLite's message) before
// using it.
class Transaction {
 public:
  enum class Mode { immediate, deferred };  // a write transaction; a read snapshot
  explicit Transaction(sqlite3* db, Mode mode = Mode::immediate);
  // The same with statements the caller keeps prepared ("BEGIN IMMEDIATE", "COMMIT").
  Transaction(sqlite3* db, Stmt& begin, Stmt& commit);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  [[nodiscard]] bool begun() const { return begun_; }
  // BEGIN's outcome: nothing, or SQLite's message.
  [[nodiscard]] base::Expected<void> began() const;
  // The result code of BEGIN, or of COMMIT once tried.
  [[nodiscard]] int rc() const { return rc_; }
  // Nothing once committed; otherwise SQLite's message (rc() has the code), and the destructor
  // rolls back.
  base::Expected<void> commit();

 private:
  sqlite3* db_;
  Stmt* commit_stmt_ = nullptr;
  bool begun_ = false;
  bool committed_ = false;
  int rc_ = SQLITE_OK;
  std::string message_;  // SQLite's message when rc_ is not SQLITE_OK
};

}  // namespace weighlink::sync::sqlite
