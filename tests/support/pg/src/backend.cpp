#include "weighlink/testing/backend.hpp"

#include <stdexcept>

#include "weighlink/testing/pg_cluster.hpp"

namespace weighlink::testing {

void migrate(const std::string& dsn) {
  const auto r = run({bin("weighlink-backend"), "migrate", "--dsn", dsn});
  if (r.exit_code != 0) throw std::runtime_error("weighlink-backend migrate failed: " + r.output);
}

std::string add_station(const std::string& dsn, const std::string& id,
                        bool allow_unsigned_weighings) {
  std::vector<std::string> argv{
      bin("weighlink-backend"), "station", "add", "--dsn", dsn, "--id", id};
  if (allow_unsigned_weighings) argv.emplace_back("--allow-unsigned-weighings");
  const auto r = run(argv);
  if (r.exit_code != 0) throw std::runtime_error("station add " + id + " failed: " + r.output);
  return last_line(r.output);
}

std::filesystem::path backup_manifest(const std::string& dsn, const std::filesystem::path& dir) {
  const auto r = run({bin("weighlink-backend"), "backup", "--dsn", dsn, "--dir", dir.string()});
  if (r.exit_code != 0) throw std::runtime_error("weighlink-backend backup failed: " + r.output);
  return last_line(r.output);
}

std::filesystem::path backup(const std::string& dsn, const std::filesystem::path& dir) {
  return backup_manifest(dsn, dir).replace_extension().replace_extension(".dump");
}

BackendServer::BackendServer(std::string dsn, std::filesystem::path dir,
                             std::vector<std::string> args, std::string grpc_listen,
                             std::string name)
    : dsn_(std::move(dsn)),
      dir_(std::move(dir)),
      args_(std::move(args)),
      grpc_listen_(std::move(grpc_listen)),
      name_(std::move(name)) {
  start();
}

void BackendServer::start() {
  const auto ready_file = dir_ / (name_ + ".ready");
  std::filesystem::remove(ready_file);  // a killed server leaves its ready file behind
  std::vector<std::string> argv{bin("weighlink-backend"),
                                "serve",
                                "--dsn",
                                dsn_,
                                "--grpc-listen",
                                grpc_listen_,
                                "--http-listen",
                                "127.0.0.1:0",
                                "--ready-file",
                                ready_file.string()};
  argv.insert(argv.end(), args_.begin(), args_.end());
  process_.reset();  // a previous run, killed or stopped, is reaped first
  process_ = std::make_unique<Process>(argv, dir_ / (name_ + ".log"));
  const auto ready = process_->wait_ready(ready_file);
  grpc_ = ready.at("grpc");
  http_ = ready.at("http");
}

}  // namespace weighlink::testing
