// weighlink-backend verify-backup: see verify_backup.hpp for the steps and codes, and
// docs/operations.md for what an operator does about each.
#include "weighlink/recovery/verify_backup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>

#include "backup_internal.hpp"
#include "command_clock.hpp"
#include "pg_tools.hpp"
#include "weighlink/base/file_write.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/base/subprocess.hpp"
#include "weighlink/pg/pg.hpp"
#include "weighlink/recovery/backup_catalog.hpp"
#include "weighlink/recovery/backup_policy.hpp"
#include "weighlink/recovery/commands.hpp"
#include "weighlink/recovery/dump_archive.hpp"
#include "weighlink/recovery/notify.hpp"
#include "weighlink/recovery/offsite.hpp"
#include "weighlink/recovery/scratch_cluster.hpp"
#include "weighlink/recovery/soft_fk.hpp"

namespace weighlink::backend {
namespace {

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
  void note(std::string text) { notes_.emplace_back(std::move(text)); }
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
      PgConnection admin(admin_dsn_);
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
      cluster_ = ScratchCluster::start(options, error);
      if (!cluster_) return false;
      dsn_ = cluster_->dsn("postgres");
      bin_ = cluster_->bin_dir();
      return true;
    }
    admin_dsn_ = o.scratch_dsn;
    PgConnection admin(admin_dsn_);
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
    dsn_ = dsn_with_database(o.scratch_dsn, name);
    bin_ = newest_postgres_bin_dir("pg_restore");
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
  BackupManifest manifest;
  std::uint64_t actual_size = 0;
  bool present = false;
  // What the restored database holds (not what the manifest says): the stations' high waters
  // and the generation, for durable_seq.
  std::map<std::string, std::int64_t> restored_high_water;
  std::string restored_generation;
};

void write_textfile(const base::Console& console, const VerifyOptions& o, const Report& report,
                    const Candidate* candidate, const std::optional<SizeVerdict>& size,
                    const std::optional<VerifiedLatest>& latest) {
  if (o.textfile.empty()) return;
  std::ostringstream t;
  auto metric = [&](const char* name, const char* help, const std::string& value,
                    const char* type = "gauge") {
    t << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n"
      << name << " " << value << "\n";
  };
  metric("weighlink_backup_verify_last_run_timestamp_seconds",
         "When verify-backup last ran (Unix time).", std::to_string(report.started_at()));
  metric("weighlink_backup_verify_success", "1 if the last verify-backup run passed, else 0.",
         report.passed() ? "1" : "0");
  t << "# HELP weighlink_backup_verify_result The last run's code (1 for the current one).\n"
       "# TYPE weighlink_backup_verify_result gauge\n";
  for (int c = 0; c <= static_cast<int>(VerifyCode::could_not_run); ++c) {
    t << "weighlink_backup_verify_result{code=\"" << code_name(static_cast<VerifyCode>(c)) << "\"} "
      << (c == static_cast<int>(report.code()) ? 1 : 0) << "\n";
  }
  if (latest) {
    metric("weighlink_backup_verify_last_success_timestamp_seconds",
           "When verify-backup last passed a dump (Unix time).",
           std::to_string(latest->verified_at));
    metric("weighlink_backup_verified_dump_created_timestamp_seconds",
           "When the newest verified dump was taken (Unix time): the RPO is now minus this.",
           std::to_string(latest->created_at));
  }
  if (candidate != nullptr && candidate->present) {
    metric("weighlink_backup_size_bytes", "Size of the dump the last run checked.",
           std::to_string(candidate->actual_size));
  }
  if (size && size->median) {
    metric("weighlink_backup_size_median_bytes",
           "Median size of the dumps of the 7 days before the checked one.",
           std::to_string(*size->median));
  }
  t << "# HELP weighlink_backup_verify_step_seconds Duration of each step of the last run.\n"
       "# TYPE weighlink_backup_verify_step_seconds gauge\n";
  for (const auto& [step, seconds] : report.durations()) {
    t << "weighlink_backup_verify_step_seconds{step=\"" << std::string_view(step) << "\"} "
      << json::serialize(seconds) << "\n";
  }
  // Readable by node_exporter, which runs as another user.
  if (auto error = base::write_file_atomically(o.textfile, t.str(), 0644)) {
    console.err << "weighlink-backend: verify-backup: " << *error << " (--textfile)\n";
  }
}

