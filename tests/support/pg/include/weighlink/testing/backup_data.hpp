#pragma once
// Backup test data and the verify-backup run, shared by the verify-backup and monitor tests: a
// weighlink database seeded with stations and captures, and `weighlink-backend verify-backup`
// with its JSON report.

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "weighlink/testing/process.hpp"

namespace weighlink::testing {

// A --scratch-dir for verify-backup or drill: a fresh folder the disposable cluster's server can
// enter (it runs as `postgres` when the tests run as root), removed by the destructor.
class ScratchDir {
 public:
  ScratchDir();
  [[nodiscard]] const std::filesystem::path& path() const { return dir_.path(); }

 private:
  TempDir dir_{"wl-scratch-dir"};
};

class PgCluster;

// A JSON file's top-level object (a manifest, a pointer, a report); throws when it is not one.
[[nodiscard]] boost::json::object read_json(const std::filesystem::path& path);

// Migrates the cluster's `weighlink` database and gives it three stations (st0, st1, st2) with
// `per_station` applied captures each (mutation_log and weighings rows) and their high waters.
void seed_captures(const PgCluster& pg, int per_station);

// `weighlink-backend verify-backup --dir DIR --report DIR.report.json` then `args`.
struct VerifyRun {
  int exit_code = -1;
  std::string output;
  boost::json::object report;  // empty when none was written
  // The report's code ("OK", "TRUNCATED"...), "" without a report.
  [[nodiscard]] std::string code() const;
};
[[nodiscard]] VerifyRun verify_backup(const std::filesystem::path& dir,
                                      const std::vector<std::string>& args = {});
// `weighlink-backend verify-backup --report REPORT` then `args` (which give --dir: a remote, say).
[[nodiscard]] VerifyRun verify_backup_with_report(const std::vector<std::string>& args,
                                                  const std::filesystem::path& report);

// Moves the backup whose manifest is `manifest` (beside its dump, in a local folder) `by` into the
// past: its created_at and the two file names, which carry that time to the second. A backup taken
// next in that folder then has a name of its own without waiting for the clock's next second. Call
// it before verify-backup records anything about the dump. Returns the moved manifest's path;
// throws std::runtime_error when the manifest cannot be read or the files cannot be renamed.
std::filesystem::path backdate_backup(const std::filesystem::path& manifest,
                                      std::chrono::seconds by);

}  // namespace weighlink::testing
