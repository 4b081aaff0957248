#include "weighlink/testing/process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace weighlink::testing {
namespace {

std::vector<char*> c_argv(std::vector<std::string>& argv) {
  std::vector<char*> out;
  out.reserve(argv.size() + 1);
  for (auto& a : argv) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

// fork + exec with stdout to `out_fd`, stderr to `err_fd` (-1: `out_fd` too) and stdin from
// /dev/null or `in_fd`.
pid_t spawn(std::vector<std::string> argv, int out_fd, int in_fd, int err_fd = -1) {
  auto args = c_argv(argv);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Own process group, so a test can never signal the test runner by accident.
    ::setpgid(0, 0);
    if (in_fd < 0) in_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd < 0 ? out_fd : err_fd, 2);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  return pid;
}

}  // namespace

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TempDir::TempDir(const std::string& prefix) {
  std::string templ = "/tmp/" + prefix + ".XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  }
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

// WEIGHLINK_BIN_DIR in the environment points the tests at other binaries (a copy, a package).
std::string bin(const std::string& name) {
  const char* dir = std::getenv("WEIGHLINK_BIN_DIR");
  return std::string(dir && *dir ? dir : WEIGHLINK_BIN_DIR) + "/" + name;
}

Process::Process(std::vector<std::string> argv, std::filesystem::path log_file)
    : log_file_(std::move(log_file)) {
  const int fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error("open log " + log_file_.string() + ": " + std::strerror(errno));
  pid_ = spawn(std::move(argv), fd, -1);
  ::close(fd);
}

Process::~Process() {
  if (pid_ > 0 && !status_) kill();
}

std::optional<int> Process::poll() {
  if (status_) return status_;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) status_ = st;
  return status_;
}

std::map<std::string, std::string> Process::wait_ready(const std::filesystem::path& ready_file,
                                                       std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (poll()) {
      throw std::runtime_error("process exited before it was ready; its log:\n" + log());
    }
    std::error_code ec;
    if (std::filesystem::exists(ready_file, ec)) {
      boost::system::error_code jec;
      auto value = boost::json::parse(read_file(ready_file), jec);
      if (!jec && value.is_object()) {
        std::map<std::string, std::string> out;
        for (const auto& [k, v] : value.as_object()) {
          if (v.is_string()) out[std::string(k)] = std::string(v.as_string());
        }
        return out;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("process not ready within timeout; its log:\n" + log());
}

int Process::terminate(std::chrono::milliseconds grace) {
  if (poll()) return *status_;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (poll()) return *status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill();
  return *status_;
}

void Process::kill() {
  if (poll()) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  status_ = st;
}

std::string Process::log() const { return read_file(log_file_); }

namespace {

int temp_fd() {
  char templ[] = "/tmp/wl-run.XXXXXX";
  const int fd = ::mkstemp(templ);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ::unlink(templ);
  return fd;
}

// The whole of a temporary output file, which it closes.
std::string read_all(int fd) {
  std::string text;
  ::lseek(fd, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return text;
}

// Waits for the child to exit: on its exit event itself (a pidfd becomes readable), never by
// polling on a timer. Past the deadline the child is killed and reaped, and this throws.
int wait_exit(pid_t pid, std::chrono::steady_clock::time_point deadline, const std::string& name) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) throw std::runtime_error(std::string("pidfd_open: ") + std::strerror(errno));
  int st = 0;
  while (::waitpid(pid, &st, WNOHANG) != pid) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd exited{pidfd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&exited, 1, static_cast<int>(left.count())) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      ::close(pidfd);
      throw std::runtime_error("command timed out: " + name);
    }
  }
  ::close(pidfd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

}  // namespace

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::string& stdin_data) {
  const int out_fd = temp_fd();
  const int in_fd = temp_fd();
  if (!stdin_data.empty() && ::write(in_fd, stdin_data.data(), stdin_data.size()) !=
                                 static_cast<ssize_t>(stdin_data.size())) {
    throw std::runtime_error("cannot write stdin data");
  }
  ::lseek(in_fd, 0, SEEK_SET);
  const pid_t pid = spawn(argv, out_fd, in_fd);
  ::close(in_fd);
  RunResult result;
  try {
    result.exit_code = wait_exit(pid, std::chrono::steady_clock::now() + timeout, argv.front());
  } catch (...) {
    ::close(out_fd);
    throw;
  }
  result.output = read_all(out_fd);
  return result;
}

SplitRunResult run_split(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  const int out_fd = temp_fd();
  const int err_fd = temp_fd();
  const pid_t pid = spawn(argv, out_fd, -1, err_fd);
  SplitRunResult result;
  try {
    result.exit_code = wait_exit(pid, std::chrono::steady_clock::now() + timeout, argv.front());
  } catch (...) {
    ::close(out_fd);
    ::close(err_fd);
    throw;
  }
  result.out = read_all(out_fd);
  result.err = read_all(err_fd);
  return result;
}

std::pair<std::string, unsigned short> split_host_port(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("no port in " + address);
  std::string host = address.substr(0, colon);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return {host, static_cast<unsigned short>(std::stoi(address.substr(colon + 1)))};
}

std::string free_loopback_address() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  const int error = errno;
  ::close(fd);
  if (!bound) throw std::runtime_error(std::string("bind 127.0.0.1:0: ") + std::strerror(error));
  return "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
}

void write_secret_file(const std::filesystem::path& path, const std::string& text) {
  {
    std::ofstream out(path, std::ios::trunc | std::ios::binary);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path.string());
  }
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

std::string last_line(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::string last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

}  // namespace weighlink::testing
