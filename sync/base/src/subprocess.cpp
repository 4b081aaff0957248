#include "weighlink/base/subprocess.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <thread>

extern char** environ;

namespace weighlink::base {
namespace {

// An unlinked temporary file: a tool's stdin, stdout or stderr.
class TempFile {
 public:
  TempFile() {
    std::error_code ec;
    const auto dir = std::filesystem::temp_directory_path(ec);
    std::string templ =
        ((ec ? std::filesystem::path("/tmp") : dir) / "weighlink-run.XXXXXX").string();
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

int wait_for(pid_t pid, const std::optional<std::chrono::milliseconds>& deadline, bool& timed_out) {
  int status = 0;
  if (!deadline) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
  }
  // Polled: a tool's run time dwarfs the few milliseconds this adds.
  const auto until = std::chrono::steady_clock::now() + *deadline;
  auto pause = std::chrono::milliseconds(1);
  while (true) {
    const pid_t waited = ::waitpid(pid, &status, WNOHANG);
    if (waited == pid || (waited < 0 && errno != EINTR)) return status;
    if (std::chrono::steady_clock::now() >= until) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      timed_out = true;
      return status;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(25));
  }
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, const CommandOptions& options) {
  CommandResult result;
  if (argv.empty()) {
    result.err = "no command";
    return result;
  }
  TempFile in, out, err;
  if (out.fd() < 0 || err.fd() < 0 || (options.stdin_data && in.fd() < 0) ||
      (options.stdin_data && !in.write_all(*options.stdin_data))) {
    result.err = "cannot create a temporary file (check TMPDIR and its free space)";
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (options.stdin_data) {
    posix_spawn_file_actions_adddup2(&actions, in.fd(), 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out.fd(), 1);
  posix_spawn_file_actions_adddup2(&actions, err.fd(), 2);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The environment: ours, with options.environment's entries replacing those of the same name.
  std::vector<char*> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto name = entry.substr(0, entry.find('=') + 1);
    const bool replaced =
        std::any_of(options.environment.begin(), options.environment.end(),
                    [&](const std::string& mine) { return mine.starts_with(name); });
    if (!replaced) env.push_back(*e);
  }
  for (const auto& mine : options.environment) env.push_back(const_cast<char*>(mine.c_str()));
  env.push_back(nullptr);
  // The tool starts with no signal blocked, whatever this thread blocks (a signal-waiting
  // thread of ours blocks SIGINT and SIGTERM everywhere else).
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), env.data());
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    result.err = std::error_code(rc, std::generic_category()).message();
    return result;
  }
  result.started = true;
  const int status = wait_for(pid, options.deadline, result.timed_out);
  result.exit_status = exit_status_of(status);
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
               std::chrono::milliseconds deadline_after) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const std::string log_path = log.string();
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the daemon must hear pg_ctl's signals
    // The postmaster outlives this child: it must not inherit our sockets and files.
    ::close_range(3, ~0U, 0);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + deadline_after;
  while (true) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (done < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::unique_ptr<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv,
                                                  const std::filesystem::path& log_file,
                                                  std::string& error) {
  if (argv.empty()) {
    error = "no command";
    return nullptr;
  }
  const int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) {
    error = "cannot open " + log_file.string() + ": " + std::strerror(errno);
    return nullptr;
  }
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  // Signals stay blocked from fork until the child has put back the default handlers: one that
  // came in between would run the parent's handler in the child.
  sigset_t all;
  sigset_t before;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &before);
  // fork, not posix_spawn: the child asks for SIGTERM when its parent dies, before exec.
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int fork_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
    error = std::string("cannot fork: ") + std::strerror(fork_errno);
    ::close(log);
    return nullptr;
  }
  if (pid == 0) {
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int signal = 1; signal < NSIG; ++signal) ::sigaction(signal, &default_action, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(128 + SIGTERM);  // the parent died before prctl
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    ::execvp(args[0], args.data());
    // Only async-signal-safe calls between fork and _exit.
    constexpr std::string_view kCannot = "cannot execute ";
    (void)!::write(STDERR_FILENO, kCannot.data(), kCannot.size());
    (void)!::write(STDERR_FILENO, args[0], std::strlen(args[0]));
    (void)!::write(STDERR_FILENO, "\n", 1);
    ::_exit(127);
  }
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
  ::close(log);
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->pid_ = pid;
  return child;
}

ChildProcess::~ChildProcess() { (void)terminate(std::chrono::seconds(5)); }

std::optional<int> ChildProcess::poll() {
  if (status_ || pid_ <= 0) return status_;
  int status = 0;
  pid_t waited = 0;
  while ((waited = ::waitpid(pid_, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  if (waited == pid_) status_ = exit_status_of(status);
  return status_;
}

ChildProcess::Stopped ChildProcess::terminate(std::chrono::milliseconds grace) {
  Stopped stopped;
  if (pid_ <= 0) return stopped;
  if (!poll()) {
    ::kill(pid_, SIGTERM);
    const int status = wait_for(pid_, grace, stopped.killed);
    status_ = exit_status_of(status);
  }
  stopped.exit_status = *status_;
  return stopped;
}

}  // namespace weighlink::base
