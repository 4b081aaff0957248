// verify-backup's checks, one function each, in the order run_checks() runs them; each records its
// step in the report and returns false when the run stops there (the report holds the verdict).
#include <unistd.h>

#include <algorithm>
#include <future>

#include "verify_internal.hpp"
#include "weighlink/base/file_write.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/base/subprocess.hpp"
#include "weighlink/pg/evidence_sql.hpp"
#include "weighlink/recovery/dump_archive.hpp"

namespace weighlink::recovery::verify {
namespace {

class Checks {
 public:
  explicit Checks(Run& run) : run_(run), o_(run.options), report_(run.report) {}
  Checks(const Checks&) = delete;
  Checks& operator=(const Checks&) = delete;
  // The disposable cluster may still be starting when a check fails: wait for it, so that it is
  // torn down (by target_) only once it is up.
  ~Checks() {
    if (scratch_.valid()) scratch_.wait();
  }

  void run() {
    if (!pick() || !guard_size()) return;
    start_scratch();
    if (!fetch_and_walk() || !checksum() || !restore() || !vacuum_analyze() || !connect() ||
        !evidence() || !row_counts() || !orphan_sweep()) {
      return;
    }
  }

 private:
  // The catalog (every manifest, and which dumps passed before), and the dump to check: --file,
  // or the newest of the weighlink backups (by manifest time) and the other pg_dump files (by
  // the time in their names, or their modification time).
  bool pick() {
    const auto t = Clock::now();
    catalog_ = read_catalog(run_.store, run_.entries);
    for (const auto& note : catalog_.notes) report_.note(note);
    const auto& records = catalog_.records;
    run_.latest = catalog_.latest;
    weighlink_names_ = weighlink_backup_names(catalog_, run_.entries);
    const auto verified_count = std::count_if(records.begin(), records.end(),
                                              [](const DumpRecord& r) { return r.verified; });
    const auto listed = [&](const std::string& name) {
      return std::find_if(run_.entries.begin(), run_.entries.end(),
                          [&](const StoreEntry& e) { return e.name == name; });
    };
    std::string chosen;
    if (!o_.file.empty()) {
      chosen = fs::path(o_.file).filename().string();
      if (!catalog_.manifests.contains(chosen)) {
        const auto entry = listed(chosen);
        if (entry == run_.entries.end()) {
          report_.fail(VerifyCode::could_not_run, "--file " + chosen + " is not in " +
                                                      run_.store.location().display() +
                                                      "; give a file name of that folder");
          return false;
        }
        return pick_any_dump(t, *entry);
      }
    } else {
      const auto newest = newest_dump(records);
      const auto other =
          newest_pattern_dump(run_.entries, run_.patterns, newest_by(o_), weighlink_names_);
      if (other && (!newest || other->record.created_at > newest->created_at)) {
        return pick_any_dump(t, *listed(other->record.name));
      }
      if (!newest) {
        std::string patterns;
        for (const auto& p : run_.patterns) patterns += (patterns.empty() ? "" : ", ") + p.text();
        report_.fail(VerifyCode::could_not_run,
                     "no backups in " + run_.store.location().display() +
                         ": no readable *.manifest.json and no file named like " + patterns +
                         "; run `weighlink-backend backup` first, or give --pattern or --file");
        return false;
      }
      chosen = newest->name;
    }
    const auto size_it = catalog_.sizes.find(chosen);
    auto& candidate = run_.candidate.emplace();
    candidate.manifest = catalog_.manifests[chosen];
    candidate.actual_size = size_it == catalog_.sizes.end() ? 0 : size_it->second;
    candidate.present = size_it != catalog_.sizes.end();
    const auto& m = candidate.manifest;
    report_.set("dump", json::string(m.dump));
    report_.set("dump_created_at", json::string(m.created_at_text));
    report_.set("dump_kind", "weighlink");
    report_.step("pick", true, seconds_since(t),
                 m.dump + " (manifest time " + m.created_at_text + ", " +
                     std::to_string(records.size()) + " dumps in the folder, " +
                     std::to_string(verified_count) + " verified)");
    return true;
  }

