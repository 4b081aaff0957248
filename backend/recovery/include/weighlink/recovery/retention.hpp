#pragma once
// Tiered retention: which dumps of a backup folder stay and why (docs/operations.md,
// "Retention"). The plan is a pure function over records that carry a Unix time: the manifests'
// created_at for weighlink's backups, the time in the file name (or the modification time) for
// pg_dump files without a manifest (retention_folder). apply_retention() carries the plans out on
// one Store, for `backup` after its dump and for `prune` on its own.
//
// Periods are UTC calendar periods: a day, an ISO 8601 week (Monday to Sunday, the week-year of
// its Thursday: 2027-01-01, a Friday, is in 2026-W53), a month, a year. Each tier keeps the newest
// dump of each of its N most recent periods that hold a dump (as restic's and Borg's --keep-daily
// and friends do): backups that stopped for a while never make the tiers delete the last ones.
//
// Threading: retention_plan and retention_folder are pure; apply_retention blocks on the store
// (rclone runs).

#include <cstdint>
#include <string>
#include <vector>

#include "weighlink/base/command.hpp"
#include "weighlink/recovery/backup_catalog.hpp"
#include "weighlink/recovery/backup_policy.hpp"
#include "weighlink/recovery/dump_folder.hpp"
#include "weighlink/recovery/dump_pattern.hpp"

namespace weighlink::recovery {

// What stays. A dump is kept when any rule keeps it; every rule at 0 keeps only the protected
// dumps (the newest dump of all and the newest `keep_verified` verified ones), so callers refuse
// a policy that sets no rule (RetentionPolicy::any()).
struct RetentionPolicy {
  int within_days = 0;  // every dump created less than N days before now (--retention-days)
  int daily = 0;        // the newest dump of each of the N most recent days with a dump
  int weekly = 0;       // ... ISO weeks
  int monthly = 0;
  int yearly = 0;
  std::size_t keep_verified = 2;  // the newest verified dumps, whatever their age
  [[nodiscard]] bool any() const {
    return within_days > 0 || daily > 0 || weekly > 0 || monthly > 0 || yearly > 0;
  }
  // "30 daily, 8 weekly, 12 monthly, 7 yearly" (the rules that are set), for messages.
  [[nodiscard]] std::string describe() const;
};

struct RetentionDecision {
  std::string name;
  std::int64_t created_at = 0;
  bool verified = false;
  bool keep = false;
  // Kept: every reason, e.g. {"newest dump", "daily 2027-01-15", "weekly 2027-W02"}. Removed:
  // one sentence saying why no rule keeps it.
  std::vector<std::string> reasons;
};

// One decision per dump, newest first (by time; ties: the later name).
[[nodiscard]] std::vector<RetentionDecision> retention_plan(const std::vector<DumpRecord>& dumps,
                                                            const RetentionPolicy& policy,
                                                            std::int64_t now);

// The period keys the tiers compare: "2027-01-15", "2027-W02", "2027-01", "2027" (UTC).
[[nodiscard]] std::string day_key(std::int64_t unix_seconds);
[[nodiscard]] std::string iso_week_key(std::int64_t unix_seconds);
[[nodiscard]] std::string month_key(std::int64_t unix_seconds);
[[nodiscard]] std::string year_key(std::int64_t unix_seconds);

// A listed folder as retention plans it: one plan per group, so that the dumps of one database
// never decide over another's (the grouping of verify-backup's size history and row counts):
// the dumps with a weighlink manifest (by manifest time), then the dumps of each file-name
// pattern (by the time in the name, or NewestBy::mtime the modification time), a file in the
// first pattern it matches. `left` is every other file that is not a grouped dump's companion
// (manifest, NAME.verified.json, NAME.sha256) nor verified-latest: retention never touches it.
// Pure: `catalog` is read_catalog()'s over `entries`.
struct RetentionGroup {
  std::string what;             // "dumps with a manifest", "pg_dump_%Y%m%d_%H%M.dump"
  bool with_manifests = false;  // the weighlink backups: their manifest goes first
  std::vector<DumpRecord> dumps;
};
struct LeftAlone {
  std::string name;
  std::string why;  // "no manifest names it and it matches no pattern (...)", ...
};
struct RetentionFolder {
  std::vector<RetentionGroup> groups;  // the groups that hold a dump
  std::vector<LeftAlone> left;         // by name
};
[[nodiscard]] RetentionFolder retention_folder(const Catalog& catalog,
                                               const std::vector<StoreEntry>& entries,
                                               const std::vector<DumpNamePattern>& patterns,
                                               NewestBy by);

// Lists the store, plans each group of retention_folder, and (unless `dry_run`) removes each
// dump that goes with its companions: a weighlink backup manifest first, then its verification
// record, the dump and a sidecar; a pg_dump file without a manifest first, then its verification
// record and sidecar (so that a dump that could not be removed keeps them). The dump
// verified-latest names always stays. Lines go to console.out: with `verbose` every decision
// ("keep NAME (reasons)", "remove NAME: why") and every file left alone, else only the removals.
// `command` starts every error ("backup", "prune"). False when the store could not be listed or
// a file could not be removed.
struct RetentionRun {
  RetentionPolicy policy;
  std::int64_t now = 0;
  bool dry_run = false;
  bool verbose = false;
  std::string command = "backup";  // for error lines: "weighlink-backend: COMMAND: ..."
  // Dumps without a manifest, by file name (prune --pattern); none: manifests only (backup).
  std::vector<DumpNamePattern> patterns{};
  NewestBy newest_by = NewestBy::name;
};
[[nodiscard]] bool apply_retention(const base::Console& console, Store& store,
                                   const RetentionRun& run);

}  // namespace weighlink::recovery
