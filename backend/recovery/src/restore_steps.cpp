#include "restore_steps.hpp"

#include <chrono>
#include <string_view>

#include "command_clock.hpp"
#include "pg_tools.hpp"
#include "restore_internal.hpp"
#include "weighlink/pg/migrations.hpp"

namespace weighlink::recovery {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

double RestoreRun::seconds() const {
  double total = 0;
  for (const auto& step : steps) total += step.seconds;
  return total;
}

RestoreRun restore_into(pg::PgConnection& db, const std::string& dsn, const RestoreSource& source,
                        const std::function<void(const RestoreStep&)>& on_step) {
  RestoreRun run;
  const auto completed = [&](std::string name, double seconds, std::string detail = {}) {
    run.steps.push_back({std::move(name), seconds, std::move(detail)});
    if (on_step) on_step(run.steps.back());
  };
  const auto failed = [&](std::string step, std::string error) {
    run.failed_step = std::move(step);
    run.error = std::move(error);
    return run;
  };

  const auto sections =
      restore_sections(source.pg_restore, source.dump, dsn, source.jobs,
                       [&](const SectionTiming& t) { completed(t.section, t.seconds); });
  if (!sections.ok()) {
    return failed(sections.failed_section,
                  "phase " + sections.failed_section + " failed (pg_restore exit " +
                      std::to_string(sections.status) + "): " + sections.errors);
  }

  auto started = Clock::now();
  if (!db.exec("ANALYZE")) return failed("analyze", "phase analyze failed: " + db.last_error());
  completed("analyze", seconds_since(started));

  started = Clock::now();
  const auto before = pg::schema_status(db);
  const auto applied = pg::migrate(db);
  const auto after = pg::schema_status(db);
  if (!before || !applied || !after) {
    return failed("migrate", "phase migrate failed: " + db.last_error());
  }
  run.schema_before = before->current_version;
  run.schema_after = after->current_version;
  completed("migrate", seconds_since(started),
            "schema " + std::to_string(run.schema_before) + " -> " +
                std::to_string(run.schema_after) + (applied->empty() ? ", nothing to apply" : ""));

  started = Clock::now();
  auto generation = new_generation(db, source.restored_from);
  if (!generation) {
    return failed("generation", "cannot set a new generation: " + db.last_error());
  }
  run.dump_generation = generation->previous;
  run.generation = generation->now;
  completed("generation", seconds_since(started), generation->now);
  return run;
}

}  // namespace weighlink::recovery