  // A pg_dump file without a manifest: its facts come from its name (or modification time),
  // its header and its sidecar; its history is the folder's files of the same pattern.
  bool pick_any_dump(Clock::time_point t, const StoreEntry& entry) {
    auto& candidate = run_.candidate.emplace(any_dump_candidate(run_, entry));
    const auto& m = candidate.manifest;
    const auto history = same_pattern_dumps(run_, candidate, weighlink_names_);
    const auto verified = std::count_if(history.begin(), history.end(),
                                        [](const DumpRecord& r) { return r.verified; });
    const bool by_name = candidate.pattern && newest_by(o_) == NewestBy::name;
    const std::string pattern =
        candidate.pattern ? run_.patterns[*candidate.pattern].text() : std::string("(none)");
    report_.set("dump", json::string(m.dump));
    report_.set("dump_created_at", json::string(m.created_at_text));
    report_.set("dump_kind", "pg_dump");
    report_.set("pattern", json::string(pattern));
    report_.step("pick", true, seconds_since(t),
                 m.dump + " (no manifest: any pg_dump; " +
                     (by_name ? "time in its name " : "modification time ") + m.created_at_text +
                     ", pattern " + pattern + ": " + std::to_string(history.size()) +
                     " dumps of it in the folder, " + std::to_string(verified) + " verified)");
    return true;
  }

  [[nodiscard]] const BackupManifest& manifest() const { return run_.candidate->manifest; }

  // Size guard, on the size the file has now (a cut-short upload is smaller than its manifest).
  bool guard_size() {
    const auto t = Clock::now();
    const auto& candidate = *run_.candidate;
    const auto& m = manifest();
    if (!candidate.present) {
      report_.step("size_guard", false, seconds_since(t), m.dump + " is missing");
      report_.fail(VerifyCode::not_a_dump, "the manifest names " + m.dump +
                                               " but there is no such file in " +
                                               run_.store.location().display() +
                                               "; the upload or the backup did not finish");
      return false;
    }
    const DumpRecord self{m.dump, m.created_at, candidate.actual_size, false};
    run_.size =
        size_guard(self,
                   candidate.has_manifest ? catalog_.records
                                          : same_pattern_dumps(run_, candidate, weighlink_names_),
                   run_.checks.min_bytes.value_or(o_.min_bytes), o_.median_factor);
    if (constexpr std::string_view kFlag = "(--min-bytes)";
        run_.checks.min_bytes && run_.size->detail.ends_with(kFlag)) {
      run_.size->detail.replace(run_.size->detail.size() - kFlag.size(), kFlag.size(),
                                "(min_bytes of --checks " + o_.checks + ")");
    }
    report_.set("size_bytes", candidate.actual_size);
    if (run_.size->kind != SizeVerdict::Kind::ok) {
      report_.step("size_guard", false, seconds_since(t), run_.size->detail);
      report_.fail(run_.size->kind == SizeVerdict::Kind::shrunk ? VerifyCode::size_shrunk
                                                                : VerifyCode::size_exceeded,
                   run_.size->detail);
      return false;
    }
    report_.step("size_guard", true, seconds_since(t), run_.size->detail);
    return true;
  }

  // The disposable cluster starts (initdb, pg_ctl) while the dump is fetched and checked; a dump
  // that fails those checks tears it down unused.
  void start_scratch() {
    scratch_started_ = Clock::now();
    scratch_ = std::async(std::launch::async, [this] { return target_.open(o_, scratch_error_); });
  }

