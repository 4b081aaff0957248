#pragma once
// Runs an external tool (rclone, pg_restore, ...) to completion with posix_spawnp: stdin from
// /dev/null or given bytes, stdout and stderr captured (through unlinked temporary files, so a
// chatty tool never blocks on a full pipe), and an optional wall-clock deadline past which the
// tool is killed (SIGKILL) and reaped.
//
// Threading: run_command blocks its caller; calls from several threads at once are safe.
// ChildProcess has one owner.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace weighlink::base {

struct CommandOptions {
  // Killed past it; none: waits as long as the tool runs.
  std::optional<std::chrono::milliseconds> deadline;
  // Written to the tool's stdin; none: /dev/null.
  std::optional<std::string> stdin_data;
  // NAME=VALUE entries added to (or replacing in) the inherited environment, e.g. PGPASSWORD:
  // a secret passed here stays out of the command line that `ps` shows.
  std::vector<std::string> environment;
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

// Where temporary files go: $TMPDIR when it names a folder, else /tmp. Never throws.
[[nodiscard]] std::filesystem::path temp_folder();

// For programs that leave a daemon behind (pg_ctl start, initdb): fork and exec with stdin from
// /dev/null and stdout and stderr appended to `log`, every other inherited descriptor closed in
// the child (the daemon keeps none of our sockets or files), killed past `deadline`. The exit
// status, 128 + the signal, or -1 when it could not run or timed out.
[[nodiscard]] int run_logged(const std::vector<std::string>& argv, const std::filesystem::path& log,
                             std::chrono::milliseconds deadline);

// A daemon started by a command (drill's `serve`) and stopped by it: stdin /dev/null, stdout and
// stderr appended to a log file, default signal handling with nothing blocked, and SIGTERM should
// its parent die first (PR_SET_PDEATHSIG), so that no backend outlives the drill that started it.
// The destructor stops what is still running as terminate() does.
class ChildProcess {
 public:
  // argv[0] is looked up on PATH unless it contains '/'; nullptr with `error` when it cannot
  // start (the log file cannot be opened, fork fails). An argv[0] that cannot be executed shows as
  // an exit with status 127 and a line in the log.
  [[nodiscard]] static std::unique_ptr<ChildProcess> spawn(const std::vector<std::string>& argv,
                                                           const std::filesystem::path& log_file,
                                                           std::string& error);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Does not block: the exit status (the code, or 128 + the signal) once it has exited.
  [[nodiscard]] std::optional<int> poll();
  // SIGTERM, then waits up to `grace`, then SIGKILL; always reaped. Its exit status, and whether
  // it took the SIGKILL.
  struct Stopped {
    int exit_status = -1;
    bool killed = false;
  };
  Stopped terminate(std::chrono::milliseconds grace);
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace weighlink::base
