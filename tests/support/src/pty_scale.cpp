#include "weighlink/testing/pty_scale.hpp"

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace weighlink::testing {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("PtyScale: " + what + ": " + std::strerror(errno));
}

}  // namespace

PtyScale::PtyScale(std::filesystem::path link) {
  master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (master_ < 0) fail("posix_openpt");
  char name[128];
  if (::grantpt(master_) != 0 || ::unlockpt(master_) != 0 ||
      ::ptsname_r(master_, name, sizeof name) != 0) {
    const int saved = errno;
    ::close(master_);
    errno = saved;
    fail("grantpt/unlockpt/ptsname");
  }
  device_ = name;
  slave_ = ::open(name, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (slave_ < 0) {
    const int saved = errno;
    ::close(master_);
    errno = saved;
    fail("open " + device_);
  }
  // Raw from the start: bytes written before the reader configures the port must not be cooked
  // (CR to NL) or echoed back.
  termios tio{};
  if (::tcgetattr(slave_, &tio) == 0) {
    ::cfmakeraw(&tio);
    ::tcsetattr(slave_, TCSANOW, &tio);
  }
  if (!link.empty()) {
    std::error_code ec;
    if (std::filesystem::is_symlink(std::filesystem::symlink_status(link, ec))) {
      std::filesystem::remove(link, ec);
    }
    std::filesystem::create_symlink(device_, link, ec);
    if (ec) {
      ::close(slave_);
      ::close(master_);
      throw std::runtime_error("PtyScale: cannot create symlink " + link.string() + ": " +
                               ec.message());
    }
    link_ = std::move(link);
  }
}

PtyScale::~PtyScale() {
  if (!link_.empty()) {
    std::error_code ec;
    std::filesystem::remove(link_, ec);
  }
  ::close(slave_);
  ::close(master_);
}

std::string PtyScale::path() const { return link_.empty() ? device_ : link_.string(); }

void PtyScale::write(std::string_view bytes, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!bytes.empty()) {
    const ssize_t n = ::write(master_, bytes.data(), bytes.size());
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) fail("write to " + device_);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      errno = ETIMEDOUT;
      fail("write to " + device_ + " (nobody reading?)");
    }
    pollfd p{master_, POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 50)));
  }
}

std::string PtyScale::read(std::chrono::milliseconds timeout) {
  pollfd p{master_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
  std::string out;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(master_, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

}  // namespace weighlink::testing
