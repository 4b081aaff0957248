// weighlink-backend: parses the command line, runs one command of weighlink::service or
// weighlink::recovery, and gives it the process's stdout and stderr to write to.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <exception>
#include <iostream>
#include <limits>
#include <tuple>

#include "weighlink/base/guarded_main.hpp"
#include "weighlink/pg/pg.hpp"
#include "weighlink/recovery/commands.hpp"
#include "weighlink/recovery/drill.hpp"
#include "weighlink/recovery/dump_pattern.hpp"
#include "weighlink/recovery/monitor.hpp"
#include "weighlink/recovery/verify_backup.hpp"
#include "weighlink/service/commands.hpp"

namespace {

// --dir DIR (first) and --fallback DIR2 (each, in order: where to read when DIR is unreachable)
// of a command that reads a backup folder, into `locations`; `more_flag` names the second kind
// (prune's --mirror: apply the same rules there too).
void add_folder_flags(CLI::App* command, std::vector<std::string>& locations, bool required = true,
                      const std::string& more_flag = "--fallback",
                      const std::string& more_help =
                          "where to read when --dir is unreachable, in order (repeatable)") {
  auto* dir = command->add_option_function<std::string>(
      "--dir", [&locations](const std::string& d) { locations.insert(locations.begin(), d); },
      "backup folder or rclone remote (remote:path)");
  if (required) dir->required();
  command
      ->add_option_function<std::vector<std::string>>(
          more_flag,
          [&locations](const std::vector<std::string>& more) {
            locations.insert(locations.end(), more.begin(), more.end());
          },
          more_help)
      ->needs(dir);
}

// The retention rules of backup and prune (weighlink/recovery/retention.hpp).
void add_retention_flags(CLI::App* command, weighlink::recovery::RetentionPolicy& policy,
                         const std::string& when) {
  command
      ->add_option("--retention-days", policy.within_days,
                   when + "keep every dump younger than this (never the newest two verified go)")
      ->check(CLI::Range(1, 36500));
  const std::tuple<const char*, int*, const char*> tiers[] = {
      {"--keep-daily", &policy.daily, "days"},
      {"--keep-weekly", &policy.weekly, "ISO weeks"},
      {"--keep-monthly", &policy.monthly, "months"},
      {"--keep-yearly", &policy.yearly, "years"}};
  for (const auto& [flag, count, periods] : tiers) {
    command
        ->add_option(flag, *count,
                     when + "keep the newest dump of each of the N latest " + periods +
                         " (UTC) that have one")
        ->check(CLI::Range(1, 100000));
  }
}

// --pattern and --newest-by of the commands that read pg_dump files without a manifest
// (verify-backup, prune; weighlink/recovery/dump_pattern.hpp).
void add_pattern_flags(CLI::App* command, std::vector<std::string>& patterns,
                       bool& newest_by_mtime) {
  std::string defaults;
  for (const auto p : weighlink::recovery::kDefaultDumpPatterns) {
    defaults += (defaults.empty() ? "" : " and ") + std::string(p);
  }
  command->add_option("--pattern", patterns,
                      "file names of dumps without a manifest, with their time (%Y %m %d %H %M "
                      "%S; repeatable; default " +
                          defaults + ")");
  command
      ->add_option_function<std::string>(
          "--newest-by",
          [&newest_by_mtime](const std::string& by) { newest_by_mtime = by == "mtime"; },
          "name (the time in the file name, default) or mtime (modification time)")
      ->check(CLI::IsMember({"name", "mtime"}));
}

}  // namespace

