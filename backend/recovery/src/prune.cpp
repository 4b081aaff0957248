// weighlink-backend prune: retention without a backup (retention.hpp; docs/operations.md,
// "Retention"), on a folder or rclone remote and its mirrors, over weighlink's backups and the
// pg_dump files of --pattern, with --dry-run to see what would go and why each dump stays.
#include <ostream>

#include "command_clock.hpp"
#include "weighlink/recovery/commands.hpp"
#include "weighlink/recovery/dump_pattern.hpp"
#include "weighlink/recovery/offsite.hpp"
#include "weighlink/recovery/retention.hpp"

namespace weighlink::recovery {

int run_prune(const PruneOptions& options, const base::Console& console) {
  if (!options.retention.any()) {
    console.err << "weighlink-backend: prune: no rule given; give at least one of "
                   "--retention-days, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly "
                   "(without one, everything but the newest and the newest verified dumps would "
                   "go)\n";
    return kExitUsage;
  }
  const auto locations = parse_locations(options.locations);
  if (!locations) {
    console.err << "weighlink-backend: prune: " << locations.error().message << "\n";
    return kExitUsage;
  }
  if (locations->empty()) {
    console.err << "weighlink-backend: prune: no --dir given\n";
    return kExitUsage;
  }
  auto patterns = parse_dump_patterns(options.patterns);
  if (!patterns) {
    console.err << "weighlink-backend: prune: --pattern: " << patterns.error().message << "\n";
    return kExitUsage;
  }
  const RetentionRun run{.policy = options.retention,
                         .now = unix_now(),
                         .dry_run = options.dry_run,
                         .verbose = true,
                         .command = "prune",
                         .patterns = std::move(*patterns),
                         .newest_by = options.newest_by_mtime ? NewestBy::mtime : NewestBy::name};
  console.out << "retention: keeping " << options.retention.describe()
              << (options.dry_run ? " (dry run: nothing is removed)" : "") << "\n";
  int exit_code = kExitOk;
  for (const auto& location : *locations) {
    auto store = open_store(location);
    if (!apply_retention(console, *store, run)) exit_code = kExitFailure;
  }
  return exit_code;
}

}  // namespace weighlink::recovery
