#include "weighlink/testing/process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "weighlink/base/host_port.hpp"
#include "weighlink/base/subprocess.hpp"

namespace weighlink::testing {

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
  // Its own process group, so a test can never signal the test runner by accident; not tied to
  // the spawning thread's life (a test may start a process from a helper thread).
  auto spawned = base::ChildProcess::spawn(argv, log_file_, {false, true});
  if (!spawned)
    throw std::runtime_error("cannot start " + argv.front() + ": " + spawned.error().message);
  child_ = std::move(*spawned);
}

Process::~Process() {
  if (child_) (void)child_->kill();
}

std::optional<int> Process::poll() {
  (void)child_->poll();
  return child_->wait_status();
}

pid_t Process::pid() const { return child_->pid(); }

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
  (void)child_->terminate(grace);
  return child_->wait_status().value_or(-1);
}

void Process::kill() { (void)child_->kill(); }

namespace {

// Every thread of `pid` is in the stopped state (a task that exits meanwhile is gone, not
// running).
bool all_threads_stopped(pid_t pid) {
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto name_end = stat.rfind(')');  // "PID (name) STATE ...": the name may hold ')'
    if (name_end == std::string::npos || name_end + 2 >= stat.size()) continue;
    const char state = stat[name_end + 2];
    if (state != 'T' && state != 't') return false;
  }
  return !ec;
}

}  // namespace

void Process::freeze(std::chrono::milliseconds timeout) {
  if (::kill(pid(), SIGSTOP) != 0) {
    throw std::runtime_error(std::string("SIGSTOP: ") + std::strerror(errno));
  }
  if (!eventually([&] { return all_threads_stopped(pid()); }, timeout,
                  std::chrono::milliseconds(1))) {
    throw std::runtime_error("the process did not stop after SIGSTOP; its log:\n" + log());
  }
}

void Process::thaw() {
  if (::kill(pid(), SIGCONT) != 0) {
    throw std::runtime_error(std::string("SIGCONT: ") + std::strerror(errno));
  }
}

std::string Process::log() const { return read_file(log_file_); }

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::string& stdin_data) {
  base::CommandOptions options;
  options.deadline = timeout;
  options.stdin_data = stdin_data;
  options.merge_output = true;
  auto ran = base::run_command(argv, options);
  if (ran.timed_out) throw std::runtime_error("command timed out: " + argv.front());
  if (!ran.started) return {127, ran.err + "\n"};
  return {ran.exit_status, std::move(ran.out)};
}

SplitRunResult run_split(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  base::CommandOptions options;
  options.deadline = timeout;
  auto ran = base::run_command(argv, options);
  if (ran.timed_out) throw std::runtime_error("command timed out: " + argv.front());
  if (!ran.started) return {127, {}, ran.err + "\n"};
  return {ran.exit_status, std::move(ran.out), std::move(ran.err)};
}

std::pair<std::string, unsigned short> split_host_port(const std::string& address) {
  auto parsed = weighlink::base::parse_host_port(address).value();  // throws what was wrong
  return {std::move(parsed.host), parsed.port};
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

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

void write_secret_file(const std::filesystem::path& path, const std::string& text) {
  write_text(path, text);
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
