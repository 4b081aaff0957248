#pragma once
// The restore as a function, for `restore` (run_restore prints its result) and `monitor --recover`
// (which restores verified-latest into a fresh database): refusals first, then pg_restore
// section by section, ANALYZE, the pending migrations and a new generation (restore.cpp;
// docs/operations.md, "Restore").
//
// Threading: blocks its caller (pg_restore runs as child processes); no shared state.

#include <boost/system/result.hpp>
#include <iosfwd>
#include <string>

#include "weighlink/recovery/commands.hpp"

namespace weighlink::recovery {

// Why a restore stopped: the exit code `restore` gives for it (kExitUsage for a file that is not
// a weighlink dump, kExitFailure otherwise) and one line: what failed, where, what to do, and
// whether the target was touched.
struct RestoreFailure {
  int exit_code = kExitFailure;
  std::string message;
};

[[noreturn]] void throw_exception_from_error(const RestoreFailure& failure,
                                             const boost::source_location& location);

struct RestoredDump {
  std::string target;           // host:port/dbname
  std::string sha256;           // of the file restored
  std::string generation;       // the new one
  std::string dump_generation;  // the one the dump brought ("" when none)
  int schema_before = 0;        // the dump's schema version
  int schema_after = 0;         // after the migrations
  double seconds = 0;           // check to new generation
};

using RestoreResult = boost::system::result<RestoredDump, RestoreFailure>;

// Restores options.file into options.dsn; every step's time goes to `progress` as it completes
// (one line each, the summary last), what run_restore prints on stdout.
[[nodiscard]] RestoreResult restore_dump(const RestoreOptions& options, std::ostream& progress);

// restore --dir: source.locations in order, the first that answers; options.file a dump's name
// there, or empty for the one verified-latest names (its sha256 then must match the pointer's).
// A remote's dump and manifest are downloaded into a folder of their own under
// source.staging_dir, removed afterwards; then restore_dump on the local copy.
[[nodiscard]] RestoreResult restore_from_location(const RestoreOptions& options,
                                                  const FetchSource& source,
                                                  std::ostream& progress);

}  // namespace weighlink::recovery
