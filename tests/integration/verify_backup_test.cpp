// weighlink-backend verify-backup against real dumps of a real weighlink database: the corruption
// catalogue (each bad dump caught with its code and never promoted), a clean dump that passes and
// is promoted, the report, the Prometheus textfile, durable_seq moving up after a pass, and the
// notification that never changes the verdict.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>
#include <tuple>

#include "weighlink/base/hash.hpp"
#include "weighlink/base/timestamp.hpp"
#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/backup_data.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::testing::backdate_backup;
using weighlink::testing::bin;
using weighlink::testing::last_line;
using weighlink::testing::PgCluster;
using weighlink::testing::read_json;
using weighlink::testing::run;
using weighlink::testing::seed_captures;
using weighlink::testing::TempDir;
using weighlink::testing::verify_backup;
using weighlink::testing::write_text;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin/";

// `weighlink-backend backup` into `dir`; the manifest's path.
fs::path backup(const PgCluster& pg, const fs::path& dir) {
  return weighlink::testing::backup_manifest(pg.dsn(), dir);
}

void write_json(const fs::path& file, const json::object& o) {
  write_text(file, json::serialize(o) + "\n");
}

// A backup folder holding one dump (`bytes`) under the good dump's name, with the good manifest
// (optionally told the new file's size and sha256, as a backup of that file would have written).
fs::path folder_with(const TempDir& root, const std::string& name, const fs::path& good_manifest,
                     const std::string& bytes, bool manifest_matches_file) {
  auto dir = root / name;
  fs::create_directories(dir);
  auto manifest = read_json(good_manifest);
  const std::string dump(manifest.at("dump").as_string());
  write_text(dir / dump, bytes);
  if (manifest_matches_file) {
    manifest["size_bytes"] = static_cast<std::int64_t>(bytes.size());
    manifest["sha256"] = weighlink::base::sha256_hex(bytes);
  }
  write_json(dir / good_manifest.filename(), manifest);
  return dir;
}

// Manifests of earlier dumps (no files needed: the size guard reads their manifest sizes).
void add_history(const fs::path& dir, const fs::path& good_manifest, std::uint64_t size, int days) {
  auto manifest = read_json(good_manifest);
  const std::string created(manifest.at("created_at").as_string());
  for (int d = 1; d <= days; ++d) {
    // created_at d days earlier: same clock time, earlier day.
    const auto t = weighlink::base::parse_utc_timestamp(created).value() - std::int64_t{d} * 86400;
    const std::string iso = weighlink::base::format_utc_timestamp(t);
    const std::string base = "weighlink_" + weighlink::base::format_utc_file_stamp(t);
    auto old = manifest;
    old["dump"] = base + ".dump";
    old["created_at"] = iso;
    old["size_bytes"] = static_cast<std::int64_t>(size);
    write_json(dir / (base + ".manifest.json"), old);
  }
}

void check_not_promoted(const fs::path& dir) {
  CHECK_FALSE(fs::exists(dir / "verified-latest"));
  for (const auto& e : fs::directory_iterator(dir)) {
    CHECK_FALSE(e.path().string().ends_with(".verified.json"));
  }
}

}  // namespace

