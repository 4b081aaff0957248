#pragma once
// Versioned schema migrations. Each runs in its own transaction under an advisory lock, so two
// replicas migrating at once is safe; applied versions are recorded in schema_migrations.

#include <span>
#include <string_view>
#include <vector>

#include "weighlink/pg/pg.hpp"

namespace weighlink::pg {

struct Migration {
  int version = 0;
  std::string_view name;
  std::string_view sql;
};

// Every migration this binary knows, in version order.
[[nodiscard]] std::span<const Migration> migrations() noexcept;
[[nodiscard]] int latest_schema_version() noexcept;

// Versions must be positive and strictly increasing (checked by a unit test and at start-up).
[[nodiscard]] bool versions_strictly_increasing(std::span<const Migration> all) noexcept;

// The migrations of `all` whose version is not in `applied`, in version order.
[[nodiscard]] std::vector<const Migration*> pending_migrations(std::span<const Migration> all,
                                                               const std::vector<int>& applied);

// Key of pg_advisory_xact_lock that serialises migrations across replicas.
inline constexpr long long kMigrationLockKey = 0x776c6d6967;  // "wlmig"

// The schema on the server: what schema_migrations records against what this binary knows
// (migrate.cpp, on a live connection).
struct SchemaStatus {
  int current_version = 0;  // 0 when never migrated
  int latest_version = 0;   // what this binary expects
};
[[nodiscard]] Result<SchemaStatus> schema_status(PgConnection& connection);

// Applies pending migrations; returns the versions applied by this call (empty when up to date).
[[nodiscard]] Result<std::vector<int>> migrate(PgConnection& connection);

}  // namespace weighlink::pg
