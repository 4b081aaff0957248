#pragma once
// verify-backup's parts, shared by its three sources: the report it fills step by step, the
// disposable restore target, the chosen dump, and the checks (verify_checks.cpp) that
// run_verify_backup (verify_backup.cpp) runs before promotion, notification and output
// (verify_report.cpp). Internal to weighlink::recovery.

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "backup_internal.hpp"
#include "command_clock.hpp"
#include "pg_tools.hpp"
#include "weighlink/base/command.hpp"
#include "weighlink/pg/pg.hpp"
#include "weighlink/recovery/backup_catalog.hpp"
#include "weighlink/recovery/backup_policy.hpp"
#include "weighlink/recovery/commands.hpp"
#include "weighlink/recovery/dump_archive.hpp"
#include "weighlink/recovery/dump_folder.hpp"
#include "weighlink/recovery/offsite.hpp"
#include "weighlink/recovery/scratch_cluster.hpp"
#include "weighlink/recovery/soft_fk.hpp"
#include "weighlink/recovery/verify_backup.hpp"
#include "weighlink/recovery/verify_config.hpp"

namespace weighlink::recovery::verify {

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

// The tables every weighlink database has: a dump without them is of another database.
constexpr std::string_view kRequiredTables[] = {"public.stations", "public.mutation_log",
                                                "public.backend_meta"};

// The report, filled step by step; the first failure decides the verdict.
class Report {
 public:
  Report() : started_(Clock::now()), started_at_(unix_now()) {}

  // Records a step; returns `ok` so a caller can write `if (!report.step(...)) return ...`.
  bool step(std::string_view name, bool ok, double seconds, std::string detail,
            json::object evidence = {}) {
    json::object s{{"step", name}, {"ok", ok}, {"seconds", seconds}, {"detail", detail}};
    if (!evidence.empty()) s["evidence"] = std::move(evidence);
    steps_.push_back(std::move(s));
    durations_[name] = seconds;
    return ok;
  }
  void fail(VerifyCode code, std::string detail, json::object evidence = {}) {
    if (code_ != VerifyCode::ok) return;  // the first failure decides
    code_ = code;
    detail_ = std::move(detail);
    evidence_ = std::move(evidence);
  }
  void note(std::string_view text) { notes_.emplace_back(text); }
  void set(std::string_view key, json::value value) { extra_[key] = std::move(value); }

  [[nodiscard]] VerifyCode code() const { return code_; }
  [[nodiscard]] bool passed() const { return code_ == VerifyCode::ok; }
  [[nodiscard]] int exit_code() const {
    switch (code_) {
      case VerifyCode::ok:
        return kExitOk;
      case VerifyCode::offsite_endpoint_down:
      case VerifyCode::could_not_run:
        return kExitFailure;
      default:
        return kExitVerifyFailed;
    }
  }
  [[nodiscard]] std::string verdict() const {
    if (passed()) return "pass";
    return exit_code() == kExitVerifyFailed ? "fail" : "error";
  }
  [[nodiscard]] const std::string& detail() const { return detail_; }
  [[nodiscard]] std::int64_t started_at() const { return started_at_; }
  [[nodiscard]] const json::object& durations() const { return durations_; }

  [[nodiscard]] json::object to_json() const {
    json::object o{{"tool", "weighlink-backend verify-backup"},
                   {"version", WEIGHLINK_VERSION},
                   {"verdict", verdict()},
                   {"code", code_name(code_)},
                   {"exit_code", exit_code()},
                   {"detail", passed() ? std::string("every check passed") : detail_},
                   {"started_at", format_utc_timestamp(started_at_)},
                   {"finished_at", format_utc_timestamp(unix_now())},
                   {"seconds", seconds_since(started_)},
                   {"steps", steps_},
                   {"durations", durations_},
                   {"notes", notes_}};
    if (!evidence_.empty()) o["evidence"] = evidence_;
    for (const auto& [k, v] : extra_) o[k] = v;
    return o;
  }

 private:
  Clock::time_point started_;
  std::int64_t started_at_;
  VerifyCode code_ = VerifyCode::ok;
  std::string detail_;
  json::object evidence_;
  json::array steps_;
  json::object durations_;
  json::array notes_;
  json::object extra_;
};

// Where the restore goes: a disposable cluster of our own, or a new database on --scratch-dsn's
// server, dropped afterwards.
class ScratchTarget {
 public:
  explicit ScratchTarget(std::ostream& err) : err_(err) {}
  ScratchTarget(const ScratchTarget&) = delete;
  ScratchTarget& operator=(const ScratchTarget&) = delete;
  ~ScratchTarget() {
    if (!created_database_.empty()) {
      pg::PgConnection admin(admin_dsn_);
      if (!admin.ensure_connected() ||
          !admin.exec("DROP DATABASE IF EXISTS \"" + created_database_ + "\" WITH (FORCE)")) {
        err_ << "weighlink-backend: verify-backup: cannot drop the scratch database "
             << created_database_ << " on " << admin.target() << ": " << admin.last_error()
             << "; drop it by hand\n";
      }
    }
  }
  bool open(const VerifyOptions& o, std::string& error) {
    if (o.scratch_dsn.empty()) {
      ScratchOptions options;
      options.parent = o.scratch_dir;
      options.bin_dir = o.pg_bindir;
      auto cluster = ScratchCluster::start(options);
      if (!cluster) {
        error = cluster.error().message;
        return false;
      }
      cluster_ = std::move(*cluster);
      dsn_ = cluster_->dsn("postgres");
      bin_ = cluster_->bin_dir();
      return true;
    }
    admin_dsn_ = o.scratch_dsn;
    pg::PgConnection admin(admin_dsn_);
    if (!admin.ensure_connected()) {
      error = "cannot reach --scratch-dsn " + admin.target() + ": " + admin.last_error() +
              "; check the DSN and that the server runs, or leave --scratch-dsn out";
      return false;
    }
    const std::string name =
        "weighlink_verify_" + std::to_string(::getpid()) + "_" + std::to_string(unix_now());
    if (!admin.exec("CREATE DATABASE \"" + name + "\" TEMPLATE template0")) {
      error = "cannot create a scratch database on " + admin.target() + " (" + admin.last_error() +
              "); the --scratch-dsn role needs CREATEDB";
      return false;
    }
    created_database_ = name;
    dsn_ = pg::dsn_with_database(o.scratch_dsn, name);
    bin_ = o.pg_bindir.empty() ? newest_postgres_bin_dir("pg_restore") : o.pg_bindir;
    return true;
  }
  [[nodiscard]] const std::string& dsn() const { return dsn_; }
  // A client program of the cluster's own version (pg_restore, psql, vacuumdb).
  [[nodiscard]] std::string tool(const std::string& name) const {
    return bin_.empty() ? name : (fs::path(bin_) / name).string();
  }
  [[nodiscard]] std::string log_tail() const { return cluster_ ? cluster_->log_tail() : ""; }

