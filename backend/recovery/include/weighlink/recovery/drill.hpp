#pragma once
// weighlink-backend drill and dr-status (SPEC §6; docs/operations.md, "Restore drill" and "DR
// status gate").
//
// drill: restores DIR/verified-latest into a disposable cluster of its own (checksum against
// the pointer, pre-data, data, post-data, ANALYZE, migrate, a new generation: the steps of
// `restore`), starts this binary's `serve` on it (loopback ports), waits for /readyz 200, smokes
// it over gRPC (Hello, a synthetic mutation APPLIED, its re-send DUPLICATE), tears it all down,
// and appends one JSON line (a DrillRecord) to the ops log. Exit 0 when every step passed, 3 when
// the drill ran and failed (the dump does not restore, the backend does not get ready, the smoke
// fails), 1 when it could not run (no verified-latest, DIR unreachable, no scratch cluster), 2 on
// bad usage. The ops-log line is written in every case but bad usage.
//
// dr-status: the production-readiness gate over the backup folder and the ops log: the latest
// backup, the latest verified dump (the RPO right now), the latest drill (its result and RTO),
// each against DrPolicy (dr_gate). A human summary, then the JSON object as the last line of
// stdout. Exit 0 when every check is met, 3 when not, 1 when DIR cannot be read, 2 bad usage.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weighlink/base/command.hpp"
#include "weighlink/base/error.hpp"
#include "weighlink/recovery/backup_policy.hpp"
#include "weighlink/recovery/offsite.hpp"

namespace weighlink::recovery {

// drill: the drill ran and failed; dr-status: the gate is not met.
inline constexpr int kExitDrillFailed = 3;
inline constexpr int kExitGateNotMet = 3;

// The ops log's default name, in DIR when DIR is a local folder.
inline constexpr std::string_view kDrillOpsLog = "drills.jsonl";

struct DrillOptions {
  std::vector<std::string> locations;   // --dir, then each --fallback, in order
  std::string ops_log;                  // empty: DIR/drills.jsonl (required when DIR is remote)
  std::string scratch_dir;              // where the disposable cluster goes; empty: $TMPDIR
  int jobs = 2;                         // pg_restore --jobs for data and post-data
  int ready_timeout_s = 120;            // from starting the backend to /readyz 200
  std::string self = "/proc/self/exe";  // the binary whose `serve` and `station add` run
};
[[nodiscard]] int run_drill(const DrillOptions& options, const base::Console& console);

struct DrStatusOptions {
  std::vector<std::string> locations;  // --dir, then each --fallback, in order
  std::string ops_log;                 // empty: DIR/drills.jsonl (required when DIR is remote)
  DrPolicy policy;
};
[[nodiscard]] int run_dr_status(const DrStatusOptions& options, const base::Console& console);

// Where drill and dr-status read and write: the locations of --dir and each --fallback, and the
// ops log (`ops_log`, else DIR/drills.jsonl when DIR is a local folder). Pure; invalid_argument
// (bad usage) when a location cannot be parsed, none is given, or DIR is a remote without
// --ops-log.
struct DrillPaths {
  std::vector<Location> locations;
  std::filesystem::path ops_log;
};
[[nodiscard]] base::Expected<DrillPaths> drill_paths(const std::vector<std::string>& locations,
                                                     const std::string& ops_log);

// One line of the ops log: what a drill measured and how it ended. Pure conversions; times are
// Unix seconds, durations seconds (nullopt: the drill did not get that far).
struct DrillRecord {
  std::int64_t started_at = 0;
  std::string dump;  // the verified dump drilled ("" when none was found)
  std::string dump_sha256;
  std::optional<std::int64_t> dump_created_at;  // its manifest time
  std::string location;                         // where it was read from
  std::optional<double> scratch_s;  // the disposable cluster's start (not part of the RTO)
  std::optional<double> fetch_s;    // download (remote) and checksum
  std::optional<double> restore_s;  // pre-data, data, post-data, analyze, migrate, generation
  std::vector<std::pair<std::string, double>> restore_steps;
  std::string schema;             // "1 -> 5"
  std::optional<double> ready_s;  // backend started until /readyz answered 200
  std::optional<double> smoke_s;
  std::optional<double> rto_s;  // from the start of the fetch until /readyz answered 200
  bool passed = false;
  std::string failed_step;  // empty when passed
  std::string failure;      // what failed, what to do
  int exit_code = 0;
  std::string host;
  std::vector<std::string> notes;
};
// The JSON line (no newline): started_at, dump, dump_created_at, fetch_s, restore_s, ready_s,
// smoke_s, rto_s, result ("pass"/"fail"), failure (null or {step, detail}), severity (null or
// "sev-2"), host, and the rest of the record.
[[nodiscard]] std::string to_json_line(const DrillRecord& record);
// A line of the ops log; invalid_argument, saying what is missing, when it is not a drill record
// (a corrupt or foreign line). Needs started_at and result; the rest is read when present.
[[nodiscard]] base::Expected<DrillRecord> parse_drill_record(std::string_view line);

}  // namespace weighlink::recovery
