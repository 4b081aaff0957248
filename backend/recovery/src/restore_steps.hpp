#pragma once
// Internal to weighlink::recovery (restore, drill): what turns a custom-format dump into a
// database a backend of this binary serves, in order: pg_restore pre-data, data and post-data,
// ANALYZE (pg_restore brings no planner statistics), the pending migrations (a dump of an older
// schema comes up on this binary's), and a new generation with where the database came from
// (agents see the restore at their next Hello, SPEC §5). Each step is timed; the first that fails
// stops the rest and is named.
//
// Threading: blocks its caller; one connection, used by one thread.

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "weighlink/pg/pg.hpp"

namespace weighlink::recovery {

struct RestoreStep {
  std::string name;  // pre-data, data, post-data, analyze, migrate, generation
  double seconds = 0;
  std::string detail;  // migrate: "schema 1 -> 5"; generation: the new one
};

struct RestoreRun {
  std::vector<RestoreStep> steps;  // the steps that completed, in order
  std::string failed_step;         // empty: every step completed
  // What failed, e.g. "phase data failed (pg_restore exit 1): <pg_restore's lines, naming the
  // object>" or "phase migrate failed: <the server's error>"; callers add what to do next.
  std::string error;
  int schema_before = 0;
  int schema_after = 0;
  std::string dump_generation;  // the one the dump brought ("" when none)
  std::string generation;       // the new one
  [[nodiscard]] bool ok() const { return failed_step.empty(); }
  // The completed steps' time.
  [[nodiscard]] double seconds() const;
};

struct RestoreSource {
  std::string pg_restore;  // the program, of at least the dump's pg_dump version
  std::filesystem::path dump;
  int jobs = 2;  // pg_restore --jobs for data and post-data
  // Recorded in backend_meta.restored_from: the dump's file name and sha256.
  std::string restored_from;
};

// Restores `source` into the empty database `db` is connected to (`dsn`, which pg_restore
// connects to itself). `db` is a maintenance session: ANALYZE and the migrations of a large
// database outlast the serving statement timeout. `on_step` is told each step as it completes.
[[nodiscard]] RestoreRun restore_into(pg::PgConnection& db, const std::string& dsn,
                                      const RestoreSource& source,
                                      const std::function<void(const RestoreStep&)>& on_step = {});

}  // namespace weighlink::recovery