TEST_CASE("verify-backup: a clean dump passes, is promoted and moves durable_seq up") {
  PgCluster pg;
  seed_captures(pg, 400);
  TempDir root("wl-verify");
  const auto dir = root / "backups";
  const auto manifest = backup(pg, dir);
  (void)pg.query_scalar(
      "UPDATE stations SET high_water_seq = high_water_seq + 5");  // live moved on

  // Its own scratch folder, so that the check below sees only this run's cluster.
  const weighlink::testing::ScratchDir scratch_dir;
  const auto& scratch = scratch_dir.path();
  const auto scratch_dirs = [&] {
    std::set<std::string> dirs;
    for (const auto& e : fs::directory_iterator(scratch)) dirs.insert(e.path().string());
    return dirs;
  };
  const auto scratch_before = scratch_dirs();
  const auto textfile = root / "weighlink_backup.prom";
  const auto v = verify_backup(
      dir, {"--dsn", pg.dsn(), "--textfile", textfile.string(), "--scratch-dir", scratch.string()});
  INFO(v.output);
  REQUIRE(v.exit_code == 0);
  CHECK(v.code() == "OK");
  CHECK(v.report.at("verdict").as_string() == "pass");
  const std::string dump(read_json(manifest).at("dump").as_string());
  CHECK(v.report.at("dump").as_string() == dump);
  // Every step, in order.
  std::vector<std::string> steps;
  for (const auto& s : v.report.at("steps").as_array()) {
    steps.emplace_back(s.as_object().at("step").as_string());
    CHECK(s.as_object().at("ok").as_bool());
  }
  CHECK(steps == std::vector<std::string>{"locate", "pick", "size_guard", "format", "checksum",
                                          "scratch", "restore_pre-data", "restore_data",
                                          "restore_post-data", "vacuum_analyze", "evidence",
                                          "row_counts", "orphan_sweep", "promote"});
  CHECK(v.report.at("row_counts").as_object().at("weighings").as_int64() == 1200);

  // Promoted: the pointer and the dump's verification record.
  const auto pointer = read_json(dir / "verified-latest");
  CHECK(pointer.at("dump").as_string() == dump);
  CHECK(pointer.at("sha256").as_string() == read_json(manifest).at("sha256").as_string());
  CHECK(fs::exists(dir / (dump.substr(0, dump.size() - 5) + ".verified.json")));

  // durable_seq: what the dump holds (400), not the live high water (405).
  CHECK(pg.query_scalar("SELECT string_agg(durable_seq::text, ',' ORDER BY id) FROM stations") ==
        "400,400,400");
  CHECK(v.report.at("durable_seq").as_object().at("stations").as_int64() == 3);

  // node_exporter runs as another user: the textfile is readable by all.
  CHECK((fs::status(textfile).permissions() & fs::perms::others_read) != fs::perms::none);
  const auto metrics = weighlink::testing::read_file(textfile);
  CHECK(metrics.find("weighlink_backup_verify_success 1\n") != std::string::npos);
  CHECK(metrics.find("weighlink_backup_verify_result{code=\"OK\"} 1\n") != std::string::npos);
  CHECK(metrics.find("weighlink_backup_verify_result{code=\"TRUNCATED\"} 0\n") !=
        std::string::npos);
  CHECK(metrics.find("weighlink_backup_verified_dump_created_timestamp_seconds ") !=
        std::string::npos);
  CHECK(metrics.find("weighlink_backup_verify_step_seconds{step=\"restore_data\"} ") !=
        std::string::npos);

  // The disposable cluster is gone with its directory.
  CHECK(scratch_dirs() == scratch_before);

  // --scratch-dsn: restored into a new database on that server instead, dropped afterwards.
  const auto on_server =
      verify_backup(dir, {"--scratch-dsn", pg.dsn("postgres"), "--scratch-dir", scratch.string()});
  INFO(on_server.output);
  CHECK(on_server.exit_code == 0);
  CHECK(pg.query_scalar("SELECT count(*) FROM pg_database WHERE datname LIKE 'weighlink_verify_%'",
                        "postgres") == "0");
  CHECK(scratch_dirs() == scratch_before);

  // After a restore (a new generation), a dump of the old generation no longer moves durable_seq:
  // its mutations may be missing from the database, so the agents must keep them.
  (void)pg.query_scalar("UPDATE stations SET durable_seq = 0, high_water_seq = 1000");
  (void)pg.query_scalar(
      "UPDATE backend_meta SET value = gen_random_uuid()::text WHERE key = 'generation'");
  const auto other_generation = verify_backup(dir, {"--dsn", pg.dsn()});
  CHECK(other_generation.exit_code == 0);
  CHECK(other_generation.report.at("durable_seq").as_object().at("moved").as_bool() == false);
  CHECK(pg.query_scalar("SELECT max(durable_seq) FROM stations") == "0");
}