// Moves each station's durable_seq up to what the verified dump holds, when the production
// database is still the generation the dump was taken from (after a restore from an older dump,
// a newer dump of the old generation holds seqs the database does not: agents must keep them).
json::object raise_durable_seq(const std::string& dsn, const Candidate& c) {
  json::object out;
  PgConnection db(dsn);
  if (!db.ensure_connected()) {
    out["moved"] = false;
    out["detail"] = "cannot reach --dsn " + db.target() + ": " + db.last_error() +
                    "; durable_seq stays where it was (agents keep their rows longer)";
    return out;
  }
  auto generation = db.exec("SELECT value FROM backend_meta WHERE key = 'generation'");
  if (!generation || generation->rows() != 1) {
    out["moved"] = false;
    out["detail"] = "cannot read the database's generation: " + db.last_error();
    return out;
  }
  const std::string current(generation->get(0, 0));
  if (c.restored_generation.empty() || c.restored_generation != current) {
    out["moved"] = false;
    out["detail"] =
        "the database is generation " + current + " but the dump is of generation " +
        (c.restored_generation.empty() ? std::string("(none)") : c.restored_generation) +
        " (it was restored since): durable_seq is not moved";
    return out;
  }
  std::int64_t moved = 0;
  for (const auto& [station, high_water] : c.restored_high_water) {
    auto r = db.exec(
        "UPDATE stations SET durable_seq = LEAST($2::bigint, high_water_seq) "
        "WHERE id = $1 AND durable_seq < LEAST($2::bigint, high_water_seq)",
        {station, std::to_string(high_water)});
    if (!r) {
      out["moved"] = false;
      out["detail"] = "cannot update durable_seq of " + station + ": " + db.last_error();
      return out;
    }
    if (auto n = db.exec("SELECT 1 FROM stations WHERE id = $1 AND durable_seq = LEAST($2::bigint, "
                         "high_water_seq)",
                         {station, std::to_string(high_water)});
        n && n->rows() == 1) {
      ++moved;
    }
  }
  out["moved"] = true;
  out["stations"] = moved;
  out["detail"] = "durable_seq of " + std::to_string(moved) + " stations is what the dump holds";
  return out;
}

}  // namespace

std::string_view code_name(VerifyCode code) noexcept {
  switch (code) {
    case VerifyCode::ok:
      return "OK";
    case VerifyCode::size_shrunk:
      return "SIZE_SHRUNK";
    case VerifyCode::size_exceeded:
      return "SIZE_EXCEEDED";
    case VerifyCode::not_a_dump:
      return "NOT_A_DUMP";
    case VerifyCode::truncated:
      return "TRUNCATED";
    case VerifyCode::checksum_mismatch:
      return "CHECKSUM_MISMATCH";
    case VerifyCode::restore_failed:
      return "RESTORE_FAILED";
    case VerifyCode::rowcount_drift:
      return "ROWCOUNT_DRIFT";
    case VerifyCode::orphan_fk_surge:
      return "ORPHAN_FK_SURGE";
    case VerifyCode::offsite_endpoint_down:
      return "OFFSITE_ENDPOINT_DOWN";
    case VerifyCode::could_not_run:
      return "COULD_NOT_RUN";
  }
  return "UNKNOWN";
}