  // Format: fetched (remote) or read in place (local), then walked to its last data block.
  bool fetch_and_walk() {
    auto t = Clock::now();
    const auto& m = manifest();
    const fs::path download_dir =
        o_.scratch_dir.empty() ? base::temp_folder() : fs::path(o_.scratch_dir);
    const fs::path download = download_dir / ("wl-verify-" + std::to_string(::getpid()) + ".dump");
    auto fetched = run_.store.fetch(m.dump, download);
    if (run_.store.location().remote()) download_.path = download;
    if (!fetched) {
      report_.step("fetch", false, seconds_since(t), fetched.error().message);
      report_.fail(fetched.error().code == OffsiteErrc::unreachable
                       ? VerifyCode::offsite_endpoint_down
                       : VerifyCode::could_not_run,
                   "cannot fetch " + m.dump + ": " + fetched.error().message);
      return false;
    }
    if (run_.store.location().remote()) report_.step("fetch", true, seconds_since(t), "downloaded");
    dump_path_ = *fetched;
    t = Clock::now();
    auto source = FileArchiveSource::open(dump_path_.string());
    if (!source) {
      report_.fail(VerifyCode::could_not_run, "cannot open " + dump_path_.string() + ": " +
                                                  source.error().message() +
                                                  "; check that this user may read it");
      return false;
    }
    inspection_ = inspect_dump(**source);
    json::object format{{"verdict", to_string(inspection_.verdict)},
                        {"toc_entries", inspection_.toc_entries},
                        {"data_blocks_walked", inspection_.data_blocks_walked},
                        {"dbname", inspection_.dbname},
                        {"server_version", inspection_.server_version},
                        {"pg_dump_version", inspection_.pg_dump_version},
                        {"created", inspection_.created}};
    if (inspection_.offset) format["offset"] = *inspection_.offset;
    if (inspection_.verdict == DumpVerdict::not_a_dump ||
        inspection_.verdict == DumpVerdict::truncated) {
      report_.step("format", false, seconds_since(t), inspection_.detail, format);
      report_.fail(inspection_.verdict == DumpVerdict::truncated ? VerifyCode::truncated
                                                                 : VerifyCode::not_a_dump,
                   inspection_.detail, format);
      return false;
    }
    if (inspection_.verdict == DumpVerdict::unreadable) {
      report_.step("format", false, seconds_since(t), inspection_.detail, format);
      report_.fail(VerifyCode::could_not_run, inspection_.detail, format);
      return false;
    }
    if (inspection_.verdict == DumpVerdict::custom_ok && run_.candidate->has_manifest) {
      for (const auto table : kRequiredTables) {
        if (std::find(inspection_.table_data.begin(), inspection_.table_data.end(), table) ==
            inspection_.table_data.end()) {
          const std::string detail =
              "a dump of database \"" + inspection_.dbname + "\" without weighlink's table " +
              std::string(table) + ": not a weighlink backup (a wrong file under a weighlink name)";
          report_.step("format", false, seconds_since(t), detail, format);
          report_.fail(VerifyCode::not_a_dump, detail, format);
          return false;
        }
      }
    }
    report_.step("format", true, seconds_since(t), inspection_.detail, format);
    return true;
  }

  bool checksum() {
    if (!run_.candidate->has_manifest) return check_sidecar(run_, *run_.candidate, dump_path_);
    const auto t = Clock::now();
    const auto& m = manifest();
    const auto sha = base::file_sha256(dump_path_);
    if (sha && *sha == m.sha256) {
      report_.step("checksum", true, seconds_since(t), "sha256 matches the manifest");
      return true;
    }
    const std::string detail =
        sha ? "sha256 of " + m.dump + " is " + *sha + " but its manifest says " + m.sha256 +
                  ": the file changed after the backup (corruption in storage or transfer)"
            : "cannot read " + dump_path_.string() +
                  " to hash it; check the disk and this user's rights";
    report_.step("checksum", false, seconds_since(t), detail);
    report_.fail(sha ? VerifyCode::checksum_mismatch : VerifyCode::could_not_run, detail,
                 {{"expected", m.sha256}, {"actual", sha.value_or("")}});
    return false;
  }