TEST_CASE("verify-backup: the corruption catalogue is caught with its code and never promoted") {
  PgCluster pg;
  seed_captures(pg, 300);
  TempDir root("wl-verify");
  const auto manifest = backup(pg, root / "good");
  const std::string dump(read_json(manifest).at("dump").as_string());
  const std::string good = weighlink::testing::read_file(root / "good" / dump);
  REQUIRE(good.size() > 8000);

  struct Case {
    std::string name;
    std::string bytes;
    bool manifest_matches;
    std::vector<std::string> args;
    std::string code;
  };
  std::vector<Case> cases;
  // Truncated inside the header and table of contents, and inside the data.
  for (const std::size_t at : {std::size_t{40}, std::size_t{400}, std::size_t{2000}}) {
    cases.push_back({"cut-toc-" + std::to_string(at),
                     good.substr(0, at),
                     false,
                     {"--min-bytes", "1"},
                     "TRUNCATED"});
  }
  for (const std::size_t at : {good.size() / 2, good.size() * 9 / 10, good.size() - 1}) {
    cases.push_back({"cut-data-" + std::to_string(at),
                     good.substr(0, at),
                     false,
                     {"--min-bytes", "1"},
                     "TRUNCATED"});
  }
  // The cut-short copy's own manifest (a backup that wrote what it had): the walk still finds it.
  cases.push_back({"cut-with-manifest",
                   good.substr(0, good.size() * 3 / 4),
                   true,
                   {"--min-bytes", "1"},
                   "TRUNCATED"});
  const std::string html =
      "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad "
      "Gateway</h1>" +
      std::string(6000, ' ') + "</body></html>\n";
  cases.push_back({"html", html, true, {}, "NOT_A_DUMP"});
  cases.push_back({"empty", "", true, {}, "SIZE_SHRUNK"});
  cases.push_back({"empty-no-floor", "", true, {"--min-bytes", "0"}, "NOT_A_DUMP"});
  // A single changed byte in the data: the structure holds, the checksum does not.
  std::string flipped = good;
  flipped[good.size() - 40] = static_cast<char>(flipped[good.size() - 40] ^ 0x01);
  cases.push_back({"flipped-byte", flipped, false, {}, "CHECKSUM_MISMATCH"});

  // Plain dumps: gzipped (not a dump), without its footer (truncated).
  const auto plain = run({std::string(kPgBin) + "pg_dump", "--format=plain", "--dbname=" + pg.dsn(),
                          "--file=" + (root / "plain.sql").string()});
  REQUIRE(plain.exit_code == 0);
  const std::string plain_sql = weighlink::testing::read_file(root / "plain.sql");
  REQUIRE(run({"/bin/sh", "-c",
               "gzip -n -c " + (root / "plain.sql").string() + " > " +
                   (root / "plain.sql.gz").string()})
              .exit_code == 0);
  cases.push_back(
      {"gzip-plain", weighlink::testing::read_file(root / "plain.sql.gz"), true, {}, "NOT_A_DUMP"});
  cases.push_back(
      {"plain-no-footer", plain_sql.substr(0, plain_sql.size() - 200), true, {}, "TRUNCATED"});

  // A custom dump of another database under a weighlink name, with a manifest that matches it.
  (void)pg.query_scalar("CREATE DATABASE other");
  (void)pg.query_scalar("CREATE TABLE invoices (id int PRIMARY KEY, total numeric)", "other");
  (void)pg.query_scalar("INSERT INTO invoices SELECT g, g * 1.5 FROM generate_series(1, 3000) g",
                        "other");
  REQUIRE(run({std::string(kPgBin) + "pg_dump", "--format=custom", "--dbname=" + pg.dsn("other"),
               "--file=" + (root / "other.dump").string()})
              .exit_code == 0);
  cases.push_back({"other-database",
                   weighlink::testing::read_file(root / "other.dump"),
                   true,
                   {},
                   "NOT_A_DUMP"});

  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto dir = folder_with(root, c.name, manifest, c.bytes, c.manifest_matches);
    const auto v = verify_backup(dir, c.args);
    INFO(v.output);
    CHECK(v.exit_code == 3);
    CHECK(v.code() == c.code);
    CHECK(v.report.at("verdict").as_string() == "fail");
    CHECK_FALSE(std::string(v.report.at("detail").as_string()).empty());
    check_not_promoted(dir);
  }

  // Size against the trailing 7-day median: three times it, and a third of it.
  for (const auto& [name, median, code] : {std::tuple{"tripled", good.size() / 3, "SIZE_EXCEEDED"},
                                           std::tuple{"third", good.size() * 3, "SIZE_SHRUNK"}}) {
    const std::string case_name = name;  // doctest's CAPTURE cannot take a structured binding
    CAPTURE(case_name);
    const auto dir = folder_with(root, name, manifest, good, false);
    add_history(dir, manifest, median, 5);
    const auto v = verify_backup(dir);
    INFO(v.output);
    CHECK(v.exit_code == 3);
    CHECK(v.code() == code);
    CHECK(std::string(v.report.at("detail").as_string()).find("median") != std::string::npos);
    check_not_promoted(dir);
  }
  // Within the band (the same size every night): passes.
  const auto steady = folder_with(root, "steady", manifest, good, false);
  add_history(steady, manifest, good.size(), 5);
  CHECK(verify_backup(steady).exit_code == 0);

  // The complete plain dump of the same state passes, restored with psql.
  const auto plain_dir = folder_with(root, "plain-complete", manifest, plain_sql, true);
  const auto plain_verdict = verify_backup(plain_dir);
  INFO(plain_verdict.output);
  CHECK(plain_verdict.exit_code == 0);

  // A plain dump that fails to restore: RESTORE_FAILED with the failing statement.
  std::string broken = plain_sql;
  broken.insert(broken.find("CREATE TABLE"), "SELECT no_such_function_in_weighlink();\n");
  const auto broken_dir = folder_with(root, "restore-fails", manifest, broken, true);
  const auto failed = verify_backup(broken_dir);
  CHECK(failed.exit_code == 3);
  CHECK(failed.code() == "RESTORE_FAILED");
  CHECK(std::string(failed.report.at("detail").as_string()).find("no_such_function_in_weighlink") !=
        std::string::npos);
  check_not_promoted(broken_dir);

  // A manifest whose counts are not what the dump holds: the restore must equal it exactly.
  const auto lying = folder_with(root, "manifest-count", manifest, good, false);
  auto m = read_json(lying / manifest.filename());
  m["row_counts"].as_object()["weighings"] = 901;
  write_json(lying / manifest.filename(), m);
  const auto lie = verify_backup(lying);
  CHECK(lie.exit_code == 3);
  CHECK(lie.code() == "ROWCOUNT_DRIFT");
  CHECK(std::string(lie.report.at("detail").as_string()).find("weighings") != std::string::npos);

  // Nothing in the folder: it could not run (exit 1), which is not a verdict.
  fs::create_directories(root / "nothing");
  const auto none = verify_backup(root / "nothing");
  CHECK(none.exit_code == 1);
  CHECK(none.output.find("no backups") != std::string::npos);
  // A folder that does not exist: could not run, and not an offsite endpoint being down.
  const auto missing = verify_backup(root / "no-such-folder");
  CHECK(missing.exit_code == 1);
  CHECK(missing.code() == "COULD_NOT_RUN");
}

