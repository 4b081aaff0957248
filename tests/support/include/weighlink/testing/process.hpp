#pragma once
// Process runner for integration tests, on weighlink::base's (base/subprocess.hpp): starts a real
// binary, waits for its --ready-file, and stops it with SIGTERM or SIGKILL, always reaping it
// (the destructor kills what is left).

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace weighlink::base {
class ChildProcess;
}  // namespace weighlink::base

namespace weighlink::testing {

// A fresh directory under /tmp, removed with its contents by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "wl-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const {
    return path_ / name;
  }

 private:
  std::filesystem::path path_;
};

// Path of a project binary in build/bin, or in $WEIGHLINK_BIN_DIR when set.
[[nodiscard]] std::string bin(const std::string& name);

class Process {
 public:
  // Starts argv[0] with the given arguments; stdout and stderr go to `log_file` (appended).
  Process(std::vector<std::string> argv, std::filesystem::path log_file);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Waits until `ready_file` exists and holds a JSON object; returns its string fields
  // (e.g. {"http": "127.0.0.1:41234"}). Throws if the process exits first or time runs out.
  std::map<std::string, std::string> wait_ready(
      const std::filesystem::path& ready_file,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGTERM and wait (SIGKILL after `grace`); returns the exit status as from waitpid.
  int terminate(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // SIGKILL and reap.
  void kill();
  // SIGSTOP, and back only once every thread is stopped (state T in /proc/PID/task/*/stat):
  // kill(2) returns before the signal has taken effect, and a thread still running could be half
  // way through a write. Throws when it does not stop within `timeout`. thaw() is SIGCONT.
  void freeze(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void thaw();
  // Non-blocking: has it exited? Then its waitpid status.
  [[nodiscard]] std::optional<int> poll();
  [[nodiscard]] bool running() { return !poll().has_value(); }
  [[nodiscard]] pid_t pid() const;
  [[nodiscard]] std::string log() const;  // what it printed so far

 private:
  std::unique_ptr<base::ChildProcess> child_;  // weighlink::base's one process runner
  std::filesystem::path log_file_;
};

// Runs a command to completion; returns {exit status, combined output}. Throws on timeout.
struct RunResult {
  int exit_code = -1;
  std::string output;
};
RunResult run(const std::vector<std::string>& argv,
              std::chrono::milliseconds timeout = std::chrono::seconds(60),
              const std::string& stdin_data = {});

// Runs a command to completion with stdout and stderr kept apart (what a program prints vs. its
// errors). Throws on timeout.
struct SplitRunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
SplitRunResult run_split(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Polls `condition` every `interval` until it returns true or `timeout` passes.
template <class F>
bool eventually(F&& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = std::chrono::milliseconds(50));

// "127.0.0.1:41234" -> {"127.0.0.1", 41234}
std::pair<std::string, unsigned short> split_host_port(const std::string& address);

// "127.0.0.1:PORT" with a port nothing listened on a moment ago (bound, then closed): an address
// that refuses connections, or a fixed address for a server that is restarted on it.
[[nodiscard]] std::string free_loopback_address();

// The whole of a file's bytes ("" when it cannot be read): logs, dumps.
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

// Writes `text` to `path` as the whole file (replacing it); throws std::runtime_error on failure.
void write_text(const std::filesystem::path& path, const std::string& text);

// Writes `text` to a file only its owner can read (mode 0600), as the agent requires of its token
// and key files.
void write_secret_file(const std::filesystem::path& path, const std::string& text);

// The last non-empty line of a command's output (where tokens and JSON reports are printed).
[[nodiscard]] std::string last_line(const std::string& text);

}  // namespace weighlink::testing

#include <thread>

template <class F>
bool weighlink::testing::eventually(F&& condition, std::chrono::milliseconds timeout,
                                    std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}
