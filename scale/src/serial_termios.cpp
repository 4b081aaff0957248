// termios adapter: serial devices that libserialport cannot open, chiefly pseudo-terminals (see
// serial.cpp for the choice). POSIX only.

#if !defined(_WIN32)

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "serial_adapters.hpp"

namespace weighlink::scale::detail {
namespace {

using boost::system::error_code;

error_code last_error() { return error_code(errno, boost::system::system_category()); }

std::optional<speed_t> to_speed(int baud) {
  switch (baud) {
    case 50:
      return B50;
    case 75:
      return B75;
    case 110:
      return B110;
    case 134:
      return B134;
    case 150:
      return B150;
    case 200:
      return B200;
    case 300:
      return B300;
    case 600:
      return B600;
    case 1200:
      return B1200;
    case 1800:
      return B1800;
    case 2400:
      return B2400;
    case 4800:
      return B4800;
    case 9600:
      return B9600;
    case 19200:
      return B19200;
    case 38400:
      return B38400;
    case 57600:
      return B57600;
    case 115200:
      return B115200;
    case 230400:
      return B230400;
#if defined(B460800)
    case 460800:
      return B460800;
    case 921600:
      return B921600;
#endif
    default:
      return std::nullopt;
  }
}

error_code configure(int fd, const SerialSettings& s) {
  termios tio{};
  if (::tcgetattr(fd, &tio) != 0) return last_error();
  ::cfmakeraw(&tio);  // no line discipline: CR stays CR, no echo, bytes as sent
  const auto speed = to_speed(s.baud);
  if (!speed) return make_error_code(boost::system::errc::invalid_argument);
  ::cfsetispeed(&tio, *speed);
  ::cfsetospeed(&tio, *speed);
  tio.c_cflag &= ~static_cast<tcflag_t>(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
#if defined(CMSPAR)
  tio.c_cflag &= ~static_cast<tcflag_t>(CMSPAR);
#endif
  switch (s.data_bits) {
    case 5:
      tio.c_cflag |= CS5;
      break;
    case 6:
      tio.c_cflag |= CS6;
      break;
    case 7:
      tio.c_cflag |= CS7;
      break;
    default:
      tio.c_cflag |= CS8;
      break;
  }
  switch (s.parity) {
    case Parity::none:
      break;
    case Parity::odd:
      tio.c_cflag |= PARENB | PARODD;
      break;
    case Parity::even:
      tio.c_cflag |= PARENB;
      break;
#if defined(CMSPAR)
    case Parity::mark:
      tio.c_cflag |= PARENB | PARODD | CMSPAR;
      break;
    case Parity::space:
      tio.c_cflag |= PARENB | CMSPAR;
      break;
#else
    case Parity::mark:
    case Parity::space:
      return make_error_code(boost::system::errc::not_supported);
#endif
  }
  if (s.stop_bits == 2) tio.c_cflag |= CSTOPB;
  tio.c_cflag |= CLOCAL | CREAD;
  tio.c_iflag &= ~static_cast<tcflag_t>(IXON | IXOFF | IXANY);
  if (s.flow == FlowControl::xonxoff) tio.c_iflag |= IXON | IXOFF;
  if (s.flow == FlowControl::rtscts) tio.c_cflag |= CRTSCTS;
  tio.c_cc[VMIN] = 0;
  tio.c_cc[VTIME] = 0;
  if (::tcsetattr(fd, TCSANOW, &tio) != 0) return last_error();
  return {};
}

class TermiosPort final : public ByteSource {
 public:
  TermiosPort(int fd, std::string device, const SerialSettings& settings)
      : fd_(fd), device_(std::move(device)), settings_(settings) {}
  ~TermiosPort() override { ::close(fd_); }
  TermiosPort(const TermiosPort&) = delete;
  TermiosPort& operator=(const TermiosPort&) = delete;

  boost::system::result<std::size_t> read(std::span<char> buffer,
                                          std::chrono::milliseconds timeout) override {
    pollfd p{fd_, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n < 0) return errno == EINTR ? 0 : boost::system::result<std::size_t>(last_error());
    if (n == 0) return std::size_t{0};
    const ssize_t got = ::read(fd_, buffer.data(), buffer.size());
    if (got > 0) return static_cast<std::size_t>(got);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return std::size_t{0};
    // got == 0 after POLLIN/POLLHUP, or EIO: the other end of the pty is gone (or the device
    // was unplugged). Report it so the reader reopens.
    if (got == 0) return make_error_code(boost::system::errc::io_error);
    return last_error();
  }

  boost::system::result<void> write(std::string_view bytes) override {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR) return last_error();
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return make_error_code(boost::system::errc::timed_out);
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) {
        return last_error();
      }
    }
    return {};
  }

  std::string describe() const override {
    return "serial " + device_ + " " + describe_settings(settings_) + " (termios)";
  }

  int native_handle() const override { return fd_; }

 private:
  int fd_;
  std::string device_;
  SerialSettings settings_;
};

}  // namespace

bool is_pseudo_terminal(const std::string& resolved_path) {
  if (resolved_path.rfind("/dev/pts/", 0) == 0) return true;
  struct stat st {};
  if (::stat(resolved_path.c_str(), &st) != 0 || !S_ISCHR(st.st_mode)) return false;
  const auto m = major(st.st_rdev);
  return m >= 136 && m <= 143;  // UNIX98 pty slaves (Documentation/admin-guide/devices.txt)
}

bool is_terminal(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  const bool tty = ::isatty(fd) == 1;
  ::close(fd);
  return tty;
}

boost::system::result<std::unique_ptr<ByteSource>> open_termios(const std::string& device,
                                                                const SerialSettings& settings) {
  // O_NOCTTY: a daemon must not acquire the port as its controlling terminal. O_NONBLOCK: reads
  // are driven by poll() with a timeout, so stop() is never stuck in read().
  const int fd = ::open(device.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return last_error();
  if (::isatty(fd) != 1) {
    ::close(fd);
    return make_error_code(boost::system::errc::inappropriate_io_control_operation);
  }
  if (const auto ec = configure(fd, settings)) {
    ::close(fd);
    return ec;
  }
  return std::unique_ptr<ByteSource>(std::make_unique<TermiosPort>(fd, device, settings));
}

}  // namespace weighlink::scale::detail

#endif  // !_WIN32
