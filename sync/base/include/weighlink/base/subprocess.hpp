#pragma once
// The one process runner (issue 17): spawn_process() is the one place that forks and execs, and
// wait_process() the one wait (on the child's pidfd, not a timer). On them: run_command (a tool
// run to completion, output captured), run_logged (a program that leaves a daemon behind), and
// ChildProcess (a long-lived child: the drill's backend, the tests' agents and backends).
//
// Threading: run_command and run_logged block their caller; calls from several threads at once
// are safe. ChildProcess has one owner.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weighlink/base/error.hpp"

namespace weighlink::base {

struct SpawnOptions {
  int stdin_fd = -1;   // -1: /dev/null
  int stdout_fd = -1;  // -1: /dev/null
  int stderr_fd = -1;  // -1: where stdout goes
  // NAME=VALUE entries added to (or replacing in) the inherited environment, e.g. PGPASSWORD:
  // a secret passed here stays out of the command line that `ps` shows.
  std::vector<std::string> environment;
  // A process group of its own, so that nothing it does signals ours (the tests' children).
  bool own_process_group = false;
  // SIGTERM when the thread that spawned it ends (PR_SET_PDEATHSIG): a daemon of a command that
  // must not outlive it.
  bool die_with_parent = false;
  // Every descriptor above stderr closed: for what starts a daemon that outlives us (pg_ctl).
  bool close_other_fds = false;
  // An argv[0] that cannot be executed: true, an Error ("cannot run X: reason") and no child;
  // false, a child that writes "cannot execute X" to its stderr and exits with 127.
  bool exec_failure_is_error = true;
};

// Forks and execs argv (argv[0] looked up on PATH unless it contains '/'), with default signal
// handling and nothing blocked in the child whatever the calling thread blocks. The child's pid.
[[nodiscard]] Expected<pid_t> spawn_process(const std::vector<std::string>& argv,
                                            const SpawnOptions& options = {});

// Waits for `pid` to exit, up to `deadline` when one is given; past it the child is killed
// (SIGKILL), reaped and `timed_out` set. Its exit status: the code, or 128 + the signal.
[[nodiscard]] int wait_process(pid_t pid, std::optional<std::chrono::milliseconds> deadline,
                               bool& timed_out);

struct CommandOptions {
  // Killed past it; none: waits as long as the tool runs.
  std::optional<std::chrono::milliseconds> deadline;
  // Written to the tool's stdin; none: /dev/null.
  std::optional<std::string> stdin_data;
  // As SpawnOptions::environment.
  std::vector<std::string> environment;
  // stderr into `out` too, interleaved as written (`err` then holds only a failure to start).
  bool merge_output = false;
};

struct CommandResult {
  bool started = false;    // false: argv[0] could not be run (see `err`)
  bool timed_out = false;  // killed at the deadline
  int exit_status = -1;    // the exit code, or 128 + the signal
  std::string out;
  std::string err;  // the tool's stderr, or why it could not be started
  [[nodiscard]] bool ok() const { return started && !timed_out && exit_status == 0; }
};

// Runs argv to completion: stdin from /dev/null or given bytes, stdout and stderr captured
// (through unlinked temporary files, so a chatty tool never blocks on a full pipe).
[[nodiscard]] CommandResult run_command(const std::vector<std::string>& argv,
                                        const CommandOptions& options = {});

// Where temporary files go: $TMPDIR when it names a folder, else /tmp. Never throws.
[[nodiscard]] std::filesystem::path temp_folder();

// For programs that leave a daemon behind (pg_ctl start, initdb): stdin from /dev/null and
// stdout and stderr appended to `log`, every other inherited descriptor closed in the child (the
// daemon keeps none of our sockets or files), killed past `deadline`. The exit status, 128 + the
// signal, or -1 when it could not run or timed out.
[[nodiscard]] int run_logged(const std::vector<std::string>& argv, const std::filesystem::path& log,
                             std::chrono::milliseconds deadline);

struct ChildProcessOptions {
  bool die_with_parent = true;     // SpawnOptions::die_with_parent (the drill's backend)
  bool own_process_group = false;  // SpawnOptions::own_process_group (the tests' children)
};

// A long-lived child started and stopped by its owner: stdin /dev/null, stdout and stderr
// appended to a log file. The destructor stops what is still running as terminate() does.
class ChildProcess {
 public:
  using Options = ChildProcessOptions;
  // The Error says why it cannot start (the log file cannot be opened, fork fails). An argv[0]
  // that cannot be executed shows as an exit with status 127 and a line in the log.
  [[nodiscard]] static Expected<std::unique_ptr<ChildProcess>> spawn(
      const std::vector<std::string>& argv, const std::filesystem::path& log_file,
      const Options& options = {});
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
  // SIGKILL and reap; its exit status.
  int kill();
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  // Once reaped: the status as waitpid gave it (WIFEXITED tells an exit from a signal).
  [[nodiscard]] std::optional<int> wait_status() const noexcept { return wait_status_; }

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  std::optional<int> wait_status_;
};

// SIGKILL to the process a pid file names (its first line), when it still runs, and waits (up
// to `patience`) until it is gone: what a stop command could not stop.
void kill_pid_file_process(const std::filesystem::path& pid_file,
                           std::chrono::milliseconds patience = std::chrono::seconds(2));

}  // namespace weighlink::base