namespace {

// The checks, in order; returns when one fails (the report holds the verdict).
void verify(const base::Console& console, const VerifyOptions& o, Report& report, Store& store,
            const std::vector<StoreEntry>& entries, const std::vector<SoftForeignKey>& soft_keys,
            std::optional<Candidate>& candidate, std::optional<SizeVerdict>& size,
            std::optional<VerifiedLatest>& latest) {
  // The catalog: every manifest, and which dumps passed before.
  auto t = Clock::now();
  auto catalog = read_catalog(store, entries);
  for (const auto& note : catalog.notes) report.note(note);
  const auto& records = catalog.records;
  auto& manifests = catalog.manifests;
  const auto& sizes = catalog.sizes;
  latest = catalog.latest;
  const auto verified_count =
      std::count_if(records.begin(), records.end(), [](const DumpRecord& r) { return r.verified; });
  std::string chosen;
  if (!o.file.empty()) {
    chosen = fs::path(o.file).filename().string();
    if (!manifests.contains(chosen)) {
      report.fail(VerifyCode::could_not_run,
                  "--file " + chosen + " has no readable manifest " + manifest_name(chosen) +
                      " in " + store.location().display() +
                      "; only dumps made by `weighlink-backend backup` can be verified");
      return;
    }
  } else if (auto newest = newest_dump(records)) {
    chosen = newest->name;
  } else {
    report.fail(VerifyCode::could_not_run,
                "no backups in " + store.location().display() +
                    " (no readable *.manifest.json); run `weighlink-backend backup` first");
    return;
  }
  const auto size_it = sizes.find(chosen);
  candidate.emplace();
  candidate->manifest = manifests[chosen];
  candidate->actual_size = size_it == sizes.end() ? 0 : size_it->second;
  candidate->present = size_it != sizes.end();
  const auto& m = candidate->manifest;
  report.set("dump", json::string(m.dump));
  report.set("dump_created_at", json::string(m.created_at_text));
  report.step("pick", true, seconds_since(t),
              m.dump + " (manifest time " + m.created_at_text + ", " +
                  std::to_string(records.size()) + " dumps in the folder, " +
                  std::to_string(verified_count) + " verified)");

  // Size guard, on the size the file has now (a cut-short upload is smaller than its manifest).
  t = Clock::now();
  if (!candidate->present) {
    report.step("size_guard", false, seconds_since(t), m.dump + " is missing");
    report.fail(VerifyCode::not_a_dump,
                "the manifest names " + m.dump + " but there is no such file in " +
                    store.location().display() + "; the upload or the backup did not finish");
    return;
  }
  DumpRecord self{m.dump, m.created_at, candidate->actual_size, false};
  size = size_guard(self, records, o.min_bytes, o.median_factor);
  report.set("size_bytes", candidate->actual_size);
  if (size->kind != SizeVerdict::Kind::ok) {
    report.step("size_guard", false, seconds_since(t), size->detail);
    report.fail(size->kind == SizeVerdict::Kind::shrunk ? VerifyCode::size_shrunk
                                                        : VerifyCode::size_exceeded,
                size->detail);
    return;
  }
  report.step("size_guard", true, seconds_since(t), size->detail);

  // The disposable cluster starts (initdb, pg_ctl) while the dump is fetched and checked; a
  // dump that fails those checks tears it down unused.
  ScratchTarget target(console.err);
  std::string scratch_error;
  auto scratch_started = Clock::now();
  auto scratch = std::async(std::launch::async, [&] { return target.open(o, scratch_error); });
  struct Join {
    std::future<bool>& f;
    ~Join() {
      if (f.valid()) f.wait();
    }
  } join{scratch};

  // Format: fetched (remote) or read in place (local), then walked to its last data block.
  t = Clock::now();
  const fs::path download_dir =
      o.scratch_dir.empty() ? base::temp_folder() : fs::path(o.scratch_dir);
  const fs::path download = download_dir / ("wl-verify-" + std::to_string(::getpid()) + ".dump");
  auto fetched = store.fetch(m.dump, download);
  struct RemoveDownload {
    fs::path path;
    ~RemoveDownload() {
      std::error_code ec;
      fs::remove(path, ec);
    }
  } cleanup{store.location().remote() ? download : fs::path()};
  if (!fetched) {
    report.step("fetch", false, seconds_since(t), fetched.error().message);
    report.fail(fetched.error().code == OffsiteErrc::unreachable ? VerifyCode::offsite_endpoint_down
                                                                 : VerifyCode::could_not_run,
                "cannot fetch " + m.dump + ": " + fetched.error().message);
    return;
  }
  if (store.location().remote()) report.step("fetch", true, seconds_since(t), "downloaded");
  const fs::path dump_path = *fetched;
  t = Clock::now();
  auto source = FileArchiveSource::open(dump_path.string());
  if (!source) {
    report.fail(VerifyCode::could_not_run, "cannot open " + dump_path.string() + ": " +
                                               source.error().message() +
                                               "; check that this user may read it");
    return;
  }
  const auto inspection = inspect_dump(**source);
  json::object format{{"verdict", to_string(inspection.verdict)},
                      {"toc_entries", inspection.toc_entries},
                      {"data_blocks_walked", inspection.data_blocks_walked},
                      {"dbname", inspection.dbname},
                      {"pg_dump_version", inspection.pg_dump_version}};
  if (inspection.offset) format["offset"] = *inspection.offset;
  if (inspection.verdict == DumpVerdict::not_a_dump ||
      inspection.verdict == DumpVerdict::truncated) {
    report.step("format", false, seconds_since(t), inspection.detail, format);
    report.fail(inspection.verdict == DumpVerdict::truncated ? VerifyCode::truncated
                                                             : VerifyCode::not_a_dump,
                inspection.detail, format);
    return;
  }
  if (inspection.verdict == DumpVerdict::unreadable) {
    report.step("format", false, seconds_since(t), inspection.detail, format);
    report.fail(VerifyCode::could_not_run, inspection.detail, format);
    return;
  }
  if (inspection.verdict == DumpVerdict::custom_ok) {
    for (const auto table : kRequiredTables) {
      if (std::find(inspection.table_data.begin(), inspection.table_data.end(), table) ==
          inspection.table_data.end()) {
        const std::string detail = "a dump of database \"" + inspection.dbname +
                                   "\" without weighlink's table " + std::string(table) +
                                   ": not a weighlink backup (a wrong file under a weighlink name)";
        report.step("format", false, seconds_since(t), detail, format);
        report.fail(VerifyCode::not_a_dump, detail, format);
        return;
      }
    }
  }
  report.step("format", true, seconds_since(t), inspection.detail, format);

  t = Clock::now();
  const auto sha = base::file_sha256(dump_path);
  if (!sha || *sha != m.sha256) {
    const std::string detail =
        sha ? "sha256 of " + m.dump + " is " + *sha + " but its manifest says " + m.sha256 +
                  ": the file changed after the backup (corruption in storage or transfer)"
            : "cannot read " + dump_path.string() +
                  " to hash it; check the disk and this user's "
                  "rights";
    report.step("checksum", false, seconds_since(t), detail);
    report.fail(sha ? VerifyCode::checksum_mismatch : VerifyCode::could_not_run, detail,
                {{"expected", m.sha256}, {"actual", sha.value_or("")}});
    return;
  }
  report.step("checksum", true, seconds_since(t), "sha256 matches the manifest");

  // The restore, into the disposable cluster.
  t = Clock::now();
  std::string error;
  if (!scratch.get()) {
    report.step("scratch", false, seconds_since(t), scratch_error);
    report.fail(VerifyCode::could_not_run, "cannot make the disposable cluster: " + scratch_error);
    return;
  }
  report.step("scratch", true, seconds_since(t),
              "disposable PostgreSQL ready " + std::to_string(seconds_since(scratch_started)) +
                  " s after it was started, alongside the checks above");
  if (inspection.verdict == DumpVerdict::plain_ok) {
    t = Clock::now();
    const auto r =
        run_program({target.tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                     "--dbname=" + dsn_for_tool(target.dsn()).dsn, "-f", dump_path.string()},
                    dsn_for_tool(target.dsn()).environment);
    if (r.status != 0) {
      const auto failing = condense_errors(r.errors);
      report.step("restore", false, seconds_since(t), failing);
      report.fail(VerifyCode::restore_failed, "psql could not restore the plain dump: " + failing);
      return;
    }
    report.step("restore", true, seconds_since(t), "plain SQL dump restored with psql");
  } else {
    t = Clock::now();
    const auto sections =
        restore_sections(target.tool("pg_restore"), dump_path, target.dsn(), o.jobs);
    for (const auto& timing : sections.timings) {
      report.step("restore_" + timing.section, true, timing.seconds, timing.section + " restored");
    }
    if (!sections.ok()) {
      double done = 0;
      for (const auto& timing : sections.timings) done += timing.seconds;
      report.step("restore_" + sections.failed_section, false, seconds_since(t) - done,
                  sections.errors);
      report.fail(VerifyCode::restore_failed,
                  "pg_restore failed in " + sections.failed_section + ": " + sections.errors,
                  {{"section", sections.failed_section}, {"pg_restore_exit", sections.status}});
      return;
    }
  }

  // VACUUM ANALYZE, a table per connection with --jobs of them (vacuumdb).
  t = Clock::now();
  const auto vacuumed =
      run_program({target.tool("vacuumdb"), "--analyze", "--jobs=" + std::to_string(o.jobs),
                   "--quiet", "--dbname=" + dsn_for_tool(target.dsn()).dsn},
                  dsn_for_tool(target.dsn()).environment);
  if (vacuumed.status != 0) {
    const auto why = condense_errors(vacuumed.errors);
    report.step("vacuum_analyze", false, seconds_since(t), why);
    report.fail(VerifyCode::restore_failed, "VACUUM ANALYZE of the restore failed: " + why);
    return;
  }
  report.step("vacuum_analyze", true, seconds_since(t), "vacuumed, statistics rebuilt");
  PgConnection restored(target.dsn(), PgConnection::Session::maintenance);
  if (!restored.ensure_connected()) {
    report.fail(VerifyCode::could_not_run,
                "cannot connect to the restored database: " + restored.last_error() +
                    "; the disposable cluster's log: " + target.log_tail());
    return;
  }

  // Row counts: exactly the manifest's, and no table shrunk since the last verified dump.
  t = Clock::now();
  RowCounts counts;
  if (!count_public_tables(restored, counts, error)) {
    report.step("row_counts", false, seconds_since(t), error);
    report.fail(VerifyCode::restore_failed, "cannot count the restored rows: " + error);
    return;
  }
  json::object counts_json;
  for (const auto& [table, n] : counts) counts_json[table] = n;
  report.set("row_counts", counts_json);
  auto drift = restored_vs_manifest(m.row_counts, counts);
  std::string baseline = "the manifest";
  if (drift.empty()) {
    if (auto previous = previous_verified(records, m.created_at)) {
      baseline = "the manifest and the previous verified dump " + previous->name;
      drift =
          drift_vs_previous(manifests[previous->name].row_counts, m.row_counts, o.row_tolerance);
    } else {
      report.note("no earlier verified dump: row counts checked against the manifest only");
    }
  }
  if (!drift.empty()) {
    json::array tables;
    for (const auto& d : drift) {
      tables.push_back({{"table", d.table}, {"expected", d.expected}, {"actual", d.actual}});
    }
    report.step("row_counts", false, seconds_since(t), drift.front().detail);
    report.fail(VerifyCode::rowcount_drift, drift.front().detail, {{"tables", tables}});
    return;
  }
  if (auto stations = restored.exec("SELECT id, high_water_seq FROM stations")) {
    for (int i = 0; i < stations->rows(); ++i) {
      candidate->restored_high_water[std::string(stations->get(i, 0))] =
          std::stoll(std::string(stations->get(i, 1)));
    }
  }
  if (auto g = restored.exec("SELECT value FROM backend_meta WHERE key = 'generation'");
      g && g->rows() == 1) {
    candidate->restored_generation = std::string(g->get(0, 0));
  }
  report.step("row_counts", true, seconds_since(t),
              std::to_string(counts.size()) + " tables, counts within " + baseline);

  // The orphan sweep. The allowlist's `where` is the operator's SQL: in our own cluster it runs
  // as a role that can only read tables (pg_read_all_data: no server files, no large object
  // export), in a read-only transaction.
  t = Clock::now();
  if (o.scratch_dsn.empty() &&
      (!restored.exec("CREATE ROLE weighlink_sweep NOLOGIN IN ROLE pg_read_all_data") ||
       !restored.exec("SET ROLE weighlink_sweep"))) {
    report.step("orphan_sweep", false, seconds_since(t), restored.last_error());
    report.fail(VerifyCode::could_not_run,
                "cannot set up the orphan sweep's read-only role: " + restored.last_error());
    return;
  }
  (void)restored.exec("SET default_transaction_read_only = on");
  json::array orphans;
  std::optional<std::string> surge;
  for (const auto& key : soft_keys) {
    auto n = restored.exec(orphan_count_sql(key));
    if (!n) {
      // The dump restored and counted fine: a relation that does not fit it is the allowlist's
      // mistake, not the dump's.
      report.step("orphan_sweep", false, seconds_since(t), restored.last_error());
      report.fail(VerifyCode::could_not_run,
                  "the orphan sweep of " + key.name + " failed: " + restored.last_error() +
                      "; check that relation in --soft-fk-allowlist (its tables, columns and "
                      "where)");
      return;
    }
    const auto count = std::stoll(std::string(n->get(0, 0)));
    json::object entry{
        {"relation", key.name}, {"orphans", count}, {"max_orphans", key.max_orphans}};
    if (count > key.max_orphans) {
      json::array sample;
      if (auto s = restored.exec(orphan_sample_sql(key, 5))) {
        for (int i = 0; i < s->rows(); ++i) sample.emplace_back(s->get(i, 0));
      }
      entry["sample"] = sample;
      if (!surge) {
        surge = key.name + " has " + std::to_string(count) + " orphans (" + key.table +
                " rows with no " + key.references + "), above its max_orphans of " +
                std::to_string(key.max_orphans);
      }
    }
    orphans.push_back(std::move(entry));
  }
  report.set("orphans", orphans);
  if (surge) {
    report.step("orphan_sweep", false, seconds_since(t), *surge);
    report.fail(VerifyCode::orphan_fk_surge, *surge, {{"relations", orphans}});
    return;
  }
  report.step("orphan_sweep", true, seconds_since(t),
              std::to_string(soft_keys.size()) + " soft foreign keys within their allowlist");
}

}  // namespace