  // The restore, into the disposable cluster: psql for a plain dump, pg_restore section by
  // section for a custom one.
  bool restore() {
    auto t = Clock::now();
    if (!scratch_.get()) {
      report_.step("scratch", false, seconds_since(t), scratch_error_);
      report_.fail(VerifyCode::could_not_run,
                   "cannot make the disposable cluster: " + scratch_error_);
      return false;
    }
    report_.step("scratch", true, seconds_since(t),
                 "disposable PostgreSQL ready " + std::to_string(seconds_since(scratch_started_)) +
                     " s after it was started, alongside the checks above");
    int cluster_major = 0;
    if (!prepare_restore_target(run_, target_.dsn(), inspection_, cluster_major)) return false;
    // A missing extension is said as what to install, not as pg_restore's log.
    const auto restore_error = [&](const std::string& errors) {
      return explain_missing_extension(errors, cluster_major);
    };
    t = Clock::now();
    if (inspection_.verdict == DumpVerdict::plain_ok) {
      const auto tool_dsn = pg::dsn_for_tool(target_.dsn());
      const auto r = run_program({target_.tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                                  "--dbname=" + tool_dsn.dsn, "-f", dump_path_.string()},
                                 tool_dsn.environment);
      if (r.status != 0) {
        const auto failing = condense_errors(r.errors);
        report_.step("restore", false, seconds_since(t), failing);
        report_.fail(
            VerifyCode::restore_failed,
            restore_error(r.errors).value_or("psql could not restore the plain dump: " + failing));
        return false;
      }
      report_.step("restore", true, seconds_since(t), "plain SQL dump restored with psql");
      return true;
    }
    const auto sections =
        restore_sections(target_.tool("pg_restore"), dump_path_, target_.dsn(), o_.jobs);
    for (const auto& timing : sections.timings) {
      report_.step("restore_" + timing.section, true, timing.seconds, timing.section + " restored");
    }
    if (!sections.ok()) {
      double done = 0;
      for (const auto& timing : sections.timings) done += timing.seconds;
      report_.step("restore_" + sections.failed_section, false, seconds_since(t) - done,
                   sections.errors);
      report_.fail(
          VerifyCode::restore_failed,
          restore_error(sections.errors)
              .value_or("pg_restore failed in " + sections.failed_section + ": " + sections.errors),
          {{"section", sections.failed_section}, {"pg_restore_exit", sections.status}});
      return false;
    }
    return true;
  }

  // VACUUM ANALYZE, a table per connection with --jobs of them (vacuumdb).
  bool vacuum_analyze() {
    const auto t = Clock::now();
    const auto tool_dsn = pg::dsn_for_tool(target_.dsn());
    const auto vacuumed =
        run_program({target_.tool("vacuumdb"), "--analyze", "--jobs=" + std::to_string(o_.jobs),
                     "--quiet", "--dbname=" + tool_dsn.dsn},
                    tool_dsn.environment);
    if (vacuumed.status != 0) {
      const auto why = condense_errors(vacuumed.errors);
      report_.step("vacuum_analyze", false, seconds_since(t), why);
      report_.fail(VerifyCode::restore_failed, "VACUUM ANALYZE of the restore failed: " + why);
      return false;
    }
    report_.step("vacuum_analyze", true, seconds_since(t), "vacuumed, statistics rebuilt");
    return true;
  }

  bool connect() {
    restored_.emplace(target_.dsn(), pg::PgConnection::Session::maintenance);
    if (restored_->ensure_connected()) return true;
    report_.fail(VerifyCode::could_not_run,
                 "cannot connect to the restored database: " + restored_->last_error() +
                     "; the disposable cluster's log: " + target_.log_tail());
    return false;
  }

