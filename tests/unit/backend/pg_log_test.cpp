// The monitor's corruption indicators over lines a real PostgreSQL 15 server logged (a page
// overwritten on disk with data checksums on, a backend killed with SIGKILL, a relation file
// removed, the WAL removed under a stopped server), and the log follower over a real file that
// grows, is rotated and is truncated.
#include "weighlink/recovery/pg_log.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "weighlink/testing/process.hpp"

using weighlink::recovery::IndicatorKind;
using weighlink::recovery::match_corruption_indicator;
using weighlink::recovery::PgLogFollower;
namespace fs = std::filesystem;

namespace {

std::string indicator(std::string_view line) {
  const auto match = match_corruption_indicator(line);
  return match ? std::string(match->indicator) : "";
}

void append(const fs::path& file, const std::string& text) {
  std::ofstream(file, std::ios::app | std::ios::binary) << text;
}

std::vector<std::string> read(PgLogFollower& follower) {
  auto lines = follower.read_new_lines();
  REQUIRE(lines.has_value());
  return *lines;
}

}  // namespace

TEST_CASE("pg log: each indicator is found in the line PostgreSQL 15 logs for it") {
  struct Case {
    const char* line;
    const char* indicator;
    IndicatorKind kind;
  };
  const std::vector<Case> cases = {
      {"2026-12-07 15:57:31.398 UTC [5059] WARNING:  page verification failed, calculated "
       "checksum 45839 but expected 58741",
       "checksum_failure", IndicatorKind::damage},
      {"2026-12-07 15:57:31.398 UTC [5059] ERROR:  invalid page in block 0 of relation "
       "base/5/16384",
       "invalid_page", IndicatorKind::damage},
      {"2026-12-07 15:57:31.398 UTC [5059] WARNING:  invalid page in block 0 of relation "
       "base/5/16384; zeroing out page",
       "invalid_page", IndicatorKind::damage},
      {"2026-12-07 15:57:49.289 UTC [5267] ERROR:  could not open file \"base/5/16384\": No such "
       "file or directory",
       "file_missing", IndicatorKind::damage},
      {"2026-12-07 16:01:02.000 UTC [6001] ERROR:  could not read block 7 in file "
       "\"base/16384/16385\": read only 4096 of 8192 bytes",
       "read_error", IndicatorKind::damage},
      {"2026-12-07 16:01:02.000 UTC [6001] ERROR:  could not read block 7 in file "
       "\"base/16384/16385\": Input/output error",
       "read_error", IndicatorKind::damage},
      {"2026-12-07 16:01:02.000 UTC [6002] PANIC:  could not fsync file \"base/16384/16385\": "
       "Input/output error",
       "write_error", IndicatorKind::damage},
      {"2026-12-07 16:01:02.000 UTC [6002] ERROR:  could not extend file \"base/16384/16385\": No "
       "space left on device",
       "write_error", IndicatorKind::damage},
      {"2026-12-07 16:01:02.000 UTC [6003] PANIC:  could not write to file "
       "\"pg_wal/xlogtemp.6003\": Input/output error",
       "io_error", IndicatorKind::damage},
      {"2026-12-07 15:57:32.496 UTC [5050] LOG:  server process (PID 5070) was terminated by "
       "signal 9: Killed",
       "backend_crash", IndicatorKind::crash},
      {"2026-12-07 15:57:32.496 UTC [5050] LOG:  terminating any other active server processes",
       "backend_crash", IndicatorKind::crash},
      {"2026-12-07 15:57:32.527 UTC [5075] LOG:  database system was interrupted; last known up "
       "at 2026-12-07 15:57:31 UTC",
       "recovery_interrupted", IndicatorKind::crash},
      {"2026-12-07 15:57:52.723 UTC [5279] LOG:  startup process (PID 5282) was terminated by "
       "signal 6: Aborted",
       "startup_failed", IndicatorKind::crash},
      {"2026-12-07 15:57:52.724 UTC [5279] LOG:  shutting down due to startup process failure",
       "startup_failed", IndicatorKind::crash},
      // Debian's log_line_prefix ('%m [%p] %q%u@%d ') and the journal's own prefix.
      {"2026-12-07 15:57:31.398 UTC [5059] weighlink@weighlink ERROR:  invalid page in block 3 of "
       "relation base/16384/16390",
       "invalid_page", IndicatorKind::damage},
      {"Dec 07 15:57:32 db postgres[5050]: [7-1] LOG:  server process (PID 5070) was terminated "
       "by signal 11: Segmentation fault",
       "backend_crash", IndicatorKind::crash},
  };
  for (const auto& c : cases) {
    CAPTURE(c.line);
    const auto match = match_corruption_indicator(c.line);
    REQUIRE(match);
    CHECK(match->indicator == c.indicator);
    CHECK(match->kind == c.kind);
  }
  // Every indicator named is documented with its meaning.
  for (const auto& c : cases) {
    bool documented = false;
    for (const auto& info : weighlink::recovery::corruption_indicators()) {
      documented = documented || info.indicator == c.indicator;
    }
    CHECK_MESSAGE(documented, c.indicator);
  }
}

