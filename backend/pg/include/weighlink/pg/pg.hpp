#pragma once
// RAII adapter over libpq: a connection that reconnects when it went bad, results freed
// automatically, and a transaction that rolls back unless committed. Database errors are mapped
// to typed causes (Errc): unique violation, retryable serialization failure, connection lost.
//
// Threading: a PgConnection belongs to one thread at a time (one per pool worker).

#include <charconv>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weighlink/pg/error.hpp"

struct pg_conn;
struct pg_result;

namespace weighlink::pg {

// Maps a SQLSTATE (empty when libpq produced no server error) and the connection's health to a
// typed cause.
[[nodiscard]] Errc classify_pg_error(std::string_view sqlstate, bool connection_ok) noexcept;

// Why `dsn` is not a valid libpq connection string, or nullopt when it parses (no connection).
[[nodiscard]] std::optional<std::string> dsn_problem(const std::string& dsn);

// `dsn` (keywords or a URI) naming `database` instead of its own, as a keyword string.
[[nodiscard]] std::string dsn_with_database(const std::string& dsn, const std::string& database);

// `dsn` (keywords or a URI) as a keyword string with each of `parameters` (keyword, value) set,
// replacing the DSN's own value of that keyword, and the `removed` keywords left out. `dsn`
// itself when it does not parse.
[[nodiscard]] std::string dsn_with_parameters(
    const std::string& dsn, const std::vector<std::pair<std::string, std::string>>& parameters,
    const std::vector<std::string>& removed = {});

// "host:port/dbname" of a DSN, without connecting and never with the password: for logs of a
// database that may be unreachable ("local" for the Unix socket, libpq's defaults otherwise).
[[nodiscard]] std::string dsn_target(const std::string& dsn);

// For a client program (pg_dump, pg_restore): `dsn` without its password, and the password as
// the PGPASSWORD=... environment entry (empty when the DSN has none), so that no password shows
// on a command line.
struct DsnForTool {
  std::string dsn;
  std::vector<std::string> environment;
};
[[nodiscard]] DsnForTool dsn_for_tool(const std::string& dsn);

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* result);
  [[nodiscard]] int rows() const noexcept;
  [[nodiscard]] bool is_null(int row, int column) const noexcept;
  [[nodiscard]] std::string_view get(int row, int column) const noexcept;

 private:
  struct Deleter {
    void operator()(pg_result* result) const noexcept;
  };
  std::unique_ptr<pg_result, Deleter> result_;
};

class PgConnection {
 public:
  // What the session is for. Serving sessions bound every statement (30 s) and lock wait (20 s)
  // so that a stuck transaction cannot pin a worker; maintenance sessions (backup's counts,
  // restores, verification) read or write whole tables and keep only the lock bound. The DSN's
  // own `options` win over both.
  enum class Session { serving, maintenance };

  // Does not connect yet; ensure_connected() does, so a worker can start while PostgreSQL is
  // down and connect once it is back.
  explicit PgConnection(std::string dsn, Session session = Session::serving);

  // Connects, or reconnects when the connection went bad. Cheap when the connection is fine.
  [[nodiscard]] Result<void> ensure_connected();

  // Runs one statement with text parameters. On failure last_error() says why.
  [[nodiscard]] Result<PgResult> exec(std::string_view sql,
                                      const std::vector<std::string>& params = {});
  // Runs one statement whose parameters are all in PostgreSQL's binary format: text as its
  // bytes, arrays as BinaryArray (binary_array.hpp) makes them. `sql` casts every parameter to
  // its type ($1::text, $2::int8[]) so that the server knows how to read it.
  [[nodiscard]] Result<PgResult> exec_binary(std::string_view sql,
                                             const std::vector<std::string_view>& params);

  // The last error message from libpq or the server (one line, no password).
  [[nodiscard]] const std::string& last_error() const noexcept { return last_error_; }
  // The SQLSTATE and the server's primary message (no "ERROR:", no detail) of the last failed
  // statement; empty when libpq produced no server error.
  [[nodiscard]] const std::string& last_sqlstate() const noexcept { return last_sqlstate_; }
  [[nodiscard]] const std::string& last_primary_message() const noexcept { return last_primary_; }
  // "host:port/dbname" for messages; never the password.
  [[nodiscard]] std::string target() const;
  // Drops the connection (next ensure_connected() opens a new one).
  void reset() noexcept;
  // Whether a connection is open (it may still turn out broken on the next statement).
  [[nodiscard]] bool is_open() const noexcept { return conn_ != nullptr; }

 private:
  struct Deleter {
    void operator()(pg_conn* conn) const noexcept;
  };
  // connection_lost with last_error() set when no connection is open.
  Result<void> check_open();
  // The result of a statement, or its typed error with last_error() and the others set.
  Result<PgResult> finish(pg_result* raw);
  std::string dsn_;
  Session session_;
  std::unique_ptr<pg_conn, Deleter> conn_;
  std::string last_error_;
  std::string last_sqlstate_;
  std::string last_primary_;
};

// BEGIN on begin(); ROLLBACK in the destructor unless commit() succeeded.
class PgTransaction {
 public:
  explicit PgTransaction(PgConnection& connection) : connection_(connection) {}
  ~PgTransaction();
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;
  [[nodiscard]] Result<void> begin();
  [[nodiscard]] Result<void> commit();

 private:
  PgConnection& connection_;
  bool open_ = false;
};

// An integer column as PostgreSQL sends it (int, bigint); 0 when it is not one.
template <class Int>
[[nodiscard]] Int to_int(std::string_view text) {
  Int value{};
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

// Runs `query` (which connects as needed); when it failed on a connection that was already open
// (a server restart breaks idle connections unnoticed), runs it once more on a new connection.
// Only for statements that are safe to repeat.
template <class Query>
auto with_reconnect(PgConnection& connection, Query query) -> decltype(query()) {
  const bool was_open = connection.is_open();
  auto result = query();
  if (!result && result.error() == Errc::connection_lost && was_open) {
    connection.reset();
    result = query();
  }
  return result;
}

}  // namespace weighlink::pg