static int run(int argc, char** argv) {
  using namespace weighlink::pg;
  using namespace weighlink::service;
  using namespace weighlink::recovery;
  using weighlink::base::Console;
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
  bool allow_unsigned = false;
  add->add_flag("--allow-unsigned-weighings", allow_unsigned,
                "without a key, record its weighings anyway (default: REJECTED "
                "unsigned_weighing until the key is registered)");
  auto* set_unsigned = station->add_subcommand(
      "set-unsigned-weighings", "allow or refuse the weighings of a station without a signing key");
  set_unsigned->add_option("--dsn", dsn, "libpq connection string (or $WEIGHLINK_DSN)")
      ->envname("WEIGHLINK_DSN")
      ->required();
  set_unsigned->add_option("--id", station_id, "station id")->required();
  std::string unsigned_choice;
  set_unsigned
      ->add_option("choice", unsigned_choice,
                   "allow: record them; refuse: REJECTED unsigned_weighing")
      ->required()
      ->check(CLI::IsMember({"allow", "refuse"}));
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

  // One stored record of any station, checked with its registered key.
  auto* records = app.add_subcommand("records", "the records the backend holds");
  records->require_subcommand(1);
  std::uint64_t record_seq = 0;
  auto* records_verify = records->add_subcommand(
      "verify",
      "check one stored record's signature, chain link and recomputed hash (exit 0 intact, 3 not)");
  records_verify->add_option("--dsn", dsn, "libpq connection string (or $WEIGHLINK_DSN)")
      ->envname("WEIGHLINK_DSN")
      ->required();
  records_verify->add_option("--station", station_id, "station id")->required();
  records_verify->add_option("--seq", record_seq, "the record's seq")->required();

  BackupOptions backup_options;
  std::string backup_dir;
  std::vector<std::string> backup_mirrors;
  auto* backup = app.add_subcommand(
      "backup", "pg_dump -Fc into DIR with a manifest taken from the dump's own snapshot");
  backup->add_option("--dsn", backup_options.dsn, "libpq connection string (or $WEIGHLINK_DSN)")
      ->envname("WEIGHLINK_DSN")
      ->required();
  backup->add_option("--dir", backup_dir, "where the dump and its manifest go (or remote:path)")
      ->required();
  backup->add_option("--mirror", backup_mirrors,
                     "also copy it here (folder or rclone remote; repeatable)");
  add_retention_flags(backup, backup_options.retention, "then retention on every destination: ");
  backup->add_option("--staging-dir", backup_options.staging_dir,
                     "where the dump is written before its upload to a remote --dir");

  PruneOptions prune_options;
  auto* prune = app.add_subcommand(
      "prune",
      "retention without a backup: keep what the rules keep (and the newest two verified dumps), "
      "remove the rest; weighlink's backups by manifest time, other pg_dump files by --pattern; "
      "--dry-run lists each decision and removes nothing");
  add_folder_flags(prune, prune_options.locations, true, "--mirror",
                   "apply the same rules here too (repeatable)");
  add_retention_flags(prune, prune_options.retention, "");
  add_pattern_flags(prune, prune_options.patterns, prune_options.newest_by_mtime);
  prune->add_flag("--dry-run", prune_options.dry_run,
                  "print what would be removed and why each dump is kept; remove nothing");

  VerifyOptions verify;
  auto* verify_cmd = app.add_subcommand(
      "verify-backup",
      "check the newest dump: size, format, checksum, a restore into a disposable cluster, row "
      "counts, orphans; promote it to verified-latest (exit 0 pass, 3 failed, 1 could not run)");
  add_folder_flags(verify_cmd, verify.locations);
  verify_cmd->add_option("--file", verify.file, "verify this dump of DIR instead of the newest");
  verify_cmd->add_option("--min-bytes", verify.min_bytes, "size floor (SIZE_SHRUNK below)")
      ->capture_default_str();
  verify_cmd
      ->add_option("--median-factor", verify.median_factor,
                   "SIZE_EXCEEDED above (SIZE_SHRUNK below 1/) this x the trailing 7-day median")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1000.0));
  verify_cmd
      ->add_option("--row-tolerance", verify.row_tolerance,
                   "how much a table may shrink since the last verified dump (0.1 = 10 %)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  verify_cmd
      ->add_option("--soft-fk-allowlist", verify.soft_fk_allowlist,
                   "YAML: max_orphans per soft foreign key")
      ->check(CLI::ExistingFile);
  verify_cmd->add_option("--notify-url", verify.notify_url,
                         "POST the JSON report here (retried on 5xx, not on 4xx)");
  verify_cmd->add_option("--notify-attempts", verify.notify_attempts, "tries of the POST")
      ->capture_default_str()
      ->check(CLI::Range(1, 20));
  verify_cmd
      ->add_option("--notify-backoff-ms", verify.notify_backoff_ms,
                   "first retry delay, doubled each time")
      ->capture_default_str()
      ->check(CLI::Range(0, 600000));
  verify_cmd->add_option("--report", verify.report, "write the JSON report here");
  verify_cmd->add_option("--textfile", verify.textfile,
                         "write Prometheus metrics here (node_exporter textfile collector)");
  verify_cmd->add_option("--scratch-dsn", verify.scratch_dsn,
                         "restore into a new database on this server instead of a cluster of "
                         "its own (the role needs CREATEDB)");
  verify_cmd->add_option("--scratch-dir", verify.scratch_dir,
                         "where the disposable cluster and downloads go (default $TMPDIR)");
  verify_cmd
      ->add_option("--dsn", verify.dsn,
                   "the production database (or $WEIGHLINK_DSN): after a pass, move the "
                   "stations' durable_seq up")
      ->envname("WEIGHLINK_DSN");
  verify_cmd->add_option("--jobs", verify.jobs, "pg_restore --jobs for data and post-data")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  add_pattern_flags(verify_cmd, verify.patterns, verify.newest_by_mtime);
  verify_cmd
      ->add_option("--checks", verify.checks,
                   "YAML: the checks of a database that is not weighlink's (min_bytes, "
                   "row_counts, extensions, soft_foreign_keys)")
      ->check(CLI::ExistingFile);
  verify_cmd
      ->add_option("--pg-bindir", verify.pg_bindir,
                   "PostgreSQL programs of the disposable cluster (e.g. "
                   "/usr/lib/postgresql/16/bin; default: the newest installed)")
      ->check(CLI::ExistingDirectory);
  RestoreOptions restore_options;
  FetchSource restore_source;
  auto* restore = app.add_subcommand(
      "restore",
      "restore a backup's dump (pre-data, data, post-data), migrate it, set a new generation");
  restore->add_option("--file", restore_options.file,
                      "the dump (weighlink_*.dump); with --dir its name there (default: the one "
                      "verified-latest names)");
  // --dir: fetch the dump from a backup folder or rclone remote (a crypt remote decrypts).
  add_folder_flags(restore, restore_source.locations, false);
  restore->add_option("--staging-dir", restore_source.staging_dir,
                      "where a dump from a remote --dir is downloaded (default $TMPDIR)");
  restore->add_option("--dsn", restore_options.dsn, "libpq connection string (or $WEIGHLINK_DSN)")
      ->envname("WEIGHLINK_DSN")
      ->required();
  restore->add_flag("--force", restore_options.force,
                    "empty a database that is not empty first (drops its schemas)");
  restore->add_option("--jobs", restore_options.jobs, "pg_restore jobs for data and post-data")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{64}));

  std::string restored_from;
  auto* mark_restored = app.add_subcommand(
      "mark-restored",
      "after a restore weighlink did not run (pgBackRest PITR...): migrate, set a new generation");
  mark_restored->add_option("--dsn", dsn, "libpq connection string (or $WEIGHLINK_DSN)")
      ->envname("WEIGHLINK_DSN")
      ->required();
  mark_restored
      ->add_option(
          "--from", restored_from,
          "where the database came from, e.g. \"pgbackrest PITR to 2026-11-21 03:00:00+00\"")
      ->required();

  MonitorOptions monitor_options;
  auto* monitor = app.add_subcommand(
      "monitor",
      "check the database every interval; after --threshold failed checks alert, or with "
      "--recover restore verified-latest into a fresh database and repoint the backend");
  monitor->add_option("--dsn", monitor_options.dsn, "the backend's database (or $WEIGHLINK_DSN)")
      ->envname("WEIGHLINK_DSN")
      ->required();
  monitor->add_option("--interval", monitor_options.interval_s, "seconds between checks")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 86400.0));
  monitor
      ->add_option("--threshold", monitor_options.threshold,
                   "consecutive failed checks before an alert or a recovery")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  monitor
      ->add_option("--cooldown", monitor_options.cooldown_s,
                   "seconds after a recovery during which there is no other (hold)")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{10} * 365 * 86400));
  monitor
      ->add_option("--check-timeout", monitor_options.check_timeout_s,
                   "seconds a check may take to connect, and its query to run")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  monitor->add_flag("--recover", monitor_options.recover,
                    "restore verified-latest and repoint the backend at the threshold (opt-in)");
  monitor->add_option("--dir", monitor_options.dir,
                      "backup folder or rclone remote with verified-latest");
  monitor->add_option("--fallback", monitor_options.fallbacks,
                      "where to read when --dir is unreachable, in order (repeatable)");
  monitor->add_option("--recover-dsn", monitor_options.recover_dsn,
                      "a role with CREATEDB on the server the recovered database goes to");
  monitor->add_option("--dsn-file", monitor_options.dsn_file,
                      "the backend's EnvironmentFile: its WEIGHLINK_DSN line is rewritten");
  monitor->add_option("--restart-command", monitor_options.restart_command,
                      "run with /bin/sh -c after the rewrite, e.g. systemctl restart "
                      "weighlink-backend");
  monitor
      ->add_option("--restart-timeout", monitor_options.restart_timeout_s,
                   "seconds before the restart command is killed")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  monitor->add_option("--staging-dir", monitor_options.staging_dir,
                      "where a dump from a remote --dir is downloaded (default $TMPDIR)");
  monitor->add_option("--jobs", monitor_options.jobs, "pg_restore --jobs for data and post-data")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  monitor->add_flag("--fresh-reset", monitor_options.fresh_reset,
                    "with --recover: when no verified dump exists, a new empty database the "
                    "stations refill (opt-in)");
  monitor->add_option("--pg-log", monitor_options.pg_log,
                      "the PostgreSQL server log, read each check for corruption indicators");
  monitor->add_option("--ops-log", monitor_options.ops_log, "append every JSON line here too");
  monitor
      ->add_option("--max-checks", monitor_options.max_checks,
                   "stop after this many checks (default: run until SIGTERM or SIGINT)")
      ->check(CLI::Range(std::int64_t{1}, std::numeric_limits<std::int64_t>::max()));

  DrillOptions drill_options;
  auto* drill = app.add_subcommand(
      "drill",
      "restore drill: verified-latest into a disposable cluster, a backend on it, /readyz, a sync "
      "smoke; one JSON line to the ops log (exit 0 pass, 3 failed, 1 could not run)");
  add_folder_flags(drill, drill_options.locations);
  drill->add_option("--ops-log", drill_options.ops_log,
                    "append the drill's JSON line here (default DIR/drills.jsonl; required when "
                    "DIR is a remote)");
  drill->add_option("--scratch-dir", drill_options.scratch_dir,
                    "where the disposable cluster and the download go (default $TMPDIR)");
  drill->add_option("--jobs", drill_options.jobs, "pg_restore --jobs for data and post-data")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  drill
      ->add_option("--ready-timeout", drill_options.ready_timeout_s,
                   "seconds the restored backend may take to answer /readyz 200")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));

  DrStatusOptions dr_options;
  double max_backup_age_hours = 26;
  double max_verified_age_hours = 26;
  double max_drill_age_days = 31;
  auto* dr_status = app.add_subcommand(
      "dr-status",
      "readiness gate: latest backup, latest verified dump (the RPO), latest drill and its RTO, "
      "each against policy; summary, then JSON last (exit 0 met, 3 not met, 1 cannot read DIR)");
  add_folder_flags(dr_status, dr_options.locations);
  dr_status->add_option(
      "--ops-log", dr_options.ops_log,
      "the drills' log (default DIR/drills.jsonl; required when DIR is a remote)");
  dr_status->add_option("--max-backup-age-hours", max_backup_age_hours, "newest backup at most")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  dr_status
      ->add_option("--max-verified-age-hours", max_verified_age_hours,
                   "newest verified dump at most (the RPO)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  dr_status->add_option("--max-drill-age-days", max_drill_age_days, "latest drill at most")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  dr_status
      ->add_option("--max-rto-seconds", dr_options.policy.max_rto_s,
                   "the latest drill's measured RTO at most")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

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
  serve_cmd
      ->add_option("--max-blob-bytes", serve.max_blob_bytes,
                   "the largest evidence file (camera image) taken; stations report larger ones "
                   "lost")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 30));
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

  const std::string& any_dsn = *serve_cmd    ? serve.dsn
                               : *verify_cmd ? verify.dsn
                               : *restore    ? restore_options.dsn
                               : *backup     ? backup_options.dsn
                               : *monitor    ? monitor_options.dsn
                                             : dsn;
  if (auto problem = dsn_problem(any_dsn)) {
    std::cerr << "weighlink-backend: invalid --dsn: " << *problem
              << "; use a libpq connection string such as \"host=127.0.0.1 port=5432 "
                 "user=weighlink dbname=weighlink\" or a postgresql:// URI\n";
    return kExitUsage;
  }

  // The commands write only to the console they are given; this is where it becomes the
  // process's stdout and stderr.
  const Console console{std::cout, std::cerr, ::isatty(STDERR_FILENO) != 0};
  try {
    if (*migrate) return run_migrate(dsn, console);
    if (*backup) {
      backup_options.destinations = {backup_dir};
      backup_options.destinations.insert(backup_options.destinations.end(), backup_mirrors.begin(),
                                         backup_mirrors.end());
      return run_backup(backup_options, console);
    }
    if (*prune) return run_prune(prune_options, console);
    if (*verify_cmd) return run_verify_backup(verify, console);
    if (*restore) {
      if (restore_options.file.empty() && restore_source.locations.empty()) {
        std::cerr << "weighlink-backend: restore: give --file DUMP, or --dir DIR (its "
                     "verified-latest, or --file NAME in it)\n";
        return kExitUsage;
      }
      return run_restore(restore_options, console, restore_source);
    }
    if (*mark_restored) return run_mark_restored(dsn, restored_from, console);
    if (*monitor) return run_monitor(monitor_options, console);
    if (*drill) return run_drill(drill_options, console);
    if (*dr_status) {
      dr_options.policy.max_backup_age_s = static_cast<std::int64_t>(max_backup_age_hours * 3600);
      dr_options.policy.max_verified_age_s =
          static_cast<std::int64_t>(max_verified_age_hours * 3600);
      dr_options.policy.max_drill_age_s = static_cast<std::int64_t>(max_drill_age_days * 86400);
      return run_dr_status(dr_options, console);
    }
    if (*add) return run_station_add(dsn, station_id, key_file, allow_unsigned, console);
    if (*set_unsigned) {
      return run_station_set_unsigned_weighings(dsn, station_id, unsigned_choice == "allow",
                                                console);
    }
    if (*set_key) return run_station_set_key(dsn, station_id, key_file, console);
    if (*records_verify) return run_records_verify(dsn, station_id, record_seq, console);
    if (*disable) return run_station_disable(dsn, station_id, console);
    if (*rotate) return run_station_rotate_token(dsn, station_id, console);
    if (*serve_cmd) return run_serve(serve, console);
  } catch (const std::exception& e) {
    std::cerr << "weighlink-backend: unexpected error: " << e.what() << "\n";
    return kExitFailure;
  }
  return kExitUsage;
}

int main(int argc, char** argv) {
  return weighlink::base::guarded_main("weighlink-backend", [&] { return run(argc, argv); });
}
