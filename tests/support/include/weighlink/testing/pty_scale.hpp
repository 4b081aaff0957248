#pragma once
// PtyScale: a pseudo-terminal that plays an indicator in tests. The code under test opens
// path() like a serial port; the test writes exactly the bytes it wants the "indicator" to send.
// The slave end stays open here, so the reader can close and reopen it freely. One thread.

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

namespace weighlink::testing {

class PtyScale {
 public:
  // With a `link` path, creates that symlink to the device (replacing a stale symlink).
  // Throws std::runtime_error when no pty can be made.
  explicit PtyScale(std::filesystem::path link = {});
  ~PtyScale();  // closes both ends, removes the link
  PtyScale(const PtyScale&) = delete;
  PtyScale& operator=(const PtyScale&) = delete;

  // What the code under test should open: the symlink if one was made, else /dev/pts/N.
  [[nodiscard]] std::string path() const;
  [[nodiscard]] const std::string& device() const { return device_; }

  // Writes exactly these bytes to the master; blocks until all are written. Throws
  // std::runtime_error after `timeout` (nobody reading and the kernel buffer full).
  void write(std::string_view bytes,
             std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

  // What the code under test wrote to the port (polled protocols), waiting up to `timeout` for
  // the first byte; empty on timeout.
  [[nodiscard]] std::string read(std::chrono::milliseconds timeout);

 private:
  int master_ = -1;
  int slave_ = -1;
  std::string device_;
  std::filesystem::path link_;
};

}  // namespace weighlink::testing