  // The evidence files (images) records list: before the row counts, so that a restore that
  // brought the rows back without their images says so by its own code. The manifest's count and
  // checksum of complete blobs against the restore's, then every applied record's attachments
  // held whole and hashing to their names (or reported lost by the station).
  bool evidence() {
    auto& restored = *restored_;
    const auto t = Clock::now();
    const auto& m = manifest();
    const bool expected = run_.candidate->has_manifest && m.evidence_blobs.has_value();
    auto has = restored.exec("SELECT to_regclass('public.evidence_blobs') IS NOT NULL");
    if (!has || has->get(0, 0) != "t") {
      if (expected && *m.evidence_blobs > 0) {
        return evidence_failed(t,
                               "the manifest lists " + std::to_string(*m.evidence_blobs) +
                                   " evidence files and the restore has no evidence_blobs "
                                   "table",
                               {});
      }
      return true;  // a database from before schema v6, or not weighlink's
    }
    auto summary = restored.exec(std::string(pg::kEvidenceSummarySql));
    auto listed = restored.exec(std::string(pg::kAttachmentsSelectSql));
    if (!summary || !listed) {
      report_.step("evidence", false, seconds_since(t), restored.last_error());
      report_.fail(VerifyCode::could_not_run,
                   "cannot read the restored evidence files: " + restored.last_error());
      return false;
    }
    const auto count = std::stoll(std::string(summary->get(0, 0)));
    const std::string checksum(summary->get(0, 1));
    json::object figures{{"count", count}, {"checksum", checksum}};
    report_.set("evidence_blobs", figures);
    if (expected && (count != *m.evidence_blobs || checksum != m.evidence_checksum)) {
      return evidence_failed(
          t,
          "the restore holds " + std::to_string(count) + " complete evidence files (checksum " +
              checksum.substr(0, 12) + "...), the manifest " + std::to_string(*m.evidence_blobs) +
              " (" + m.evidence_checksum.substr(0, 12) + "...)",
          {{"restored", figures},
           {"manifest", {{"count", *m.evidence_blobs}, {"checksum", m.evidence_checksum}}}});
    }
    json::array bad;
    std::string first;
    int lost = 0;
    for (int i = 0; i < listed->rows(); ++i) {
      const auto a = pg::attachment_row(*listed, i);
      if (a.state == "lost") ++lost;
      if (a.ok()) continue;
      if (first.empty()) {
        first = "record seq " + std::to_string(a.seq) + " of station " + a.station_id +
                " lists evidence file " + a.sha256 + ": " + a.state + " (" + a.detail + ")";
      }
      if (bad.size() < 10) {
        bad.push_back({{"station_id", a.station_id},
                       {"seq", a.seq},
                       {"sha256", a.sha256},
                       {"state", a.state},
                       {"detail", a.detail}});
      }
    }
    if (!first.empty()) return evidence_failed(t, first, {{"attachments", bad}});
    report_.step("evidence", true, seconds_since(t),
                 std::to_string(count) + " evidence files; " + std::to_string(listed->rows()) +
                     " attachments of records present (" + std::to_string(lost) +
                     " reported lost by their stations)");
    return true;
  }

  bool evidence_failed(Clock::time_point t, const std::string& detail, json::object evidence) {
    report_.step("evidence", false, seconds_since(t), detail);
    report_.fail(VerifyCode::evidence_missing, detail, std::move(evidence));
    return false;
  }

  // Row counts: exactly the manifest's, and no table shrunk since the last verified dump. Then
  // what the restored database holds for durable_seq (its high waters and generation).
  bool row_counts() {
    auto& restored = *restored_;
    if (!run_.candidate->has_manifest) {
      run_.candidate->weighlink_database = is_weighlink_database(restored);
      return any_dump_row_counts(run_, restored, weighlink_names_);
    }
    const auto t = Clock::now();
    const auto& m = manifest();
    const auto counted = count_restored(report_, restored, count_public_tables);
    if (!counted) return false;
    const RowCounts& counts = *counted;
    auto drift = restored_vs_manifest(m.row_counts, counts);
    std::string baseline = "the manifest";
    if (drift.empty()) {
      if (auto previous = previous_verified(catalog_.records, m.created_at)) {
        baseline = "the manifest and the previous verified dump " + previous->name;
        drift = drift_vs_previous(catalog_.manifests[previous->name].row_counts, m.row_counts,
                                  o_.row_tolerance);
      } else {
        report_.note("no earlier verified dump: row counts checked against the manifest only");
      }
    }
    if (!drift.empty()) {
      json::array tables;
      for (const auto& d : drift) {
        tables.push_back({{"table", d.table}, {"expected", d.expected}, {"actual", d.actual}});
      }
      report_.step("row_counts", false, seconds_since(t), drift.front().detail);
      report_.fail(VerifyCode::rowcount_drift, drift.front().detail, {{"tables", tables}});
      return false;
    }
    auto& candidate = *run_.candidate;
    if (auto stations = restored.exec("SELECT id, high_water_seq FROM stations")) {
      for (int i = 0; i < stations->rows(); ++i) {
        candidate.restored_high_water[std::string(stations->get(i, 0))] =
            std::stoll(std::string(stations->get(i, 1)));
      }
    }
    if (auto g = restored.exec("SELECT value FROM backend_meta WHERE key = 'generation'");
        g && g->rows() == 1) {
      candidate.restored_generation = std::string(g->get(0, 0));
    }
    report_.step("row_counts", true, seconds_since(t),
                 std::to_string(counts.size()) + " tables, counts within " + baseline);
    return true;
  }

