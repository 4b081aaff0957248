// weighlink-backend backup: pg_dump -Fc of the database, and beside it a manifest whose row counts
// and station high waters come from the very snapshot the dump was taken from
// (pg_export_snapshot, then pg_dump --snapshot), so that verify-backup can compare a restore with
// them exactly (SPEC §6; docs/operations.md, "Backups"). The dump goes to a local folder or an
// rclone remote, and to every mirror; then retention (retention.hpp) runs on each of them.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <ostream>
#include <thread>

#include "backup_internal.hpp"
#include "command_clock.hpp"
#include "pg_tools.hpp"
#include "weighlink/base/file_write.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/base/subprocess.hpp"
#include "weighlink/pg/evidence_sql.hpp"
#include "weighlink/pg/pg.hpp"
#include "weighlink/recovery/backup_catalog.hpp"
#include "weighlink/recovery/backup_policy.hpp"
#include "weighlink/recovery/commands.hpp"
#include "weighlink/recovery/offsite.hpp"
#include "weighlink/recovery/retention.hpp"

namespace weighlink::recovery {
namespace {

namespace fs = std::filesystem;

int fail(const base::Console& console, const std::string& what) {
  console.err << "weighlink-backend: backup: " << what << "\n";
  return kExitFailure;
}

// While pg_dump writes `file`, shows its size and rate on the console's err when that is a
// terminal.
class Progress {
 public:
  Progress(fs::path file, const base::Console& console)
      : file_(std::move(file)), err_(console.err) {
    if (!console.err_is_terminal) return;
    thread_ = std::thread([this] { loop(); });
  }
  ~Progress() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) {
      thread_.join();
      err_ << "\r\033[K" << std::flush;
    }
  }

 private:
  void loop() {
    const auto started = std::chrono::steady_clock::now();
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return done_; })) {
      std::error_code ec;
      const auto bytes = fs::file_size(file_, ec);
      const double s = seconds_since(started);
      char line[128];
      std::snprintf(line, sizeof line, "\rpg_dump: %.1f MB written, %.0f s, %.1f MB/s\033[K",
                    ec ? 0.0 : static_cast<double>(bytes) / 1e6, s,
                    ec || s <= 0 ? 0.0 : static_cast<double>(bytes) / 1e6 / s);
      err_ << line << std::flush;
    }
  }

  fs::path file_;
  std::ostream& err_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

