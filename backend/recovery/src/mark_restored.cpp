// weighlink-backend mark-restored: after a restore that weighlink did not run itself (a
// pgBackRest point-in-time recovery, a snapshot, a replica promoted), the same ending as
// `restore`: the migrations this binary knows and a new generation, so that every agent learns
// at its next Hello that the database went back in time (SPEC §5; docs/operations.md,
// "Point-in-time recovery (pgBackRest)").
#include <ostream>
#include <string>

#include "restore_internal.hpp"
#include "weighlink/pg/migrations.hpp"
#include "weighlink/pg/pg.hpp"
#include "weighlink/recovery/commands.hpp"

namespace weighlink::recovery {
namespace {

int fail(const base::Console& console, int code, const std::string& what) {
  console.err << "weighlink-backend: mark-restored: " << what << "\n";
  return code;
}

}  // namespace

int run_mark_restored(const std::string& dsn, const std::string& restored_from,
                      const base::Console& console) {
  if (restored_from.find_first_not_of(" \t\r\n") == std::string::npos) {
    return fail(console, kExitUsage,
                "--from is empty; say where the database came from, e.g. --from \"pgbackrest "
                "PITR to 2026-11-21 03:00:00+00\"");
  }
  pg::PgConnection db(dsn);
  if (!db.ensure_connected()) {
    return fail(console, kExitFailure,
                "cannot reach PostgreSQL at " + db.target() + " (" + db.last_error() +
                    "); check --dsn and that the restored server is running");
  }
  const std::string target = db.target();
  // A server still replaying WAL (recovery not finished, or paused at its target with
  // --target-action=pause) is read-only: say so instead of failing on the first write.
  auto recovery = db.exec("SELECT pg_is_in_recovery()");
  if (!recovery)
    return fail(console, kExitFailure, "cannot query " + target + ": " + db.last_error());
  if (recovery->get(0, 0) == "t") {
    return fail(console, kExitFailure,
                target +
                    " is still in recovery (pg_is_in_recovery() is true): wait "
                    "until it is promoted (paused at its target: check the data, "
                    "then SELECT pg_wal_replay_resume(); a standby: pg_ctl "
                    "promote), then run this again");
  }

  // The same code as `migrate`: a database restored from before an upgrade comes up on this
  // binary's schema before the generation (in backend_meta) is written.
  const auto before = pg::schema_status(db);
  const auto applied = pg::migrate(db);
  const auto after = pg::schema_status(db);
  if (!before || !applied || !after) {
    return fail(console, kExitFailure,
                "the migrations failed on " + target + ": " + db.last_error() +
                    "; fix the cause and run mark-restored again before serving "
                    "this database (agents would not notice the restore)");
  }
  auto generation = new_generation(db, restored_from);
  if (!generation) {
    return fail(console, kExitFailure,
                "cannot set a new generation on " + target + ": " + db.last_error() +
                    "; run mark-restored again before serving this database "
                    "(agents would not notice the restore)");
  }
  console.out << "schema " << before->current_version << " -> " << after->current_version
              << (applied->empty() ? " (nothing to apply)" : "") << "\n"
              << "marked " << target << " as restored from \"" << restored_from
              << "\": new generation " << generation->now << " (was "
              << (generation->previous.empty() ? "none" : generation->previous)
              << "); agents re-send what the database lacks at their next Hello\n"
              << generation->now << std::endl;
  return kExitOk;
}

}  // namespace weighlink::recovery
