#include "weighlink/pg/pg.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <cstdlib>

namespace weighlink::pg {
namespace {

// libpq messages end with a newline and may span lines; log lines want one line.
std::string one_line(const char* message) {
  std::string text;
  for (const char* p = message ? message : ""; *p != '\0'; ++p) {
    const bool space = *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ';
    if (!space) {
      text.push_back(*p);
    } else if (!text.empty() && text.back() != ' ') {
      text.push_back(' ');
    }
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

}  // namespace

Errc classify_pg_error(std::string_view sqlstate, bool connection_ok) noexcept {
  if (!connection_ok) return Errc::connection_lost;
  if (sqlstate == "23505") return Errc::unique_violation;
  if (sqlstate == "40001" || sqlstate == "40P01") return Errc::serialization_failure;
  // Class 08 (connection exception) and the shutdown family of class 57 (operator intervention).
  if (sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
      sqlstate == "57P03") {
    return Errc::connection_lost;
  }
  // undefined_table, undefined_column: the schema is older than this binary.
  if (sqlstate == "42P01" || sqlstate == "42703") return Errc::not_migrated;
  // query_canceled (statement_timeout) and lock_not_available (lock_timeout).
  if (sqlstate == "57014" || sqlstate == "55P03") return Errc::timed_out;
  // Data exception (22: a value out of range, bad input for a type) or integrity constraint
  // (23: a CHECK, NOT NULL, a foreign key): the fault of a row, not of the database.
  if (sqlstate.starts_with("22") || sqlstate.starts_with("23")) return Errc::data_refused;
  return Errc::database_error;
}

std::optional<std::string> dsn_problem(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (options != nullptr) {
    PQconninfoFree(options);
    return std::nullopt;
  }
  std::string message = one_line(error ? error : "out of memory");
  PQfreemem(error);
  return message;
}

DsnForTool dsn_for_tool(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  PQfreemem(error);
  if (options == nullptr) return {dsn, {}};
  std::string password;
  bool has_password = false;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == "password" && o->val != nullptr) {
      password = o->val;
      has_password = true;
    }
  }
  PQconninfoFree(options);
  if (!has_password) return {dsn, {}};
  return {dsn_with_parameters(dsn, {}, {"password"}), {"PGPASSWORD=" + password}};
}

std::string dsn_with_database(const std::string& dsn, const std::string& database) {
  return dsn_with_parameters(dsn, {{"dbname", database}});
}

std::string dsn_with_parameters(const std::string& dsn,
                                const std::vector<std::pair<std::string, std::string>>& parameters,
                                const std::vector<std::string>& removed) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  PQfreemem(error);
  if (options == nullptr) return dsn;
  auto quoted = [](std::string_view value) {
    std::string out = "'";
    for (const char c : value) {
      if (c == '\\' || c == '\'') out += '\\';
      out += c;
    }
    return out + "'";
  };
  auto replaced = [&](std::string_view keyword) {
    return std::any_of(parameters.begin(), parameters.end(),
                       [&](const auto& p) { return p.first == keyword; }) ||
           std::find(removed.begin(), removed.end(), keyword) != removed.end();
  };
  std::string out;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || replaced(o->keyword)) continue;
    out += std::string(o->keyword) + "=" + quoted(o->val) + " ";
  }
  PQconninfoFree(options);
  for (const auto& [keyword, value] : parameters) out += keyword + "=" + quoted(value) + " ";
  if (!out.empty()) out.pop_back();
  return out;
}

std::string dsn_target(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  PQfreemem(error);
  if (options == nullptr) return "an unparsable DSN";
  std::string host;
  std::string hostaddr;
  std::string port;
  std::string dbname;
  std::string user;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view keyword = o->keyword;
    if (keyword == "host") host = o->val;
    if (keyword == "hostaddr") hostaddr = o->val;
    if (keyword == "port") port = o->val;
    if (keyword == "dbname") dbname = o->val;
    if (keyword == "user") user = o->val;
  }
  PQconninfoFree(options);
  // libpq's defaults: the environment (PGHOST...), then the Unix socket, 5432, the user's name.
  auto env = [](const char* name) {
    const char* value = std::getenv(name);
    return std::string(value != nullptr ? value : "");
  };
  if (host.empty()) host = hostaddr.empty() ? env("PGHOST") : hostaddr;
  if (host.empty() || host.starts_with('/')) host = "local";
  if (port.empty()) port = env("PGPORT").empty() ? "5432" : env("PGPORT");
  if (dbname.empty()) dbname = env("PGDATABASE").empty() ? user : env("PGDATABASE");
  return host + ":" + port + "/" + (dbname.empty() ? "?" : dbname);
}

void PgResult::Deleter::operator()(pg_result* result) const noexcept { PQclear(result); }

PgResult::PgResult(pg_result* result) : result_(result) {}

int PgResult::rows() const noexcept { return result_ ? PQntuples(result_.get()) : 0; }

bool PgResult::is_null(int row, int column) const noexcept {
  return !result_ || PQgetisnull(result_.get(), row, column) != 0;
}