TEST_CASE("verify-backup: a table halved since the last verified dump is ROWCOUNT_DRIFT") {
  PgCluster pg;
  seed_captures(pg, 300);
  TempDir root("wl-verify");
  const auto dir = root / "backups";
  // Taken a minute ago: the next backup has a name of its own at once.
  (void)backdate_backup(backup(pg, dir), std::chrono::minutes(1));
  REQUIRE(verify_backup(dir).exit_code == 0);

  // Half of station st1's history disappears (weighings first, then their log rows).
  (void)pg.query_scalar(
      "DELETE FROM weighings w USING mutation_log m WHERE m.station_id = w.station_id AND "
      "m.idempotency_key = w.idempotency_key AND m.seq % 2 = 0");
  (void)pg.query_scalar("DELETE FROM mutation_log m WHERE m.seq % 2 = 0");
  (void)backup(pg, dir);
  const auto v = verify_backup(dir, {"--min-bytes", "1", "--median-factor", "10"});
  INFO(v.output);
  CHECK(v.exit_code == 3);
  CHECK(v.code() == "ROWCOUNT_DRIFT");
  const std::string detail(v.report.at("detail").as_string());
  CHECK(detail.find("shrank") != std::string::npos);
  CHECK(detail.find("-50.0 %") != std::string::npos);
  // verified-latest still names the first dump.
  CHECK(read_json(dir / "verified-latest").at("dump").as_string() !=
        v.report.at("dump").as_string());
  // A tolerance that allows it lets it through.
  CHECK(verify_backup(dir, {"--min-bytes", "1", "--median-factor", "10", "--row-tolerance", "0.6"})
            .exit_code == 0);
}