int run_verify_backup(const VerifyOptions& o, const base::Console& console) {
  ScratchCluster::remove_on_signals();
  Report report;
  // Bad usage first: nothing runs on a wrong allowlist.
  auto soft_keys = builtin_soft_foreign_keys();
  if (!o.soft_fk_allowlist.empty()) {
    std::ifstream in(o.soft_fk_allowlist, std::ios::binary);
    if (!in) {
      console.err << "weighlink-backend: verify-backup: cannot read --soft-fk-allowlist "
                  << o.soft_fk_allowlist << "\n";
      return kExitUsage;
    }
    std::stringstream text;
    text << in.rdbuf();
    std::string error;
    if (!apply_soft_fk_allowlist(text.str(), o.soft_fk_allowlist, soft_keys, error)) {
      console.err << "weighlink-backend: verify-backup: " << error << "\n";
      return kExitUsage;
    }
  }
  std::vector<Location> locations;
  for (const auto& spec : o.locations) {
    auto location = parse_location(spec);
    if (!location) {
      console.err << "weighlink-backend: verify-backup: " << location.error().message << "\n";
      return kExitUsage;
    }
    locations.push_back(*location);
  }

  std::optional<Candidate> candidate;
  std::optional<SizeVerdict> size;
  std::optional<VerifiedLatest> latest;
  auto t = Clock::now();
  auto reachable = open_first_reachable(locations);
  std::unique_ptr<Store> store;
  std::size_t used = 0;
  if (!reachable) {
    report.step("locate", false, seconds_since(t), reachable.error().message);
    // A local folder that cannot be read is not an offsite endpoint being down.
    const bool any_remote = std::any_of(locations.begin(), locations.end(),
                                        [](const Location& l) { return l.remote(); });
    report.fail(any_remote ? VerifyCode::offsite_endpoint_down : VerifyCode::could_not_run,
                reachable.error().message);
  } else {
    store = std::move(reachable->store);
    used = reachable->index;
    report.set("location", json::string(store->location().display()));
    const std::string how = describe_fallback(*reachable);
    if (!reachable->skipped.empty()) report.note(how);
    report.step("locate", true, seconds_since(t), how);
    verify(console, o, report, *store, reachable->entries, soft_keys, candidate, size, latest);
  }

  // Promotion: only a dump that passed everything.
  if (report.passed()) {
    const auto& m = candidate->manifest;
    const auto now = unix_now();
    const VerifiedLatest pointer{m.dump, m.sha256, m.created_at, now};
    // verified-latest only moves forward (by manifest time): verifying an older dump again
    // (--file, or two runs overlapping) records it as verified but never moves the pointer
    // back, which would point recoveries at a dump older than what durable_seq let agents prune.
    const auto promote_in = [&](Store& where, bool& moved) -> OffsiteResult<void> {
      moved = false;
      auto record =
          where.write_small(verified_name(m.dump), json::serialize(report.to_json()) + "\n");
      if (!record) return record;
      if (auto current = where.read_small(std::string(kVerifiedLatest))) {
        if (auto existing = parse_verified_latest(*current);
            existing && existing->created_at > m.created_at) {
          return {};
        }
      }
      auto written = where.write_small(std::string(kVerifiedLatest), to_json(pointer));
      moved = written.has_value();
      return written;
    };
    bool moved = false;
    if (auto promoted = promote_in(*store, moved); !promoted) {
      report.fail(VerifyCode::could_not_run,
                  "the dump passed but cannot be promoted: " + promoted.error().message);
    } else {
      if (moved) latest = pointer;
      report.step("promote", true, 0,
                  moved ? m.dump + " is verified-latest"
                        : m.dump + " is verified; verified-latest stays on a newer dump");
      // The other locations that hold the same dump (the on-site mirror) learn it too, so that
      // their retention keeps it, when their copy is the same file (sha256; a local copy is
      // hashed, a remote one would have to be downloaded and is left to its own verification).
      for (std::size_t i = 0; i < locations.size(); ++i) {
        if (i == used) continue;
        if (locations[i].remote()) {
          report.note("not promoted in " + locations[i].display() +
                      ": its copy would have to be downloaded to be compared; verify it there");
          continue;
        }
        const auto copy = fs::path(locations[i].spec) / m.dump;
        std::error_code ec;
        if (!fs::exists(copy, ec)) continue;
        if (base::file_sha256(copy) != m.sha256) {
          report.note("not promoted in " + locations[i].display() + ": its copy of " + m.dump +
                      " differs from the verified one (sha256)");
          continue;
        }
        auto other = open_store(locations[i]);
        bool other_moved = false;
        auto copied = promote_in(*other, other_moved);
        report.note(copied ? "also promoted in " + locations[i].display()
                           : "not promoted in " + locations[i].display() + ": " +
                                 copied.error().message);
      }
      // durable_seq lets agents prune: only for a dump that is now verified-latest where
      // recoveries look first (the primary location).
      if (!o.dsn.empty()) {
        if (moved && used == 0) {
          report.set("durable_seq", raise_durable_seq(o.dsn, *candidate));
        } else {
          report.set("durable_seq",
                     json::object{{"moved", false},
                                  {"detail", moved ? "verified through a fallback: durable_seq "
                                                     "moves when the primary location is verified"
                                                   : "not verified-latest (a newer dump is): "
                                                     "durable_seq is not moved"}});
        }
      }
    }
  }

  // Notify, then the report (with the notification's outcome) and the textfile.
  if (!o.notify_url.empty()) {
    NotifyPolicy policy;
    policy.attempts = static_cast<std::uint32_t>(o.notify_attempts);
    policy.backoff_base = std::chrono::milliseconds(o.notify_backoff_ms);
    const auto outcome = post_notification(o.notify_url, json::serialize(report.to_json()), policy);
    json::object notify = to_json(outcome);
    if (!outcome.delivered) {
      notify["code"] = "NOTIFY_FAILED";
      console.err << "weighlink-backend: verify-backup: NOTIFY_FAILED: " << outcome.error
                  << " (the verdict stands)\n";
    }
    report.set("notify", notify);
  }
  const auto final_report = json::serialize(report.to_json()) + "\n";
  if (!o.report.empty()) {
    if (auto error = base::write_file_atomically(o.report, final_report, 0644)) {
      console.err << "weighlink-backend: verify-backup: " << *error << " (--report)\n";
    }
  }
  write_textfile(console, o, report, candidate ? &*candidate : nullptr, size, latest);

  console.out << "verify-backup " << report.verdict() << ": " << code_name(report.code());
  if (candidate) console.out << " " << candidate->manifest.dump;
  console.out << "\n";
  if (!report.passed()) {
    console.err << "weighlink-backend: verify-backup: " << code_name(report.code()) << ": "
                << report.detail() << "\n";
  }
  return report.exit_code();
}

}  // namespace weighlink::backend
