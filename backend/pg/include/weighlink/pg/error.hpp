#pragma once
// Error codes of the backend libraries (pg, service, recovery), registered as a boost::system
// error category so that every fallible function returns `Result<T>` instead of throwing.

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <type_traits>

namespace weighlink::pg {

enum class Errc {
  ok = 0,
  // The database connection broke (server restart, network). Retryable: gRPC UNAVAILABLE.
  connection_lost,
  // A concurrent writer (another replica) inserted the same key first. Retry the whole batch.
  unique_violation,
  // Serialization failure or deadlock detected. Retry the transaction.
  serialization_failure,
  // A statement or lock wait ran past its timeout (statement_timeout, lock_timeout). Retryable
  // later: gRPC UNAVAILABLE.
  timed_out,
  // Any other database error. Not retryable.
  database_error,
  // The server refused a value or a row (SQLSTATE class 22 data exception or 23 integrity
  // constraint, other than the unique violation above): one row's problem, not the database's.
  // Replay finds the row and rejects it alone (storage_refused).
  data_refused,
  // The schema is missing or older than this binary expects: run `weighlink-backend migrate`.
  not_migrated,
  station_not_found,
  station_exists,
  unauthenticated,
  permission_denied,
  invalid_argument,
};

[[nodiscard]] const boost::system::error_category& backend_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), backend_category()};
}

template <class T>
using Result = boost::system::result<T>;

}  // namespace weighlink::pg

template <>
struct boost::system::is_error_code_enum<weighlink::pg::Errc> : std::true_type {};