  // The orphan sweep. The allowlist's `where` is the operator's SQL: in our own cluster it runs
  // as a role that can only read tables (pg_read_all_data: no server files, no large object
  // export), in a read-only transaction.
  bool orphan_sweep() {
    const auto t = Clock::now();
    auto& restored = *restored_;
    if (o_.scratch_dsn.empty() &&
        (!restored.exec("CREATE ROLE weighlink_sweep NOLOGIN IN ROLE pg_read_all_data") ||
         !restored.exec("SET ROLE weighlink_sweep"))) {
      report_.step("orphan_sweep", false, seconds_since(t), restored.last_error());
      report_.fail(VerifyCode::could_not_run,
                   "cannot set up the orphan sweep's read-only role: " + restored.last_error());
      return false;
    }
    (void)restored.exec("SET default_transaction_read_only = on");
    json::array orphans;
    std::optional<std::string> surge;
    // weighlink's own relations only in a weighlink database.
    std::vector<SoftForeignKey> keys;
    const auto builtin = builtin_soft_foreign_keys();
    for (const auto& key : run_.soft_keys) {
      const bool own = std::any_of(builtin.begin(), builtin.end(),
                                   [&](const SoftForeignKey& b) { return b.name == key.name; });
      if (!own || run_.candidate->weighlink_database) keys.push_back(key);
    }
    for (const auto& key : keys) {
      auto n = restored.exec(orphan_count_sql(key));
      if (!n) {
        // The dump restored and counted fine: a relation that does not fit it is the
        // allowlist's mistake, not the dump's.
        report_.step("orphan_sweep", false, seconds_since(t), restored.last_error());
        report_.fail(VerifyCode::could_not_run,
                     "the orphan sweep of " + key.name + " failed: " + restored.last_error() +
                         "; check that relation in --soft-fk-allowlist (its tables, columns and "
                         "where)");
        return false;
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
    report_.set("orphans", orphans);
    if (surge) {
      report_.step("orphan_sweep", false, seconds_since(t), *surge);
      report_.fail(VerifyCode::orphan_fk_surge, *surge, {{"relations", orphans}});
      return false;
    }
    report_.step("orphan_sweep", true, seconds_since(t),
                 std::to_string(keys.size()) + " soft foreign keys within their allowlist");
    return true;
  }

  // A downloaded copy of a remote dump is removed when the checks end.
  struct RemoveDownload {
    fs::path path;
    RemoveDownload() = default;
    RemoveDownload(const RemoveDownload&) = delete;
    RemoveDownload& operator=(const RemoveDownload&) = delete;
    ~RemoveDownload() {
      std::error_code ec;
      if (!path.empty()) fs::remove(path, ec);
    }
  };

  Run& run_;
  const VerifyOptions& o_;
  Report& report_;
  Catalog catalog_;
  std::set<std::string> weighlink_names_;
  // Declared before scratch_ so that it outlives the cluster start running on another thread.
  ScratchTarget target_{run_.console.err};
  std::string scratch_error_;
  Clock::time_point scratch_started_;
  std::future<bool> scratch_;
  RemoveDownload download_;
  fs::path dump_path_;
  DumpInspection inspection_;
  std::optional<pg::PgConnection> restored_;
};

}  // namespace

void run_checks(Run& run) { Checks(run).run(); }

}  // namespace weighlink::recovery::verify
