#pragma once
// Internal to weighlink::recovery (backup, restore): the PostgreSQL client programs that match the
// server (pg_dump, pg_restore), run to completion with their stderr captured, and the dump file's
// sha256 (base::file_sha256). An adapter: POSIX spawn, no database connection.
//
// Threading: free functions, safe to call from any thread.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weighlink::recovery {

// The major version from server_version_num: "15" from "150004".
[[nodiscard]] std::string server_major(std::string_view server_version_num);

// `program` (pg_dump, pg_restore) of the server's own major version when installed side by side
// (Debian's /usr/lib/postgresql/<major>/bin), else `program` from PATH.
[[nodiscard]] std::string pg_program_for(std::string_view program,
                                         std::string_view server_version_num);

struct ProgramRun {
  int status = -1;     // exit status; 128 + signal when killed; -1 when it could not start
  std::string output;  // what it wrote to stdout
  std::string errors;  // what it wrote to stderr
};

// Runs argv[0] (looked up on PATH) to completion with stdin on /dev/null and stdout and stderr
// captured in unnamed temporary files, so nothing is left beside the files it works on.
[[nodiscard]] ProgramRun run_program(const std::vector<std::string>& argv,
                                     const std::vector<std::string>& environment = {});

// A client program's stderr on one line: its errors and the TOC entry it was working on (which
// names the failing object), without the program name, at most a few lines.
[[nodiscard]] std::string condense_errors(std::string_view errors);

// pg_restore of `dump` into `dsn` section by section: pre-data on one connection, then data and
// post-data with `jobs` workers, each with --exit-on-error --no-owner --no-privileges. Stops at
// the first section that fails. `on_section` is told each section's time as it completes.
struct SectionTiming {
  std::string section;  // pre-data, data, post-data
  double seconds = 0;
};
struct SectionsRestore {
  std::vector<SectionTiming> timings;  // the sections that completed
  std::string failed_section;          // empty: all three restored
  int status = 0;                      // pg_restore's exit status for the failed section
  std::string errors;                  // condensed: what failed, on which object
  [[nodiscard]] bool ok() const { return failed_section.empty(); }
};
[[nodiscard]] SectionsRestore restore_sections(
    const std::string& pg_restore, const std::filesystem::path& dump, const std::string& dsn,
    int jobs, const std::function<void(const SectionTiming&)>& on_section = {});

}  // namespace weighlink::recovery