int run_backup(const BackupOptions& options, const base::Console& console) {
  // The dump holds every station's data and token hashes: readable by its owner only.
  ::umask(077);
  auto parsed = parse_locations(options.destinations);
  if (!parsed) {
    console.err << "weighlink-backend: backup: " << parsed.error().message << "\n";
    return kExitUsage;
  }
  const std::vector<Location>& destinations = *parsed;
  if (destinations.empty()) return fail(console, "no --dir given");
  // The dump is written to the primary folder when it is local, else to the staging folder and
  // uploaded from there.
  const bool primary_local = !destinations.front().remote();
  const fs::path write_dir = primary_local                 ? fs::path(destinations.front().spec)
                             : options.staging_dir.empty() ? base::temp_folder()
                                                           : fs::path(options.staging_dir);
  std::error_code ec;
  fs::create_directories(write_dir, ec);
  if (ec)
    return fail(console, "cannot create " + write_dir.string() + ": " + ec.message() +
                             "; give a --dir (or --staging-dir) this user may write in");

  // The snapshot: held open (REPEATABLE READ) until pg_dump has taken it and the counts are read.
  pg::PgConnection db(options.dsn, pg::PgConnection::Session::maintenance);
  if (!db.ensure_connected() || !db.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")) {
    return fail(console, "cannot reach PostgreSQL at " + db.target() + " (" + db.last_error() +
                             "); check --dsn and that the server is running");
  }
  auto info = db.exec(
      "SELECT pg_export_snapshot(), current_setting('server_version'), "
      "current_setting('server_version_num'), current_database()");
  if (!info) {
    return fail(console, "cannot export a snapshot: " + db.last_error() +
                             "; check the role's rights and the server's log");
  }
  const std::string snapshot(info->get(0, 0));
  const std::string server_version(info->get(0, 1));
  const std::string server_version_num(info->get(0, 2));

  const std::int64_t now_s = unix_now();
  const std::string iso = format_utc_timestamp(now_s);
  // weighlink_YYYYMMDD_HHMMSS from the ISO time.
  std::string stamp = iso.substr(0, 4) + iso.substr(5, 2) + iso.substr(8, 2) + "_" +
                      iso.substr(11, 2) + iso.substr(14, 2) + iso.substr(17, 2);
  const std::string dump_name = "weighlink_" + stamp + ".dump";
  const fs::path dump = write_dir / dump_name;
  const fs::path partial = dump.string() + ".partial";
  const fs::path manifest_file = write_dir / manifest_name(dump_name);
  if (fs::exists(dump, ec))
    return fail(console, dump.string() + " exists already; try again in a second");

  // Row counts of every table of the public schema, the stations' high waters and the
  // generation, in the snapshot.
  const auto counts = count_public_tables(db);
  if (!counts) return fail(console, counts.error().message);
  boost::json::object counts_json;
  for (const auto& [table, n] : *counts) counts_json[table] = n;
  boost::json::object high_water;
  if (auto stations = db.exec("SELECT id, high_water_seq FROM stations ORDER BY id")) {
    for (int i = 0; i < stations->rows(); ++i) {
      high_water[std::string(stations->get(i, 0))] = std::stoll(std::string(stations->get(i, 1)));
    }
  } else {
    return fail(console,
                "cannot read the stations (is the database migrated?): " + db.last_error());
  }
  // The evidence files in the snapshot (schema v6 on): verify-backup recomputes both figures.
  std::optional<boost::json::object> evidence;
  if (auto has = db.exec("SELECT to_regclass('public.evidence_blobs') IS NOT NULL");
      has && has->rows() == 1 && has->get(0, 0) == "t") {
    auto summary = db.exec(std::string(pg::kEvidenceSummarySql));
    if (!summary) return fail(console, "cannot count the evidence files: " + db.last_error());
    evidence = boost::json::object{{"count", std::stoll(std::string(summary->get(0, 0)))},
                                   {"checksum", std::string(summary->get(0, 1))}};
  }
  std::string generation;
  if (auto g = db.exec("SELECT value FROM backend_meta WHERE key = 'generation'");
      g && g->rows() == 1) {
    generation = std::string(g->get(0, 0));
  }

  const auto started = std::chrono::steady_clock::now();
  const std::string pg_dump = pg_program_for("pg_dump", server_version_num);
  ProgramRun dumped;
  {
    Progress progress(partial, console);
    const auto tool = pg::dsn_for_tool(options.dsn);  // no password on pg_dump's command line
    dumped = run_program({pg_dump, "--format=custom", "--snapshot=" + snapshot,
                          "--file=" + partial.string(), "--dbname=" + tool.dsn},
                         tool.environment);
  }
  (void)db.exec("COMMIT");
  if (dumped.status != 0) {
    fs::remove(partial, ec);
    if (dumped.status < 0) {
      return fail(console,
                  "cannot run " + pg_dump + "; install postgresql-client-" +
                      server_major(server_version_num) +
                      " (pg_dump must be at least the server's version) or put pg_dump on PATH");
    }
    return fail(console,
                "pg_dump failed (exit " + std::to_string(dumped.status) + "): " + dumped.errors);
  }
  const double dump_s = seconds_since(started);
  const auto size = fs::file_size(partial, ec);
  const auto sha = base::file_sha256(partial);
  if (ec || !sha) {
    fs::remove(partial, ec);
    return fail(console, "cannot read back " + partial.string() + "; check the disk of " +
                             write_dir.string());
  }

  boost::json::object manifest{{"format", kManifestFormat},
                               {"dump", dump_name},
                               {"size_bytes", static_cast<std::int64_t>(size)},
                               {"sha256", *sha},
                               {"created_at", iso},
                               {"server_version", server_version},
                               {"generation", generation},
                               {"snapshot", snapshot},
                               {"row_counts", counts_json},
                               {"station_high_water", high_water},
                               {"dump_seconds", dump_s}};
  if (evidence) manifest["evidence_blobs"] = std::move(*evidence);
  const fs::path manifest_partial = manifest_file.string() + ".partial";
  {
    std::ofstream out(manifest_partial, std::ios::trunc);
    out << boost::json::serialize(manifest) << "\n";
    out.flush();
    if (!out) {
      fs::remove(partial, ec);
      fs::remove(manifest_partial, ec);
      return fail(console, "cannot write " + manifest_file.string() + "; check the space left in " +
                               write_dir.string());
    }
  }
  // Durable before named: the dump first, then its manifest, so that a manifest never names a
  // dump that is not complete, not even after a power cut.
  (void)base::fsync_path(partial);
  (void)base::fsync_path(manifest_partial);
  fs::rename(partial, dump, ec);
  if (!ec) fs::rename(manifest_partial, manifest_file, ec);
  if (ec) {
    return fail(console, "cannot rename into place in " + write_dir.string() + ": " + ec.message() +
                             "; check the folder and its disk, then run backup again");
  }
  (void)base::fsync_path(write_dir, true);
  console.out << "backup " << dump_name << ": " << size << " bytes in " << dump_s << " s ("
              << (dump_s > 0 ? static_cast<double>(size) / 1e6 / dump_s : 0.0) << " MB/s), sha256 "
              << *sha << ", " << counts->size() << " tables, " << high_water.size()
              << " stations\n";

  // Every destination that is not where the dump was written gets a copy: dump, then manifest.
  int exit_code = kExitOk;
  std::string primary_manifest = manifest_file.string();
  for (std::size_t i = 0; i < destinations.size(); ++i) {
    if (i == 0 && primary_local) continue;
    auto store = open_store(destinations[i]);
    const auto upload_started = std::chrono::steady_clock::now();
    auto put = store->put(dump, dump_name);
    if (put) put = store->put(manifest_file, manifest_name(dump_name));
    if (!put) {
      console.err << "weighlink-backend: backup: cannot copy " << dump_name << " to "
                  << destinations[i].display() << ": " << put.error().message << "\n";
      exit_code = kExitFailure;
      continue;
    }
    const double up_s = seconds_since(upload_started);
    console.out << "copied to " << destinations[i].display() << " in " << up_s << " s\n";
    if (i == 0) primary_manifest = remote_path(destinations[i].display(), manifest_name(dump_name));
  }
  if (!primary_local) {
    if (exit_code == kExitOk) {
      fs::remove(dump, ec);
      fs::remove(manifest_file, ec);
    } else {
      console.err << "weighlink-backend: backup: the dump and its manifest stay in "
                  << write_dir.string() << " until they are copied by hand (rclone copy)\n";
    }
  }

  if (options.retention.any()) {
    for (const auto& destination : destinations) {
      auto store = open_store(destination);
      if (!apply_retention(console, *store, {.policy = options.retention, .now = now_s}))
        exit_code = kExitFailure;
    }
  }
  console.out << primary_manifest << "\n";
  return exit_code;
}

}  // namespace weighlink::recovery