std::string_view PgResult::get(int row, int column) const noexcept {
  if (!result_) return {};
  return {PQgetvalue(result_.get(), row, column),
          static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

void PgConnection::Deleter::operator()(pg_conn* conn) const noexcept { PQfinish(conn); }

PgConnection::PgConnection(std::string dsn, Session session)
    : dsn_(std::move(dsn)), session_(session) {}

Result<void> PgConnection::ensure_connected() {
  if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK) return {};
  conn_.reset();
  // Defaults first: keywords inside the operator's DSN (expanded from "dbname") come later and
  // win. Bounded connect and keepalives so a vanished server is noticed, not waited on forever;
  // bounded statements and lock waits so a stuck transaction cannot pin a worker (or shutdown).
  const std::array<const char*, 8> keywords = {"connect_timeout",
                                               "keepalives_idle",
                                               "tcp_user_timeout",
                                               "application_name",
                                               "options",
                                               "dbname",
                                               nullptr};
  const std::array<const char*, 8> values = {"5",
                                             "10",
                                             "15000",
                                             "weighlink-backend",
                                             session_ == Session::serving
                                                 ? "-c statement_timeout=30s -c lock_timeout=20s"
                                                 : "-c statement_timeout=0 -c lock_timeout=20s",
                                             dsn_.c_str(),
                                             nullptr};
  conn_.reset(PQconnectdbParams(keywords.data(), values.data(), 1));
  if (!conn_) {
    last_error_ = "out of memory allocating a PostgreSQL connection";
    return Errc::connection_lost;
  }
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    last_error_ = one_line(PQerrorMessage(conn_.get()));
    conn_.reset();
    return Errc::connection_lost;
  }
  // Server notices (e.g. "relation already exists, skipping") are not errors.
  PQsetNoticeProcessor(
      conn_.get(), [](void*, const char*) {}, nullptr);
  return {};
}

Result<void> PgConnection::check_open() {
  if (conn_) return {};
  last_error_ = "not connected";
  last_sqlstate_.clear();
  last_primary_.clear();
  return Errc::connection_lost;
}

Result<PgResult> PgConnection::exec(std::string_view sql, const std::vector<std::string>& params) {
  if (auto open = check_open(); !open) return open.error();
  const std::string statement(sql);
  pg_result* raw = nullptr;
  if (params.empty()) {
    // PQexec allows several statements in one string (migrations).
    raw = PQexec(conn_.get(), statement.c_str());
  } else {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& param : params) values.push_back(param.c_str());
    raw = PQexecParams(conn_.get(), statement.c_str(), static_cast<int>(values.size()), nullptr,
                       values.data(), nullptr, nullptr, 0);
  }
  return finish(raw);
}

Result<PgResult> PgConnection::exec_binary(std::string_view sql,
                                           const std::vector<std::string_view>& params) {
  if (auto open = check_open(); !open) return open.error();
  const std::string statement(sql);
  std::vector<const char*> values;
  std::vector<int> lengths;
  const std::vector<int> formats(params.size(), 1);
  values.reserve(params.size());
  lengths.reserve(params.size());
  for (const auto& param : params) {
    values.push_back(param.data());
    lengths.push_back(static_cast<int>(param.size()));
  }
  return finish(PQexecParams(conn_.get(), statement.c_str(), static_cast<int>(params.size()),
                             nullptr, values.data(), lengths.data(), formats.data(), 0));
}

Result<PgResult> PgConnection::finish(pg_result* raw) {
  PgResult result(raw);
  const ExecStatusType status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;

  const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  last_sqlstate_ = state ? state : "";
  const char* primary = raw ? PQresultErrorField(raw, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  last_primary_ = primary ? one_line(primary) : std::string();
  last_error_ = one_line(raw ? PQresultErrorMessage(raw) : PQerrorMessage(conn_.get()));
  if (last_error_.empty()) last_error_ = one_line(PQerrorMessage(conn_.get()));
  const bool connection_ok = PQstatus(conn_.get()) == CONNECTION_OK;
  return classify_pg_error(state ? std::string_view(state) : std::string_view{}, connection_ok);
}

std::string PgConnection::target() const {
  if (!conn_) return "the database of --dsn";
  const char* host = PQhost(conn_.get());
  const char* port = PQport(conn_.get());
  const char* db = PQdb(conn_.get());
  return std::string(host ? host : "?") + ":" + (port ? port : "?") + "/" + (db ? db : "?");
}

void PgConnection::reset() noexcept { conn_.reset(); }

PgTransaction::~PgTransaction() {
  if (open_) {
    // Best effort: on a broken connection the server has rolled back already.
    (void)connection_.exec("ROLLBACK");
  }
}

Result<void> PgTransaction::begin() {
  auto result = connection_.exec("BEGIN");
  if (!result) return result.error();
  open_ = true;
  return {};
}

Result<void> PgTransaction::commit() {
  auto result = connection_.exec("COMMIT");
  open_ = false;
  if (!result) return result.error();
  return {};
}

}  // namespace weighlink::pg
