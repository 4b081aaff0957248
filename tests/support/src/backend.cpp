#include "weighlink/testing/backend.hpp"

#include <stdexcept>

#include "weighlink/testing/pg_cluster.hpp"

namespace weighlink::testing {

void migrate(const std::string& dsn) {
  const auto r = run({bin("weighlink-backend"), "migrate", "--dsn", dsn});
  if (r.exit_code != 0) throw std::runtime_error("weighlink-backend migrate failed: " + r.output);
}

std::string add_station(const std::string& dsn, const std::string& id) {
  const auto r = run({bin("weighlink-backend"), "station", "add", "--dsn", dsn, "--id", id});
  if (r.exit_code != 0) throw std::runtime_error("station add " + id + " failed: " + r.output);
  return last_line(r.output);
}

std::filesystem::path backup(const std::string& dsn, const std::filesystem::path& dir) {
  const auto r = run({bin("weighlink-backend"), "backup", "--dsn", dsn, "--dir", dir.string()});
  if (r.exit_code != 0) throw std::runtime_error("weighlink-backend backup failed: " + r.output);
  std::filesystem::path dump = last_line(r.output);  // DIR/weighlink_*.manifest.json
  return dump.replace_extension().replace_extension(".dump");
}

void seed_weighings(const PgCluster& pg, int per_station) {
  migrate(pg.dsn());
  for (int i = 0; i < 3; ++i) (void)add_station(pg.dsn(), "st" + std::to_string(i));
  const auto n = std::to_string(per_station);
  (void)pg.query_scalar(
      "INSERT INTO mutation_log (station_id, idempotency_key, seq, kind, payload, payload_sha256, "
      "outcome, created_at) SELECT 'st' || s, 'key-' || g, g, 'weighing.captured', "
      "jsonb_build_object('weight', (g * 20)::text), md5(g::text), 'applied', now() "
      "FROM generate_series(0, 2) s, generate_series(1, " +
      n + ") g");
  (void)pg.query_scalar(
      "INSERT INTO weighings (station_id, idempotency_key, scale, weight, unit, mode, captured_at) "
      "SELECT station_id, idempotency_key, 'main', (seq * 20)::numeric, 'kg', 'gross', now() "
      "FROM mutation_log");
  (void)pg.query_scalar("UPDATE stations SET high_water_seq = " + n);
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
