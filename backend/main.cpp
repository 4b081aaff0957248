// weighlink-backend: flag parsing only; the commands live in weighlink::backend.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "weighlink/backend/commands.hpp"
#include "weighlink/backend/pg.hpp"

int main(int argc, char** argv) {
  using namespace weighlink::backend;
  // Logs go to stderr: stdout carries command output (the station token is its last line).
  spdlog::set_default_logger(spdlog::stderr_color_mt("weighlink-backend"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");

  CLI::App app{"weighlink-backend: sync backend (gRPC + PostgreSQL), migrations, station admin"};
  app.set_version_flag("--version", std::string("weighlink-backend ") + WEIGHLINK_VERSION);
  app.require_subcommand(1);

  std::string dsn;
  std::string station_id;
  ServeOptions serve;
  std::string log_level = "info";

  auto* migrate = app.add_subcommand("migrate", "apply pending schema migrations (idempotent)");
  migrate->add_option("--dsn", dsn, "libpq connection string (or $WEIGHLINK_DSN)")
      ->envname("WEIGHLINK_DSN")
      ->required();

  auto* station = app.add_subcommand("station", "manage stations");
  station->require_subcommand(1);
  auto* add = station->add_subcommand("add", "create a station; prints its token once, last");
  add->add_option("--dsn", dsn, "libpq connection string (or $WEIGHLINK_DSN)")
      ->envname("WEIGHLINK_DSN")
      ->required();
  add->add_option("--id", station_id, "station id (A-Z a-z 0-9 . _ -)")->required();
  auto* rotate = station->add_subcommand(
      "rotate-token", "give a station a new token (printed once, last); the old one stops working");
  rotate->add_option("--dsn", dsn, "libpq connection string (or $WEIGHLINK_DSN)")
      ->envname("WEIGHLINK_DSN")
      ->required();
  rotate->add_option("--id", station_id, "station id")->required();
  std::string key_file;  // station add --key-file, station set-key
  add->add_option("--key-file", key_file, "the agent's station key file: signatures are checked");
  auto* set_key = station->add_subcommand(
      "set-key", "register the agent's station key: every mutation's signature is checked");
  set_key->add_option("--dsn", dsn, "libpq connection string (or $WEIGHLINK_DSN)")
      ->envname("WEIGHLINK_DSN")
      ->required();
  set_key->add_option("--id", station_id, "station id")->required();
  set_key->add_option("--key-file", key_file, "the agent's station key file (64+ hex digits)")
      ->required();
  auto* disable = station->add_subcommand("disable", "refuse a station's token from now on");
  disable->add_option("--dsn", dsn, "libpq connection string (or $WEIGHLINK_DSN)")
      ->envname("WEIGHLINK_DSN")
      ->required();
  disable->add_option("--id", station_id, "station id")->required();

  std::string backup_dir;
  auto* backup = app.add_subcommand(
      "backup", "pg_dump -Fc into DIR with a manifest taken from the dump's own snapshot");
  backup->add_option("--dsn", dsn, "libpq connection string (or $WEIGHLINK_DSN)")
      ->envname("WEIGHLINK_DSN")
      ->required();
  backup->add_option("--dir", backup_dir, "where the dump and its manifest go")->required();

  RestoreOptions restore_options;
  auto* restore = app.add_subcommand(
      "restore",
      "restore a backup's dump (pre-data, data, post-data), migrate it, set a new generation");
  restore->add_option("--file", restore_options.file, "the dump (weighlink_*.dump)")->required();
  restore->add_option("--dsn", restore_options.dsn, "libpq connection string (or $WEIGHLINK_DSN)")
      ->envname("WEIGHLINK_DSN")
      ->required();
  restore->add_flag("--force", restore_options.force,
                    "empty a database that is not empty first (drops its schemas)");
  restore->add_option("--jobs", restore_options.jobs, "pg_restore jobs for data and post-data")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{64}));

  auto* serve_cmd = app.add_subcommand("serve", "serve gRPC sync and HTTP health endpoints");
  serve_cmd->add_option("--dsn", serve.dsn, "libpq connection string (or $WEIGHLINK_DSN)")
      ->envname("WEIGHLINK_DSN")
      ->required();
  serve_cmd->add_option("--grpc-listen", serve.grpc_listen, "gRPC HOST:PORT (port 0 = any)")
      ->capture_default_str();
  serve_cmd->add_option("--http-listen", serve.http_listen, "HTTP HOST:PORT (port 0 = any)")
      ->capture_default_str();
  serve_cmd->add_option("--ready-file", serve.ready_file,
                        "write {\"grpc\":...,\"http\":...} here once listening");
  serve_cmd->add_option("--workers", serve.workers, "database workers (one connection each)")
      ->capture_default_str();
  serve_cmd
      ->add_option("--max-queue", serve.max_queue,
                   "calls that may wait for a worker before RESOURCE_EXHAUSTED")
      ->capture_default_str();
  serve_cmd->add_option("--tls-cert", serve.tls_cert,
                        "PEM certificate chain: serve gRPC over TLS (with --tls-key)");
  serve_cmd->add_option("--tls-key", serve.tls_key, "PEM private key of --tls-cert");
  serve_cmd->add_option("--tls-client-ca", serve.tls_client_ca,
                        "PEM CA: require client certificates signed by it (mutual TLS)");
  serve_cmd
      ->add_option("--max-batch", serve.max_batch,
                   "mutations per Replay call; larger batches are refused before any work")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}));
  serve_cmd->add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  spdlog::set_level(spdlog::level::from_str(log_level));

  const std::string& any_dsn = *serve_cmd ? serve.dsn : *restore ? restore_options.dsn : dsn;
  if (auto problem = dsn_problem(any_dsn)) {
    std::cerr << "weighlink-backend: invalid --dsn: " << *problem
              << "; use a libpq connection string such as \"host=127.0.0.1 port=5432 "
                 "user=weighlink dbname=weighlink\" or a postgresql:// URI\n";
    return kExitUsage;
  }

  try {
    if (*migrate) return run_migrate(dsn);
    if (*backup) return run_backup(dsn, backup_dir);
    if (*restore) return run_restore(restore_options);
    if (*add) return run_station_add(dsn, station_id, key_file);
    if (*set_key) return run_station_set_key(dsn, station_id, key_file);
    if (*disable) return run_station_disable(dsn, station_id);
    if (*rotate) return run_station_rotate_token(dsn, station_id);
    if (*serve_cmd) return run_serve(serve);
  } catch (const std::exception& e) {
    std::cerr << "weighlink-backend: unexpected error: " << e.what() << "\n";
    return kExitFailure;
  }
  return kExitUsage;
}
