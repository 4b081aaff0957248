// verify-backup for any pg_dump file (no weighlink manifest): the candidate and its history from
// the file-name pattern, the NAME.sha256 sidecar, what the disposable cluster needs (its major,
// the extensions), and row counts against the previous verified dump of the same pattern.
#include <algorithm>

#include "verify_internal.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/recovery/restore_environment.hpp"

namespace weighlink::recovery::verify {

Candidate any_dump_candidate(const Run& run, const StoreEntry& entry) {
  Candidate c;
  c.has_manifest = false;
  c.weighlink_database = false;
  c.present = true;
  c.actual_size = entry.size;
  c.pattern = pattern_of(entry.name, run.patterns);
  const auto name_time = c.pattern ? run.patterns[*c.pattern].match(entry.name) : std::nullopt;
  const auto mod_time =
      std::chrono::duration_cast<std::chrono::seconds>(entry.mod_time.time_since_epoch()).count();
  auto& m = c.manifest;
  m.dump = entry.name;
  m.size_bytes = entry.size;
  m.created_at = newest_by(run.options) == NewestBy::name && name_time ? *name_time : mod_time;
  m.created_at_text = format_utc_timestamp(m.created_at);
  return c;
}

std::vector<DumpRecord> same_pattern_dumps(const Run& run, const Candidate& c,
                                           const std::set<std::string>& skip) {
  if (!c.pattern) {
    return {{c.manifest.dump, c.manifest.created_at, c.actual_size, false}};
  }
  return pattern_dumps(run.entries, run.patterns[*c.pattern], newest_by(run.options), skip);
}

bool check_sidecar(Run& run, Candidate& c, const fs::path& dump) {
  const auto t = Clock::now();
  auto& report = run.report;
  const auto& name = c.manifest.dump;
  const auto sha = base::file_sha256(dump);
  if (!sha) {
    const std::string detail =
        "cannot read " + dump.string() + " to hash it; check the disk and this user's rights";
    report.step("checksum", false, seconds_since(t), detail);
    report.fail(VerifyCode::could_not_run, detail);
    return false;
  }
  c.manifest.sha256 = *sha;
  const auto sidecar = sidecar_name(name);
  const bool listed = std::any_of(run.entries.begin(), run.entries.end(),
                                  [&](const StoreEntry& e) { return e.name == sidecar; });
  if (!listed) {
    report.step("checksum", true, seconds_since(t),
                "skipped: no " + sidecar + " beside the dump (sha256 " + *sha + " recorded)");
    return true;
  }
  auto text = run.store.read_small(sidecar);
  if (!text) {
    const std::string detail = "cannot read " + sidecar + ": " + text.error().message;
    report.step("checksum", false, seconds_since(t), detail);
    report.fail(VerifyCode::could_not_run, detail);
    return false;
  }
  auto expected = parse_sha256_sidecar(*text, name);
  if (expected && *expected == *sha) {
    report.step("checksum", true, seconds_since(t), "sha256 matches " + sidecar);
    return true;
  }
  const std::string detail =
      expected ? "sha256 of " + name + " is " + *sha + " but " + sidecar + " says " + *expected +
                     ": the file changed after the backup (corruption in storage or transfer)"
               : expected.error().message + ": the dump cannot be checked against it";
  report.step("checksum", false, seconds_since(t), detail);
  report.fail(VerifyCode::checksum_mismatch, detail,
              {{"expected", expected ? *expected : std::string()}, {"actual", *sha}});
  return false;
}

bool prepare_restore_target(Run& run, const std::string& dsn, const DumpInspection& dump,
                            int& cluster_major) {
  const auto t = Clock::now();
  auto& report = run.report;
  const auto fail = [&](VerifyCode code, const std::string& detail, json::object evidence = {}) {
    report.step("restore_target", false, seconds_since(t), detail);
    report.fail(code, detail, std::move(evidence));
    return false;
  };
  pg::PgConnection db(dsn);
  if (!db.ensure_connected()) {
    return fail(VerifyCode::could_not_run,
                "cannot connect to the disposable database: " + db.last_error());
  }
  auto version = db.exec("SHOW server_version_num");
  if (!version || version->rows() != 1) {
    return fail(VerifyCode::could_not_run,
                "cannot ask the disposable database its version: " + db.last_error());
  }
  cluster_major = std::stoi(std::string(version->get(0, 0))) / 10000;
  // pg_restore reads no archive of a newer pg_dump, and a newer server's SQL may not restore.
  const auto server = postgres_major(dump.server_version);
  const auto tool = postgres_major(dump.pg_dump_version);
  const int dump_major = std::max(server.value_or(0), tool.value_or(0));
  if (dump_major > cluster_major) {
    return fail(VerifyCode::could_not_run,
                "the dump is from PostgreSQL " + dump.server_version + " (pg_dump " +
                    dump.pg_dump_version + ") but the disposable cluster is PostgreSQL " +
                    std::to_string(cluster_major) +
                    ", an older major that cannot restore it: "
                    "install postgresql-" +
                    std::to_string(dump_major) + " and pass --pg-bindir /usr/lib/postgresql/" +
                    std::to_string(dump_major) + "/bin",
                {{"dump_major", dump_major}, {"cluster_major", cluster_major}});
  }
  const auto& wanted = run.checks.extensions;
  if (wanted.empty() && dump.extensions.empty()) return true;
  std::set<std::string> available;
  if (auto names = db.exec("SELECT name FROM pg_available_extensions")) {
    for (int i = 0; i < names->rows(); ++i) available.emplace(names->get(i, 0));
  }
  const auto lacks = [&](const std::string& extension, const std::string& why) {
    return fail(VerifyCode::restore_failed,
                why + " extension " + extension + ", which the disposable PostgreSQL " +
                    std::to_string(cluster_major) +
                    " lacks: " + extension_install_hint(extension, cluster_major),
                {{"extension", extension}});
  };
  for (const auto& extension : wanted) {
    if (!available.contains(extension)) return lacks(extension, "--checks expects");
    if (!db.exec("CREATE EXTENSION IF NOT EXISTS \"" + extension + "\" CASCADE")) {
      return fail(VerifyCode::restore_failed, "cannot create extension " + extension +
                                                  " before the restore: " + db.last_error());
    }
  }
  for (const auto& extension : dump.extensions) {
    if (!available.contains(extension)) return lacks(extension, "the dump needs");
  }
  std::string created;
  for (const auto& e : wanted) created += (created.empty() ? "" : ", ") + e;
  report.step("restore_target", true, seconds_since(t),
              "PostgreSQL " + std::to_string(cluster_major) + " has every extension the dump " +
                  "names" + (created.empty() ? std::string() : "; created " + created));
  return true;
}

std::optional<std::string> explain_missing_extension(std::string_view errors, int cluster_major) {
  const auto extension = missing_extension(errors);
  if (!extension) return std::nullopt;
  return "the dump needs extension " + *extension + ", which the disposable PostgreSQL " +
         std::to_string(cluster_major) +
         " lacks: " + extension_install_hint(*extension, cluster_major);
}

bool any_dump_row_counts(Run& run, pg::PgConnection& restored, const std::set<std::string>& skip) {
  const auto t = Clock::now();
  auto& report = run.report;
  const auto& c = *run.candidate;
  auto counted = count_restored(report, restored, count_user_tables);
  if (!counted) return false;
  const RowCounts& counts = *counted;
  const auto& tables = run.checks.row_count_tables;
  const auto keep = [&](RowCounts all) {
    if (tables.empty()) return all;
    RowCounts some;
    for (const auto& table : tables) {
      if (auto it = all.find(table); it != all.end()) some.insert(*it);
    }
    return some;
  };
  for (const auto& table : tables) {
    if (!counts.contains(table)) report.note("--checks names table " + table + ": not in the dump");
  }
  const auto previous = previous_verified(same_pattern_dumps(run, c, skip), c.manifest.created_at);
  if (!previous) {
    report.note("no earlier verified dump of this pattern: row counts recorded, not compared");
    report.step("row_counts", true, seconds_since(t),
                std::to_string(counts.size()) + " tables counted (the baseline of the next run)");
    return true;
  }
  RowCounts before;
  const auto record = verified_name(previous->name);
  auto text = run.store.read_small(record);
  boost::system::error_code ec;
  const auto value = text ? json::parse(*text, ec) : json::value();
  const auto* saved = value.is_object() ? value.get_object().if_contains("row_counts") : nullptr;
  if (saved == nullptr || !saved->is_object()) {
    report.note("the previous verified dump's record " + record +
                " holds no row counts: nothing to compare with");
  } else {
    for (const auto& [table, n] : saved->get_object()) {
      if (n.is_int64()) before[std::string(table)] = n.get_int64();
    }
  }
  const double tolerance = run.checks.row_tolerance.value_or(run.options.row_tolerance);
  auto drift = drift_vs_previous(keep(before), keep(counts), tolerance);
  if (!drift.empty()) {
    json::array list;
    for (const auto& d : drift) {
      list.push_back({{"table", d.table}, {"expected", d.expected}, {"actual", d.actual}});
    }
    report.step("row_counts", false, seconds_since(t), drift.front().detail);
    report.fail(VerifyCode::rowcount_drift, drift.front().detail,
                {{"tables", list}, {"baseline", previous->name}});
    return false;
  }
  report.step("row_counts", true, seconds_since(t),
              std::to_string(counts.size()) + " tables, " +
                  (tables.empty() ? std::string("none") : "none of the configured") +
                  " shrunk beyond tolerance since the previous verified dump " + previous->name);
  return true;
}

std::optional<RowCounts> count_restored(Report& report, pg::PgConnection& restored,
                                        const Counter& count) {
  const auto t = Clock::now();
  auto counted = count(restored);
  if (!counted) {
    const auto& error = counted.error().message;
    report.step("row_counts", false, seconds_since(t), error);
    report.fail(VerifyCode::restore_failed, "cannot count the restored rows: " + error);
    return std::nullopt;
  }
  json::object counts_json;
  for (const auto& [table, n] : *counted) counts_json[table] = n;
  report.set("row_counts", counts_json);
  return std::move(*counted);
}

bool is_weighlink_database(pg::PgConnection& restored) {
  for (const auto table : kRequiredTables) {
    auto found = restored.exec("SELECT to_regclass($1) IS NOT NULL", {std::string(table)});
    if (!found || found->rows() != 1 || found->get(0, 0) != "t") return false;
  }
  return true;
}

}  // namespace weighlink::recovery::verify
