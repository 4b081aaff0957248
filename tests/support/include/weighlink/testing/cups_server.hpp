#pragma once
// CupsServer: a throwaway cupsd for tests, on 127.0.0.1:PORT with its own configuration, spool
// and state under a temporary directory, and one queue whose jobs land as files: a raw queue
// with a tiny backend of ours ("pdffile:", the job's document copied to the file the device URI
// names). CUPS's own file: device writes nothing for a raw queue in CUPS 2.4. Needs root (cupsd
// drops to lp for the backend) and cupsd installed (scripts/deps.sh); available() says whether
// this machine can run it. Stopped and removed by the destructor.
// Threading: one thread.

#include <filesystem>
#include <memory>
#include <string>

#include "weighlink/testing/process.hpp"

namespace weighlink::testing {

class CupsServer {
 public:
  // Why it cannot run here; empty when it can.
  [[nodiscard]] static std::string unavailable();

  // Starts cupsd with queue `queue`; throws std::runtime_error when it does not answer.
  explicit CupsServer(const std::string& queue = "tickets");
  ~CupsServer();
  CupsServer(const CupsServer&) = delete;
  CupsServer& operator=(const CupsServer&) = delete;

  [[nodiscard]] std::string address() const { return address_; }  // "127.0.0.1:PORT"
  [[nodiscard]] const std::string& queue() const { return queue_; }
  // The file the queue's next job is written to (each job replaces it).
  [[nodiscard]] std::filesystem::path output() const { return dir_ / "out" / "job.out"; }
  [[nodiscard]] std::string log() const;  // cupsd's error_log

 private:
  TempDir dir_{"wl-cups"};
  std::string queue_;
  std::string address_;
  std::unique_ptr<Process> cupsd_;
};

}  // namespace weighlink::testing
