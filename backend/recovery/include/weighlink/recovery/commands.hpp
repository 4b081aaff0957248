#pragma once
// The recovery toolchain's one-shot commands (backup, restore, mark-restored), called by main.cpp
// after flag parsing; verify-backup, drill, dr-status and monitor have headers of their own. Each
// returns the process exit code (weighlink/base/command.hpp). Errors go to stderr as one line
// (what failed, where, what to do).

#include <cstddef>
#include <string>
#include <vector>

#include "weighlink/base/command.hpp"
#include "weighlink/recovery/retention.hpp"

namespace weighlink::recovery {

using base::kExitFailure;
using base::kExitOk;
using base::kExitUsage;

// backup --dir DIR: DIR/weighlink_YYYYMMDD_HHMMSS.dump (pg_dump -Fc) and its .manifest.json (size,
// sha256, per-table row counts, per-station high water and the generation from the dump's own
// snapshot, server version, created_at). DIR is a local folder or an rclone remote; each --mirror
// gets a copy; when the retention policy sets a rule, retention runs on every destination
// afterwards (retention.hpp). The last line printed is the primary manifest's path. Exit 1 when
// any destination missed the dump.
struct BackupOptions {
  std::string dsn;
  std::vector<std::string> destinations;  // --dir, then each --mirror
  RetentionPolicy retention;              // no rule set: no retention
  std::string staging_dir;                // where a dump for a remote --dir is written first
};
[[nodiscard]] int run_backup(const BackupOptions& options, const base::Console& console);

// prune --dir DIR [--mirror DIR2 ...] RULES [--pattern P ...] [--newest-by name|mtime]
// [--dry-run]: retention alone, without a backup, on every location: weighlink's backups by their
// manifests and pg_dump files without one by the patterns (retention_folder), each group planned
// on its own; each dump's decision is printed (kept: by which rules; removed: why), then the files
// left alone, then a count per location. With dry_run nothing is removed. Exit 2 when no rule is
// set or a pattern is bad, 1 when a location could not be listed or a file not removed.
struct PruneOptions {
  std::vector<std::string> locations;  // --dir, then each --mirror
  RetentionPolicy retention;
  bool dry_run = false;
  std::vector<std::string> patterns;  // --pattern (none: kDefaultDumpPatterns), as verify-backup's
  bool newest_by_mtime = false;       // --newest-by mtime
};
[[nodiscard]] int run_prune(const PruneOptions& options, const base::Console& console);

struct RestoreOptions {
  // A custom-format dump (backup's weighlink_*.dump); with a FetchSource, a file name there
  // (empty: the dump verified-latest names).
  std::string file;
  std::string dsn;       // the target database; nothing outside it is touched
  bool force = false;    // empty a non-empty target first (drop its schemas)
  std::size_t jobs = 2;  // pg_restore --jobs for the data and post-data sections
  // Not empty: the file's sha256 must be this (the verified-latest pointer's, for a dump fetched
  // without its manifest), else it is refused before the target is touched.
  std::string expected_sha256;
};

// restore --file F --dsn DSN [--force] [--jobs N], or restore --dir DIR [--fallback DIR2 ...]
// [--file NAME] [--staging-dir D] ... (the dump fetched first; without --file verified-latest's,
// its sha256 checked against the pointer): refuses a file that is not a custom-format
// dump or not of a weighlink database (exit 2), one whose sha256 differs from the manifest
// beside it, a dump it cannot read to the end, a target that is not empty without --force, and a
// target a weighlink-backend is still connected to (exit 1, the target untouched). Then pg_restore
// pre-data, data, post-data (each timed; a failure names its phase and the failing object),
// ANALYZE, the pending migrations, and a new generation in backend_meta (with restored_from,
// restored_at). Prints a phase and throughput summary; the last line is the new generation.
// restore.hpp has the same as a function (restore_dump).
// restore --dir DIR [--fallback DIR2 ...]: fetch the dump (and its manifest) from the first
// location that answers, a folder or an rclone remote (a crypt remote decrypts on the way).
struct FetchSource {
  std::vector<std::string> locations;  // empty: options.file is a local path
  std::string staging_dir;             // where a remote's dump is downloaded (default $TMPDIR)
};
[[nodiscard]] int run_restore(const RestoreOptions& options, const base::Console& console,
                              const FetchSource& source = {});

// mark-restored --dsn DSN --from TEXT: after a restore weighlink did not run itself (pgBackRest
// point-in-time recovery, a volume snapshot): refuses a server still in recovery, runs the pending
// migrations (as migrate) and sets a new generation with restored_from = TEXT and restored_at.
// The last line printed is the new generation. An empty --from exits 2.
[[nodiscard]] int run_mark_restored(const std::string& dsn, const std::string& restored_from,
                                    const base::Console& console);

}  // namespace weighlink::recovery
