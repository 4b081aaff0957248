#pragma once
// Runs an external tool (rclone, pg_restore, ...) to completion with posix_spawnp: stdin from
// /dev/null or given bytes, stdout and stderr captured (through unlinked temporary files, so a
// chatty tool never blocks on a full pipe), and an optional wall-clock deadline past which the
// tool is killed (SIGKILL) and reaped.
//
// Threading: run_command blocks its caller; calls from several threads at once are safe.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace weighlink::backend {

struct CommandOptions {
  // Killed past it; none: waits as long as the tool runs.
  std::optional<std::chrono::milliseconds> deadline;
  // Written to the tool's stdin; none: /dev/null.
  std::optional<std::string> stdin_data;
};

struct CommandResult {
  bool started = false;    // false: argv[0] could not be run (see `err`)
  bool timed_out = false;  // killed at the deadline
  int exit_status = -1;    // the exit code, or 128 + the signal
  std::string out;
  std::string err;  // the tool's stderr, or why it could not be started
  [[nodiscard]] bool ok() const { return started && !timed_out && exit_status == 0; }
};

// argv[0] is looked up on PATH unless it contains '/'. The environment is inherited.
[[nodiscard]] CommandResult run_command(const std::vector<std::string>& argv,
                                        const CommandOptions& options = {});

// For programs that leave a daemon behind (pg_ctl start, initdb): fork and exec with stdin from
// /dev/null and stdout and stderr appended to `log`, every other inherited descriptor closed in
// the child (the daemon keeps none of our sockets or files), killed past `deadline`. The exit
// status, 128 + the signal, or -1 when it could not run or timed out.
[[nodiscard]] int run_logged(const std::vector<std::string>& argv, const std::filesystem::path& log,
                             std::chrono::milliseconds deadline);

}  // namespace weighlink::backend
