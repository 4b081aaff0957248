#include "weighlink/base/subprocess.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string_view>
#include <system_error>
#include <thread>

extern char** environ;

namespace weighlink::base {
namespace {

using Clock = std::chrono::steady_clock;

// An unlinked temporary file: a tool's stdin, stdout or stderr.
class TempFile {
 public:
  TempFile() {
    std::string templ = (temp_folder() / "weighlink-run.XXXXXX").string();
    fd_ = ::mkostemp(templ.data(), O_CLOEXEC);
    if (fd_ >= 0) ::unlink(templ.c_str());
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] bool write_all(std::string_view text) const {
    while (!text.empty()) {
      const ssize_t n = ::write(fd_, text.data(), text.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      text.remove_prefix(static_cast<std::size_t>(n));
    }
    return ::lseek(fd_, 0, SEEK_SET) == 0;
  }
  [[nodiscard]] std::string read_all() const {
    std::string out;
    if (::lseek(fd_, 0, SEEK_SET) != 0) return out;
    char buffer[1 << 16];
    ssize_t n = 0;
    while ((n = ::read(fd_, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) out.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
};

int exit_status_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Error system_error(int code, std::string message) {
  return Error{std::error_code(code, std::generic_category()),
               std::move(message) + ": " + std::strerror(code)};
}

// The environment for the child: ours, with `mine`'s entries replacing those of the same name.
std::vector<char*> child_environment(const std::vector<std::string>& mine) {
  std::vector<char*> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto name = entry.substr(0, entry.find('=') + 1);
    const bool replaced = std::any_of(mine.begin(), mine.end(),
                                      [&](const std::string& m) { return m.starts_with(name); });
    if (!replaced) env.push_back(*e);
  }
  for (const auto& m : mine) env.push_back(const_cast<char*>(m.c_str()));
  env.push_back(nullptr);
  return env;
}

// In the child, between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_child(char* const* args, char* const* env, const SpawnOptions& options,
                             pid_t parent, int report) {
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int signal = 1; signal < NSIG; ++signal) ::sigaction(signal, &default_action, nullptr);
  if (options.own_process_group) ::setpgid(0, 0);
  if (options.die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(128 + SIGTERM);  // the parent died before prctl
  }
  const int in = options.stdin_fd >= 0 ? options.stdin_fd : ::open("/dev/null", O_RDONLY);
  const int out = options.stdout_fd >= 0 ? options.stdout_fd : ::open("/dev/null", O_WRONLY);
  if (in >= 0) ::dup2(in, STDIN_FILENO);
  if (out >= 0) ::dup2(out, STDOUT_FILENO);
  ::dup2(options.stderr_fd >= 0 ? options.stderr_fd : STDOUT_FILENO, STDERR_FILENO);
  if (options.close_other_fds) {
    // All but the exec report pipe, which closes itself on exec.
    if (report < 0) {
      ::close_range(3, ~0U, 0);
    } else {
      if (report > 3) ::close_range(3, static_cast<unsigned>(report) - 1, 0);
      ::close_range(static_cast<unsigned>(report) + 1, ~0U, 0);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execvpe(args[0], args, env);
  const int exec_errno = errno;
  if (report >= 0) {
    (void)!::write(report, &exec_errno, sizeof exec_errno);
  } else {
    constexpr std::string_view kCannot = "cannot execute ";
    (void)!::write(STDERR_FILENO, kCannot.data(), kCannot.size());
    (void)!::write(STDERR_FILENO, args[0], std::strlen(args[0]));
    (void)!::write(STDERR_FILENO, "\n", 1);
  }
  ::_exit(127);
}

}  // namespace

Expected<pid_t> spawn_process(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty()) return invalid_argument("no command");
  // Everything the child needs is made before fork: it may not allocate.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const auto env = child_environment(options.environment);
  int report[2] = {-1, -1};
  if (options.exec_failure_is_error && ::pipe2(report, O_CLOEXEC) != 0) {
    return system_error(errno, "cannot run " + argv[0] + ": no pipe");
  }
  const pid_t parent = ::getpid();
  // Signals stay blocked from fork until the child has put back the default handlers: one that
  // came in between would run the parent's handler in the child.
  sigset_t all;
  sigset_t before;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &before);
  const pid_t pid = ::fork();
  if (pid == 0) exec_child(args.data(), env.data(), options, parent, report[1]);
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
  if (report[1] >= 0) ::close(report[1]);
  if (pid < 0) {
    if (report[0] >= 0) ::close(report[0]);
    return system_error(fork_errno, "cannot fork to run " + argv[0]);
  }
  // Both sides set the group, so that it is set when spawn_process returns (the parent's call
  // fails harmlessly once the child has exec'd).
  if (options.own_process_group) ::setpgid(pid, pid);
  if (report[0] < 0) return pid;
  // The pipe closes on a successful exec (no bytes); a failed one writes its errno.
  int exec_errno = 0;
  ssize_t n = 0;
  while ((n = ::read(report[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
  }
  ::close(report[0]);
  if (n != static_cast<ssize_t>(sizeof exec_errno)) return pid;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return system_error(exec_errno, "cannot run " + argv[0]);
}

namespace {

// The raw waitpid status of `pid` once it exited (killed and reaped past `deadline`, with
// `timed_out` set); nullopt when it is not (or no longer) our child.
std::optional<int> reap(pid_t pid, std::optional<std::chrono::milliseconds> deadline,
                        bool& timed_out) {
  int status = 0;
  if (!deadline) {
    pid_t waited = 0;
    while ((waited = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    return waited == pid ? std::optional<int>(status) : std::nullopt;
  }
  const auto until = Clock::now() + *deadline;
  // Woken by the exit itself (the pidfd becomes readable), not by a timer.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  std::optional<int> result;
  while (true) {
    const pid_t waited = ::waitpid(pid, &status, WNOHANG);
    if (waited == pid) {
      result = status;
      break;
    }
    if (waited < 0 && errno != EINTR) break;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      timed_out = true;
      result = status;
      break;
    }
    if (pidfd >= 0) {
      pollfd exited{pidfd, POLLIN, 0};
      (void)::poll(&exited, 1, static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
    } else {
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(10)));
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  return result;
}

}  // namespace

int wait_process(pid_t pid, std::optional<std::chrono::milliseconds> deadline, bool& timed_out) {
  const auto status = reap(pid, deadline, timed_out);
  return status ? exit_status_of(*status) : -1;
}

CommandResult run_command(const std::vector<std::string>& argv, const CommandOptions& options) {
  CommandResult result;
  TempFile in, out, err;
  if (out.fd() < 0 || err.fd() < 0 || (options.stdin_data && in.fd() < 0) ||
      (options.stdin_data && !in.write_all(*options.stdin_data))) {
    result.err = "cannot create a temporary file (check TMPDIR and its free space)";
    return result;
  }
  SpawnOptions spawn;
  spawn.stdin_fd = options.stdin_data ? in.fd() : -1;
  spawn.stdout_fd = out.fd();
  spawn.stderr_fd = options.merge_output ? out.fd() : err.fd();
  spawn.environment = options.environment;
  const auto pid = spawn_process(argv, spawn);
  if (!pid) {
    result.err = pid.error().message;
    return result;
  }
  result.started = true;
  result.exit_status = wait_process(*pid, options.deadline, result.timed_out);
  result.out = out.read_all();
  result.err = err.read_all();
  return result;
}

std::filesystem::path temp_folder() {
  std::error_code ec;
  auto dir = std::filesystem::temp_directory_path(ec);
  return ec ? std::filesystem::path("/tmp") : dir;
}

int run_logged(const std::vector<std::string>& argv, const std::filesystem::path& log,
               std::chrono::milliseconds deadline) {
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  SpawnOptions options;
  options.stdout_fd = fd;          // -1 (cannot open): /dev/null
  options.close_other_fds = true;  // the postmaster outlives this child
  const auto pid = spawn_process(argv, options);
  if (fd >= 0) ::close(fd);
  if (!pid) return -1;
  bool timed_out = false;
  const int status = wait_process(*pid, deadline, timed_out);
  return timed_out ? -1 : status;
}

Expected<std::unique_ptr<ChildProcess>> ChildProcess::spawn(const std::vector<std::string>& argv,
                                                            const std::filesystem::path& log_file,
                                                            const Options& options) {
  const int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return system_error(errno, "cannot open " + log_file.string());
  SpawnOptions spawn;
  spawn.stdout_fd = log;
  spawn.die_with_parent = options.die_with_parent;
  spawn.own_process_group = options.own_process_group;
  spawn.exec_failure_is_error = false;
  const auto pid = spawn_process(argv, spawn);
  ::close(log);
  if (!pid) return pid.error();
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->pid_ = *pid;
  return child;
}

ChildProcess::~ChildProcess() { (void)terminate(std::chrono::seconds(5)); }

std::optional<int> ChildProcess::poll() {
  if (!wait_status_ && pid_ > 0) {
    int status = 0;
    pid_t waited = 0;
    while ((waited = ::waitpid(pid_, &status, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (waited == pid_) wait_status_ = status;
  }
  return wait_status_ ? std::optional<int>(exit_status_of(*wait_status_)) : std::nullopt;
}

ChildProcess::Stopped ChildProcess::terminate(std::chrono::milliseconds grace) {
  Stopped stopped;
  if (pid_ <= 0) return stopped;
  if (!poll()) {
    ::kill(pid_, SIGTERM);
    wait_status_ = reap(pid_, grace, stopped.killed);
  }
  stopped.exit_status = wait_status_ ? exit_status_of(*wait_status_) : -1;
  return stopped;
}

int ChildProcess::kill() {
  if (pid_ <= 0) return -1;
  if (!poll()) {
    ::kill(pid_, SIGKILL);
    bool timed_out = false;  // no deadline: never set
    wait_status_ = reap(pid_, std::nullopt, timed_out);
  }
  return wait_status_ ? exit_status_of(*wait_status_) : -1;
}

void kill_pid_file_process(const std::filesystem::path& pid_file,
                           std::chrono::milliseconds patience) {
  std::ifstream in(pid_file);
  pid_t pid = 0;
  if (!(in >> pid) || pid <= 0 || ::kill(pid, 0) != 0) return;
  ::kill(pid, SIGKILL);
  // Not our child (a daemon): its pidfd tells when it is gone.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd gone{pidfd, POLLIN, 0};
    (void)::poll(&gone, 1, static_cast<int>(patience.count()));
    ::close(pidfd);
    return;
  }
  const auto until = Clock::now() + patience;
  while (::kill(pid, 0) == 0 && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace weighlink::base
