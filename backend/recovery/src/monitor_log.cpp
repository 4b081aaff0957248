// weighlink-backend monitor: its JSON lines, the wait between checks and the stop signals
// (monitor_internal.hpp).
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ostream>

#include "monitor_internal.hpp"
#include "weighlink/base/timestamp.hpp"

namespace weighlink::recovery::monitor_detail {
namespace {

// SIGTERM and SIGINT end the loop between checks: the handler only writes to a pipe, which the
// sleep between checks polls. A check or a recovery in progress finishes first (their children
// get the signal from systemd's control group, or from the terminal's process group, themselves).
int g_signal_pipe[2] = {-1, -1};
volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int) {
  g_stop = 1;
  const char byte = 1;
  const int saved = errno;
  (void)!::write(g_signal_pipe[1], &byte, 1);
  errno = saved;
}

}  // namespace

std::int64_t ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

std::string now_text() { return base::format_utc_timestamp_ms(std::chrono::system_clock::now()); }

std::string tail(std::string_view text, std::size_t max) {
  if (text.size() > max) text = text.substr(text.size() - max);
  std::string out;
  for (const char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool install_signal_handlers() {
  if (::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  return ::sigaction(SIGTERM, &action, nullptr) == 0 && ::sigaction(SIGINT, &action, nullptr) == 0;
}

bool stop_requested() { return g_stop != 0; }

bool sleep_unless_stopped(double seconds) {
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(seconds));
  while (g_stop == 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return true;
    pollfd fd{g_signal_pipe[0], POLLIN, 0};
    (void)::poll(&fd, 1, static_cast<int>(std::min<long long>(left, 60'000)));
  }
  return false;
}

void DecisionLog::write(const json::object& fields) {
  json::object line{{"time", now_text()}, {"source", "monitor"}};
  for (const auto& field : fields) line[field.key()] = field.value();
  const std::string text = json::serialize(line) + "\n";
  console_.out << text << std::flush;
  if (ops_log_.empty()) return;
  const int fd = ::open(ops_log_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  const bool written =
      fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int error = errno;
  if (fd >= 0) ::close(fd);
  if (!written) {
    console_.err << "weighlink-backend: monitor: cannot append to --ops-log " << ops_log_ << " ("
                 << (error != 0 ? std::strerror(error) : "short write")
                 << "); the line is on stdout only\n";
  }
}

}  // namespace weighlink::recovery::monitor_detail