TEST_CASE("verify-backup: orphans above the allowlist are ORPHAN_FK_SURGE") {
  PgCluster pg;
  seed_captures(pg, 200);
  // Five applied captures lose their weighing.
  (void)pg.query_scalar(
      "DELETE FROM weighings WHERE station_id = 'st2' AND idempotency_key IN ('key-1', 'key-2', "
      "'key-3', 'key-4', 'key-5')");
  TempDir root("wl-verify");
  const auto dir = root / "backups";
  (void)backup(pg, dir);

  const auto strict = verify_backup(dir);
  INFO(strict.output);
  CHECK(strict.exit_code == 3);
  CHECK(strict.code() == "ORPHAN_FK_SURGE");
  const auto& relations = strict.report.at("evidence").as_object().at("relations").as_array();
  REQUIRE(relations.size() == 1);
  CHECK(relations[0].as_object().at("orphans").as_int64() == 5);
  CHECK(relations[0].as_object().at("sample").as_array().size() == 5);
  check_not_promoted(dir);

  write_text(root / "allow.yaml",
             "soft_foreign_keys:\n  - name: applied_capture_has_weighing\n    max_orphans: 2\n");
  CHECK(verify_backup(dir, {"--soft-fk-allowlist", (root / "allow.yaml").string()}).code() ==
        "ORPHAN_FK_SURGE");
  write_text(root / "allow.yaml",
             "soft_foreign_keys:\n  - name: applied_capture_has_weighing\n    max_orphans: 5\n");
  CHECK(verify_backup(dir, {"--soft-fk-allowlist", (root / "allow.yaml").string()}).exit_code == 0);

  // A bad allowlist is bad usage: exit 2, nothing checked.
  write_text(root / "bad.yaml", "soft_foreign_keys:\n  - name: x\n");
  const auto bad = verify_backup(dir, {"--soft-fk-allowlist", (root / "bad.yaml").string()});
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("bad.yaml") != std::string::npos);
}

TEST_CASE("verify-backup: verified-latest never moves back to an older dump") {
  PgCluster pg;
  seed_captures(pg, 100);
  TempDir root("wl-verify");
  const auto dir = root / "backups";
  // Taken a minute ago: the next backup has a name of its own at once.
  const auto older = backdate_backup(backup(pg, dir), std::chrono::minutes(1));
  const std::string older_dump(read_json(older).at("dump").as_string());
  (void)pg.query_scalar("UPDATE stations SET high_water_seq = 150");
  (void)backup(pg, dir);
  REQUIRE(verify_backup(dir, {"--dsn", pg.dsn()}).exit_code == 0);
  const auto newer_pointer = read_json(dir / "verified-latest");
  CHECK(newer_pointer.at("dump").as_string() != older_dump);
  CHECK(pg.query_scalar("SELECT min(durable_seq) FROM stations") == "150");

  // The older dump verified again (--file): recorded as verified, the pointer stays, and
  // durable_seq is not touched.
  const auto again = verify_backup(dir, {"--file", older_dump, "--dsn", pg.dsn()});
  INFO(again.output);
  CHECK(again.exit_code == 0);
  CHECK(fs::exists(dir / (older_dump.substr(0, older_dump.size() - 5) + ".verified.json")));
  CHECK(read_json(dir / "verified-latest") == newer_pointer);
  CHECK(again.report.at("durable_seq").as_object().at("moved").as_bool() == false);
  CHECK(pg.query_scalar("SELECT min(durable_seq) FROM stations") == "150");
}

