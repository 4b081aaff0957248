// ESC/POS links (printer_link.hpp): serial ports and TCP 9100 through the scale library's byte
// sources (the same serial and socket adapters the indicator uses), the USB printer class device
// (/dev/usb/lp0) as a plain file. Status is asked with DLE EOT 1, 2 and 4; each answer is one
// byte, awaited up to the configured timeout.
#include <chrono>
#include <cstdint>
#include <optional>

#include "devices/printer/printer_link.hpp"
#include "weighlink/base/host_port.hpp"
#include "weighlink/scale/source.hpp"

#ifndef _WIN32
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#endif

namespace weighlink::agent::printer {
namespace {

using Clock = std::chrono::steady_clock;

#ifndef _WIN32
// The USB printer class device: open, write, read (bidirectional printers answer DLE EOT on it).
class LpDevice final : public scale::ByteSource {
 public:
  explicit LpDevice(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~LpDevice() override { ::close(fd_); }
  LpDevice(const LpDevice&) = delete;
  LpDevice& operator=(const LpDevice&) = delete;

  boost::system::result<std::size_t> read(std::span<char> buffer,
                                          std::chrono::milliseconds timeout) override {
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (r < 0) return errno_code();
    if (r == 0) return std::size_t{0};
    const auto n = ::read(fd_, buffer.data(), buffer.size());
    if (n < 0) return errno_code();
    if (n == 0) return make_error_code(boost::system::errc::no_such_device);  // unplugged
    return static_cast<std::size_t>(n);
  }
  boost::system::result<void> write(std::string_view bytes) override {
    while (!bytes.empty()) {
      const auto n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_code();
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
  }
  std::string describe() const override { return "usb " + path_; }

 private:
  static boost::system::error_code errno_code() {
    return {errno, boost::system::system_category()};
  }
  int fd_;
  std::string path_;
};
#endif

class EscposLink final : public PrinterLink {
 public:
  explicit EscposLink(PrinterConfig config) : config_(std::move(config)) {}

  PrinterStatus probe() override {
    if (!channel_) {
      if (auto error = open()) return offline(*error);
    }
    // Whatever the printer sent unasked (an automatic status, a late answer) is not an answer.
    char scratch[64];
    for (int i = 0; i < 16; ++i) {
      auto n = channel_->read(scratch, std::chrono::milliseconds(0));
      if (!n) return drop(n.error().message());
      if (*n == 0) break;
    }
    std::uint8_t answers[3] = {};
    const std::string_view queries[3] = {kStatusPrinter, kStatusOffline, kStatusPaper};
    for (int i = 0; i < 3; ++i) {
      if (auto w = channel_->write(queries[i]); !w) return drop(w.error().message());
      auto b = answer();
      if (!b) return drop(last_error_);
      answers[i] = *b;
    }
    return decode_status(answers[0], answers[1], answers[2]);
  }

  SendResult send(const std::string& document, const std::string& /*title*/) override {
    if (!channel_) {
      if (auto error = open()) return {false, *error};
    }
    if (auto w = channel_->write(document); !w) {
      const auto message = w.error().message();
      channel_.reset();
      return {false, "writing the job failed: " + message};
    }
    return {true, {}};
  }

 private:
  PrinterStatus offline(const std::string& why) { return {PrinterState::offline, why, false}; }
  PrinterStatus drop(const std::string& why) {
    channel_.reset();  // reconnect at the next probe: a replugged printer comes back
    return offline(why);
  }

  // One status byte, skipping anything else the printer sends, within the timeout.
  std::optional<std::uint8_t> answer() {
    const auto deadline = Clock::now() + config_.status_timeout;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      char c = 0;
      auto n = channel_->read(std::span<char>(&c, 1), left);
      if (!n) {
        last_error_ = n.error().message();
        return std::nullopt;
      }
      if (*n == 1 && is_status_byte(static_cast<std::uint8_t>(c))) {
        return static_cast<std::uint8_t>(c);
      }
    }
    last_error_ = "no answer to the status query (DLE EOT) within " +
                  std::to_string(config_.status_timeout.count()) + " ms";
    return std::nullopt;
  }

  // nullopt when open; otherwise why not.
  std::optional<std::string> open() {
    std::string detail;
    if (config_.transport == "serial") {
      auto spec = scale::parse_source("serial:" + config_.port);
      if (!spec) return spec.error().message;
      auto s = scale::open_serial(std::get<scale::SerialSource>(*spec), &detail);
      if (!s) return config_.port + ": " + (detail.empty() ? s.error().message() : detail);
      channel_ = std::move(*s);
    } else if (config_.transport == "tcp") {
      auto hp = base::parse_host_port(config_.address);
      if (!hp) return hp.error().message;
      auto s = scale::open_tcp({hp->host, hp->port}, config_.status_timeout);
      if (!s) return config_.address + ": " + s.error().message();
      channel_ = std::move(*s);
    } else {
#ifndef _WIN32
      const int fd = ::open(config_.device.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (fd < 0) return config_.device + ": " + std::strerror(errno);
      channel_ = std::make_unique<LpDevice>(fd, config_.device);
#else
      return std::string("usb printer devices are not supported on Windows");
#endif
    }
    return std::nullopt;
  }

  PrinterConfig config_;
  std::unique_ptr<scale::ByteSource> channel_;
  std::string last_error_;
};

}  // namespace

std::unique_ptr<PrinterLink> make_escpos_link(const PrinterConfig& config) {
  return std::make_unique<EscposLink>(config);
}

}  // namespace weighlink::agent::printer
