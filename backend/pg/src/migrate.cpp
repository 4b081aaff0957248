// The migrations applied to a live database: what `migrate`, `serve`'s start-up checks, restore
// and mark-restored share.
#include <string>

#include "weighlink/pg/migrations.hpp"
#include "weighlink/pg/pg.hpp"

namespace weighlink::pg {

Result<SchemaStatus> schema_status(PgConnection& connection) {
  return with_reconnect(connection, [&]() -> Result<SchemaStatus> {
    if (auto connected = connection.ensure_connected(); !connected) return connected.error();
    SchemaStatus status;
    status.latest_version = latest_schema_version();
    auto result = connection.exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (!result) {
      if (result.error() == Errc::not_migrated) return status;  // no schema_migrations yet
      return result.error();
    }
    status.current_version = to_int<int>(result->get(0, 0));
    return status;
  });
}

Result<std::vector<int>> migrate(PgConnection& connection) {
  if (auto connected = connection.ensure_connected(); !connected) return connected.error();
  // A migration may rewrite a big table, and a second replica waits for the first one's
  // advisory lock: no statement or lock timeout here.
  if (auto r = connection.exec("SET statement_timeout = 0; SET lock_timeout = 0"); !r) {
    return r.error();
  }
  std::vector<int> applied_now;
  for (const auto& migration : migrations()) {
    PgTransaction transaction(connection);
    if (auto begun = transaction.begin(); !begun) return begun.error();
    // Held until COMMIT: a second replica migrating at the same time waits here, then sees the
    // version recorded and skips it.
    if (auto r = connection.exec("SELECT pg_advisory_xact_lock($1)",
                                 {std::to_string(kMigrationLockKey)});
        !r) {
      return r.error();
    }
    if (auto r = connection.exec(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, "
            "applied_at timestamptz NOT NULL DEFAULT now())");
        !r) {
      return r.error();
    }
    auto done = connection.exec("SELECT version FROM schema_migrations");
    if (!done) return done.error();
    std::vector<int> applied;
    applied.reserve(static_cast<std::size_t>(done->rows()));
    for (int row = 0; row < done->rows(); ++row) applied.push_back(to_int<int>(done->get(row, 0)));
    const auto pending = pending_migrations(std::span(&migration, 1), applied);
    if (pending.empty()) continue;  // the transaction rolls back: nothing to do
    if (auto r = connection.exec(migration.sql); !r) return r.error();
    if (auto r = connection.exec("INSERT INTO schema_migrations (version) VALUES ($1)",
                                 {std::to_string(migration.version)});
        !r) {
      return r.error();
    }
    if (auto committed = transaction.commit(); !committed) return committed.error();
    applied_now.push_back(migration.version);
  }
  return applied_now;
}

}  // namespace weighlink::pg
