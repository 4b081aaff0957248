// POSIX pseudo-terminal adapter for the simulator.

#include "weighlink/scale/pty.hpp"

#if !defined(_WIN32)

#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>
#include <utility>

namespace weighlink::scale {
namespace {

boost::system::error_code last_error() {
  return boost::system::error_code(errno, boost::system::system_category());
}

}  // namespace

boost::system::result<PseudoTerminal> PseudoTerminal::open() {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (master < 0) return last_error();
  char name[128];
  if (::grantpt(master) != 0 || ::unlockpt(master) != 0 ||
      ::ptsname_r(master, name, sizeof name) != 0) {
    const auto ec = last_error();
    ::close(master);
    return ec;
  }
  const int slave = ::open(name, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (slave < 0) {
    const auto ec = last_error();
    ::close(master);
    return ec;
  }
  termios tio{};
  if (::tcgetattr(slave, &tio) == 0) {
    ::cfmakeraw(&tio);
    ::tcsetattr(slave, TCSANOW, &tio);
  }
  return PseudoTerminal(master, slave, name);
}

PseudoTerminal::PseudoTerminal(int master, int slave, std::string device)
    : master_(master), slave_(slave), device_(std::move(device)) {}

PseudoTerminal::PseudoTerminal(PseudoTerminal&& other) noexcept
    : master_(std::exchange(other.master_, -1)),
      slave_(std::exchange(other.slave_, -1)),
      device_(std::move(other.device_)),
      link_(std::move(other.link_)) {
  other.link_.clear();
}

PseudoTerminal& PseudoTerminal::operator=(PseudoTerminal&& other) noexcept {
  if (this != &other) {
    close_all();
    master_ = std::exchange(other.master_, -1);
    slave_ = std::exchange(other.slave_, -1);
    device_ = std::move(other.device_);
    link_ = std::move(other.link_);
    other.link_.clear();
  }
  return *this;
}

PseudoTerminal::~PseudoTerminal() { close_all(); }

void PseudoTerminal::close_all() {
  if (!link_.empty()) {
    std::error_code ec;
    // Only remove the link if it is still ours (a second simulator may have replaced it).
    if (std::filesystem::is_symlink(link_, ec) &&
        std::filesystem::read_symlink(link_, ec) == device_) {
      std::filesystem::remove(link_, ec);
    }
    link_.clear();
  }
  if (slave_ >= 0) ::close(std::exchange(slave_, -1));
  if (master_ >= 0) ::close(std::exchange(master_, -1));
}

boost::system::result<void> PseudoTerminal::make_link(const std::filesystem::path& link) {
  std::error_code ec;
  const auto status = std::filesystem::symlink_status(link, ec);
  if (std::filesystem::exists(status) && !std::filesystem::is_symlink(status)) {
    return make_error_code(boost::system::errc::file_exists);
  }
  // Create beside it and rename over: a reader never sees the link missing or half made.
  auto temp = link;
  temp += ".tmp" + std::to_string(::getpid());
  std::filesystem::remove(temp, ec);
  std::filesystem::create_symlink(device_, temp, ec);
  if (ec) return boost::system::error_code(ec.value(), boost::system::system_category());
  std::filesystem::rename(temp, link, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    return boost::system::error_code(ec.value(), boost::system::system_category());
  }
  link_ = link;
  return {};
}

boost::system::result<std::size_t> PseudoTerminal::write_some(std::string_view bytes) {
  const ssize_t n = ::write(master_, bytes.data(), bytes.size());
  if (n >= 0) return static_cast<std::size_t>(n);
  if (errno == EAGAIN || errno == EINTR) return std::size_t{0};
  return last_error();
}

boost::system::result<std::size_t> PseudoTerminal::read_some(char* buffer, std::size_t size) {
  const ssize_t n = ::read(master_, buffer, size);
  if (n >= 0) return static_cast<std::size_t>(n);
  // EIO: no slave open right now (cannot happen while we hold one, but harmless).
  if (errno == EAGAIN || errno == EINTR || errno == EIO) return std::size_t{0};
  return last_error();
}

std::size_t PseudoTerminal::unread() const {
  int n = 0;
  if (::ioctl(slave_, FIONREAD, &n) != 0 || n < 0) return 0;
  return static_cast<std::size_t>(n);
}

void PseudoTerminal::discard_unread() { ::tcflush(slave_, TCIFLUSH); }

}  // namespace weighlink::scale

#endif  // !_WIN32
