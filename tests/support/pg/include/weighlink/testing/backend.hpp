#pragma once
// weighlink-backend for tests and benchmarks: its database commands and `serve` on loopback.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "weighlink/testing/process.hpp"

namespace weighlink::testing {

class PgCluster;

// `weighlink-backend migrate --dsn DSN`; throws std::runtime_error with its output when it fails.
void migrate(const std::string& dsn);

// `weighlink-backend station add --dsn DSN --id ID`; returns the station's token (the last line
// it prints). Throws std::runtime_error with its output when it fails. Tests' stations accept
// unsigned weighings (--allow-unsigned-weighings) unless told otherwise: their agents' keys are
// not registered, and a new station refuses unsigned weighings by default.
[[nodiscard]] std::string add_station(const std::string& dsn, const std::string& id,
                                      bool allow_unsigned_weighings = true);

// `weighlink-backend backup --dsn DSN --dir DIR`; returns the dump's path (its manifest, printed
// last, sits beside it). Throws std::runtime_error with its output when it fails.
[[nodiscard]] std::filesystem::path backup(const std::string& dsn,
                                           const std::filesystem::path& dir);
// The same backup; returns the manifest's path (DIR/weighlink_*.manifest.json).
[[nodiscard]] std::filesystem::path backup_manifest(const std::string& dsn,
                                                    const std::filesystem::path& dir);

// `weighlink-backend serve --dsn DSN` with gRPC on `grpc_listen` (a fixed address lets a server
// that is killed and started again be found at the same place) and HTTP on 127.0.0.1:0, then
// `args`. Its ready file and log are DIR/NAME.ready and DIR/NAME.log. The destructor kills it.
class BackendServer {
 public:
  BackendServer(std::string dsn, std::filesystem::path dir, std::vector<std::string> args = {},
                std::string grpc_listen = "127.0.0.1:0", std::string name = "backend");

  // Starts it (again, after kill() or terminate()) and waits for its ready file.
  void start();
  void kill() { process_->kill(); }
  int terminate() { return process_->terminate(); }

  [[nodiscard]] Process& process() { return *process_; }
  [[nodiscard]] const std::string& grpc() const { return grpc_; }
  [[nodiscard]] const std::string& http() const { return http_; }

 private:
  std::string dsn_;
  std::filesystem::path dir_;
  std::vector<std::string> args_;
  std::string grpc_listen_;
  std::string name_;
  std::unique_ptr<Process> process_;
  std::string grpc_;
  std::string http_;
};

}  // namespace weighlink::testing