TEST_CASE(
    "verify-backup: an allowlist relation the dump lacks, or SQL that reaches the server, "
    "cannot run and is not a verdict on the dump") {
  PgCluster pg;
  seed_captures(pg, 50);
  TempDir root("wl-verify");
  const auto dir = root / "backups";
  (void)backup(pg, dir);
  write_text(root / "typo.yaml",
             "soft_foreign_keys:\n  - name: operator\n    table: weighingz\n    columns: [x]\n"
             "    references: operators\n    referenced_columns: [id]\n    max_orphans: 0\n");
  const auto typo = verify_backup(dir, {"--soft-fk-allowlist", (root / "typo.yaml").string()});
  CHECK(typo.exit_code == 1);
  CHECK(typo.code() == "COULD_NOT_RUN");
  CHECK(typo.output.find("--soft-fk-allowlist") != std::string::npos);
  check_not_promoted(dir);

  // `where` runs as a role that reads tables only: no server files.
  write_text(root / "reach.yaml",
             "soft_foreign_keys:\n  - name: applied_capture_has_weighing\n    max_orphans: 0\n"
             "    where: \"length(pg_read_file('/etc/hostname')) > 0\"\n");
  const auto reach = verify_backup(dir, {"--soft-fk-allowlist", (root / "reach.yaml").string()});
  CHECK(reach.exit_code == 1);
  CHECK(reach.output.find("permission denied") != std::string::npos);
  check_not_promoted(dir);
}

TEST_CASE("verify-backup: SIGTERM while restoring stops and removes the disposable cluster") {
  PgCluster pg;
  seed_captures(pg, 20000);
  TempDir root("wl-verify");
  const auto dir = root / "backups";
  (void)backup(pg, dir);
  const weighlink::testing::ScratchDir scratch_dir;
  const auto& scratch = scratch_dir.path();

  weighlink::testing::Process verify({bin("weighlink-backend"), "verify-backup", "--dir",
                                      dir.string(), "--scratch-dir", scratch.string()},
                                     root / "verify.log");
  // Wait for the server of the disposable cluster, then stop the command.
  pid_t postmaster = 0;
  REQUIRE(weighlink::testing::eventually(
      [&] {
        for (const auto& e : fs::directory_iterator(scratch)) {
          std::ifstream pid_file(e.path() / "data" / "postmaster.pid");
          if (pid_file >> postmaster && postmaster > 0) return true;
        }
        return false;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(10)));
  const int status = verify.terminate(std::chrono::seconds(60));
  INFO(verify.log());
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + SIGTERM);
  CHECK(verify.log().find("disposable cluster is removed") != std::string::npos);
  CHECK(fs::is_empty(scratch));
  CHECK(::kill(postmaster, 0) != 0);  // the server is gone too
}

TEST_CASE("verify-backup: as root, a --scratch-dir the postgres user cannot enter is named") {
  if (::geteuid() != 0) return;  // only root hands the cluster to `postgres`
  PgCluster pg;
  seed_captures(pg, 20);
  TempDir root("wl-verify");  // 0700, owned by root
  const auto dir = root / "backups";
  (void)backup(pg, dir);
  fs::create_directories(root / "scratch");
  const auto v = verify_backup(dir, {"--scratch-dir", (root / "scratch").string()});
  INFO(v.output);
  CHECK(v.exit_code == 1);
  CHECK(v.code() == "COULD_NOT_RUN");
  CHECK(v.output.find("may not enter " + root.path().string()) != std::string::npos);
  check_not_promoted(dir);
}