TEST_CASE("pg log: ordinary lines, and a client's text quoted in a log line, are no indicator") {
  for (const char* line : {
           "2026-12-07 15:57:31.349 UTC [5050] LOG:  database system is ready to accept "
           "connections",
           "2026-12-07 15:57:31.341 UTC [5053] LOG:  database system was shut down at 2026-12-07 "
           "15:57:31 UTC",
           "2026-12-07 15:57:31.036 UTC [5028] LOG:  background worker \"logical replication "
           "launcher\" (PID 5034) exited with exit code 1",
           "2026-12-07 15:57:34.571 UTC [5129] FATAL:  the database system is in recovery mode",
           "2026-12-07 15:57:32.500 UTC [5050] LOG:  all server processes terminated; "
           "reinitializing",
           // The statement that met the damage, and a crashed backend's query: client text.
           "2026-12-07 15:57:31.398 UTC [5059] STATEMENT:  SELECT 'invalid page in block 0'",
           "2026-12-07 15:57:32.496 UTC [5050] DETAIL:  Failed process was running: SELECT "
           "'LOG:  server process (PID 1) was terminated by signal 9'",
           "2026-12-07 16:00:00.000 UTC [6010] ERROR:  invalid input syntax for type numeric: "
           "\"invalid page in block 0 of relation base/1/2\"",
           // A client's own file in COPY, not the cluster's.
           "2026-12-07 16:00:00.000 UTC [6011] ERROR:  could not open file \"/tmp/in.csv\" for "
           "reading: No such file or directory",
           // A continuation line of a multi-line statement, and no severity at all.
           "\tinvalid page in block 0 of relation base/5/16384",
           "",
       }) {
    CAPTURE(line);
    CHECK(indicator(line).empty());
  }
}

TEST_CASE("pg log: the follower reads what the file gained, across rotation and truncation") {
  weighlink::testing::TempDir dir("wl-pglog");
  const auto log = dir / "postgresql.log";
  append(log, "LOG:  before the monitor started\n");
  PgLogFollower follower(log.string());
  CHECK(read(follower).empty());  // what was there before is not news

  append(log, "LOG:  one\nLOG:  two\nLOG:  half");
  CHECK(read(follower) == std::vector<std::string>{"LOG:  one", "LOG:  two"});
  append(log, " of a line\n");
  CHECK(read(follower) == std::vector<std::string>{"LOG:  half of a line"});
  CHECK(read(follower).empty());

  // Rotated (renamed away, a new file at the path): the old file's last lines, then the new.
  append(log, "LOG:  last of the old file\n");
  fs::rename(log, dir / "postgresql.log.1");
  append(log, "LOG:  first of the new file\n");
  CHECK(read(follower) ==
        std::vector<std::string>{"LOG:  last of the old file", "LOG:  first of the new file"});
  append(dir / "postgresql.log.1", "LOG:  written to the old file after the switch\n");
  CHECK(read(follower).empty());

  // Truncated in place (logrotate copytruncate): read from its start again.
  fs::resize_file(log, 0);
  append(log, "LOG:  after truncation\n");
  CHECK(read(follower) == std::vector<std::string>{"LOG:  after truncation"});

  // Removed: no lines, no error; when it comes back it is read from its start.
  fs::remove(log);
  CHECK(read(follower).empty());
  append(log, "LOG:  back\n");
  CHECK(read(follower) == std::vector<std::string>{"LOG:  back"});

  // A line longer than the limit is cut there, and the next line is whole.
  append(log, std::string(PgLogFollower::kMaxLine + 100, 'x') + "\nLOG:  next\n");
  const auto lines = read(follower);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].size() == PgLogFollower::kMaxLine);
  CHECK(lines[1] == "LOG:  next");
}

TEST_CASE("pg log: a file that does not exist yet is read from its start once it appears") {
  weighlink::testing::TempDir dir("wl-pglog");
  const auto log = dir / "later.log";
  PgLogFollower follower(log.string());
  CHECK(read(follower).empty());
  append(log, "LOG:  first\n");
  CHECK(read(follower) == std::vector<std::string>{"LOG:  first"});
}

TEST_CASE("pg log: a path that is not a readable file is an error that says what to do") {
  weighlink::testing::TempDir dir("wl-pglog");
  PgLogFollower follower(dir.path().string());
  const auto lines = follower.read_new_lines();
  REQUIRE_FALSE(lines.has_value());
  CHECK(lines.error().message.find("not a regular file") != std::string::npos);
}