 private:
  std::unique_ptr<ScratchCluster> cluster_;
  std::string admin_dsn_;
  std::string created_database_;
  std::string dsn_;
  std::string bin_;
  std::ostream& err_;
};

struct Candidate {
  // Without a manifest (any pg_dump file) `manifest` holds what verify-backup learns itself: the
  // name, the time (from the name, or the modification time), and the sha256 once hashed.
  BackupManifest manifest;
  bool has_manifest = true;
  std::optional<std::size_t> pattern;  // the index in Run::patterns of its file-name pattern
  bool weighlink_database = true;      // the restore has weighlink's tables
  std::uint64_t actual_size = 0;
  bool present = false;
  // What the restored database holds (not what the manifest says): the stations' high waters
  // and the generation, for durable_seq.
  std::map<std::string, std::int64_t> restored_high_water;
  std::string restored_generation;
};

// What the checks are given and what they leave for promotion and the textfile.
struct Run {
  const base::Console& console;
  const VerifyOptions& options;
  Report& report;
  Store& store;
  const std::vector<StoreEntry>& entries;
  const std::vector<SoftForeignKey>& soft_keys;
  const VerifyChecks& checks;  // --checks (its soft keys are `soft_keys`)
  const std::vector<DumpNamePattern>& patterns;
  std::optional<Candidate> candidate;    // the dump picked (set by the first check)
  std::optional<SizeVerdict> size;       // the size guard's verdict
  std::optional<VerifiedLatest> latest;  // the verified-latest pointer as the catalog has it
};

// Dumps without a manifest (verify_any_dump.cpp).
[[nodiscard]] inline NewestBy newest_by(const VerifyOptions& o) {
  return o.newest_by_mtime ? NewestBy::mtime : NewestBy::name;
}
// The candidate for the listed file `entry` without a manifest.
[[nodiscard]] Candidate any_dump_candidate(const Run& run, const StoreEntry& entry);
// The dumps of the candidate's pattern (the size guard's history, the previous verified dump);
// just the candidate when it has none.
[[nodiscard]] std::vector<DumpRecord> same_pattern_dumps(const Run& run, const Candidate& c,
                                                         const std::set<std::string>& skip);
// The checksum step without a manifest: the NAME.sha256 sidecar when there is one. Sets the
// candidate's sha256 either way; false (the report failed) on a mismatch or a bad sidecar.
[[nodiscard]] bool check_sidecar(Run& run, Candidate& c, const fs::path& dump);
// Before the restore, on the disposable database `dsn`: a dump of a newer PostgreSQL major is
// refused, the configured extensions are created, and a dump that names an extension the
// cluster lacks fails naming it. Sets `cluster_major`. False: the report failed.
[[nodiscard]] bool prepare_restore_target(Run& run, const std::string& dsn,
                                          const DumpInspection& dump, int& cluster_major);
// A failed restore's errors, said as what to install when an extension is missing.
[[nodiscard]] std::optional<std::string> explain_missing_extension(std::string_view errors,
                                                                   int cluster_major);
// Row counts of a dump without a manifest: every table (or the configured ones) against the
// previous verified dump of the same pattern. False: the report failed.
[[nodiscard]] bool any_dump_row_counts(Run& run, pg::PgConnection& restored,
                                       const std::set<std::string>& skip);
// Counts the restore's rows (count_public_tables, count_user_tables) into the report's
// "row_counts"; nullopt when that fails (the report failed: RESTORE_FAILED).
using Counter = base::Expected<RowCounts> (*)(pg::PgConnection&);
[[nodiscard]] std::optional<RowCounts> count_restored(Report& report, pg::PgConnection& restored,
                                                      const Counter& count);
// The restored database has weighlink's tables.
[[nodiscard]] bool is_weighlink_database(pg::PgConnection& restored);

// The checks, in order (verify_checks.cpp): pick, size guard, fetch and format walk, checksum,
// restore into the disposable target, VACUUM ANALYZE, row counts, orphan sweep. Stops at the first
// failure; the report holds the verdict.
void run_checks(Run& run);

// The Prometheus textfile (--textfile) of a finished run.
void write_textfile(const base::Console& console, const VerifyOptions& o, const Report& report,
                    const Candidate* candidate, const std::optional<SizeVerdict>& size,
                    const std::optional<VerifiedLatest>& latest);

}  // namespace weighlink::recovery::verify
