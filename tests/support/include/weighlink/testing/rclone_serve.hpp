#pragma once
// `rclone serve webdav` (read-write) or `rclone serve http` (read-only) over a folder, on a free
// loopback port, as a child process: an offsite endpoint for integration tests. The constructor
// returns once the port answers (bounded wait); the destructor kills and reaps the server.

#include <filesystem>
#include <memory>
#include <string>

#include "weighlink/testing/process.hpp"

namespace weighlink::testing {

// Debian's rclone (package rclone), which scripts/deps.sh installs.
inline constexpr const char* kRclone = "/usr/bin/rclone";

class RcloneServe {
 public:
  enum class Kind { webdav, http };
  // Serves `root`; rclone's output goes to `log_file`. Throws when it does not answer in time.
  RcloneServe(Kind kind, const std::filesystem::path& root, const std::filesystem::path& log_file);

  [[nodiscard]] const std::string& address() const { return address_; }  // "127.0.0.1:PORT"
  // The on-the-fly rclone remote of the served root, e.g. ":webdav,url='http://127.0.0.1:PORT':";
  // a path may follow.
  [[nodiscard]] std::string remote() const;
  // SIGKILL and reap: the endpoint goes away mid-life, its port refusing connections.
  void kill() { process_->kill(); }
  [[nodiscard]] std::string log() const { return process_->log(); }

 private:
  Kind kind_;
  std::string address_;
  std::unique_ptr<Process> process_;
};

}  // namespace weighlink::testing
