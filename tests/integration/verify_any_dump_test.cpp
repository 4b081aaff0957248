// weighlink-backend verify-backup on pg_dump files of a database that is not weighlink's, made by
// pg_dump itself without a manifest (as a platform's nightly CronJob leaves them): the newest by
// the time in its name, a clean pass (custom and plain) that is promoted, the corruption
// catalogue, a sidecar that does not match, row counts against the previous verified dump, the
// orphan sweep of a --checks file, an extension the disposable cluster lacks, and a dump of a
// newer PostgreSQL major refused before the restore.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "weighlink/base/hash.hpp"
#include "weighlink/testing/backup_data.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::testing::bin;
using weighlink::testing::PgCluster;
using weighlink::testing::PgClusterOptions;
using weighlink::testing::read_file;
using weighlink::testing::read_json;
using weighlink::testing::run;
using weighlink::testing::ScratchDir;
using weighlink::testing::TempDir;
using weighlink::testing::verify_backup;
using weighlink::testing::VerifyRun;
using weighlink::testing::write_text;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin/";

// A shop's database (not weighlink's): customers, their orders (a soft foreign key: no
// constraint), and an audit schema; pgcrypto for a digest column.
void make_shop(const PgCluster& pg) {
  (void)pg.query_scalar("CREATE DATABASE shop");
  for (const char* sql : {
           "CREATE EXTENSION pgcrypto",
           "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, name_sha text)",
           "CREATE TABLE orders (id int PRIMARY KEY, customer_id int, total numeric(12,2))",
           "CREATE SCHEMA audit",
           "CREATE TABLE audit.events (id bigserial PRIMARY KEY, what text)",
           "INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 300) g",
           "UPDATE customers SET name_sha = encode(digest(name, 'sha256'), 'hex')",
           "INSERT INTO orders SELECT g, 1 + g % 300, g * 1.25 FROM generate_series(1, 900) g",
           "INSERT INTO audit.events (what) SELECT 'event ' || g FROM generate_series(1, 600) g",
       }) {
    (void)pg.query_scalar(sql, "shop");
  }
}

// pg_dump of `database` into `file`, custom format unless `plain`.
void dump(const PgCluster& pg, const std::string& database, const fs::path& file,
          bool plain = false) {
  fs::create_directories(file.parent_path());
  const auto r = run({std::string(kPgBin) + "pg_dump", plain ? "--format=plain" : "--format=custom",
                      "--dbname=" + pg.dsn(database), "--file=" + file.string()});
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
}

// `sha256sum`'s line for `file`, beside it as NAME.sha256 (`digest` given: a wrong one).
void write_sidecar(const fs::path& file, std::string digest = {}) {
  if (digest.empty()) digest = weighlink::base::sha256_hex(read_file(file));
  write_text(file.string() + ".sha256", digest + "  " + file.filename().string() + "\n");
}

std::vector<std::string> step_names(const VerifyRun& v) {
  std::vector<std::string> steps;
  for (const auto& s : v.report.at("steps").as_array()) {
    steps.emplace_back(s.as_object().at("step").as_string());
  }
  return steps;
}

bool promoted(const fs::path& dir, const std::string& verified_record) {
  return fs::exists(dir / verified_record);
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE(
    "verify-backup any dump: a custom pg_dump without a manifest, the newest by name, passes") {
  PgCluster pg;
  make_shop(pg);
  TempDir root("wl-anydump");
  const auto dir = root / "backups";
  // Three nights; the oldest was copied last (its mtime is the newest): the name decides.
  dump(pg, "shop", dir / "pg_dump_20261119_0300.dump");
  dump(pg, "shop", dir / "pg_dump_20261120_0300.dump");
  dump(pg, "shop", dir / "pg_dump_20261121_0300.dump");
  write_sidecar(dir / "pg_dump_20261121_0300.dump");
  fs::last_write_time(
      dir / "pg_dump_20261119_0300.dump",
      fs::last_write_time(dir / "pg_dump_20261121_0300.dump") + std::chrono::hours(1));
  write_text(dir / "README.txt", "not a dump\n");
  REQUIRE(fs::file_size(dir / "pg_dump_20261121_0300.dump") > 4096);
  write_text(root / "checks.yaml", "extensions: [pgcrypto]\n");

  const ScratchDir scratch;
  const auto v = verify_backup(dir, {"--checks", (root / "checks.yaml").string(), "--scratch-dir",
                                     scratch.path().string(), "--dsn", pg.dsn()});
  INFO(v.output);
  REQUIRE(v.exit_code == 0);
  CHECK(v.code() == "OK");
  CHECK(v.report.at("dump").as_string() == "pg_dump_20261121_0300.dump");
  CHECK(v.report.at("dump_kind").as_string() == "pg_dump");
  CHECK(v.report.at("dump_created_at").as_string() == "2026-11-21T03:00:00Z");
  CHECK(step_names(v) == std::vector<std::string>{"locate", "pick", "size_guard", "format",
                                                  "checksum", "scratch", "restore_target",
                                                  "restore_pre-data", "restore_data",
                                                  "restore_post-data", "vacuum_analyze",
                                                  "row_counts", "orphan_sweep", "promote"});
  for (const auto& s : v.report.at("steps").as_array()) {
    const auto& step = s.as_object();
    CHECK(step.at("ok").as_bool());
    if (step.at("step") == "checksum") {
      CHECK(has(std::string(step.at("detail").as_string()), "matches pg_dump_20261121_0300"));
    }
    if (step.at("step") == "format") {
      CHECK(step.at("evidence").as_object().at("dbname").as_string() == "shop");
    }
  }
  const auto& counts = v.report.at("row_counts").as_object();
  CHECK(counts.at("public.orders").as_int64() == 900);
  CHECK(counts.at("public.customers").as_int64() == 300);
  CHECK(counts.at("audit.events").as_int64() == 600);
  // Not weighlink's: durable_seq is not touched (the production DSN has no stations table).
  CHECK(v.report.at("durable_seq").as_object().at("moved").as_bool() == false);

  const auto pointer = read_json(dir / "verified-latest");
  CHECK(pointer.at("dump").as_string() == "pg_dump_20261121_0300.dump");
  CHECK(pointer.at("sha256").as_string() ==
        weighlink::base::sha256_hex(read_file(dir / "pg_dump_20261121_0300.dump")));
  CHECK(promoted(dir, "pg_dump_20261121_0300.verified.json"));

  // verified-latest now names a shop dump: restore --dir (weighlink's database back) refuses it
  // before touching the target, whose table stays even with --force.
  (void)pg.query_scalar("CREATE DATABASE target");
  (void)pg.query_scalar("CREATE TABLE kept (id int)", "target");
  const auto restore = run({bin("weighlink-backend"), "restore", "--dir", dir.string(), "--dsn",
                            pg.dsn("target"), "--force"},
                           std::chrono::seconds(120));
  INFO(restore.output);
  CHECK(restore.exit_code == 2);
  CHECK(has(restore.output, "not of a weighlink database"));
  CHECK(pg.query_scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'kept'", "target") ==
        "1");

  // A table that lost a third of its rows since the verified dump: ROWCOUNT_DRIFT, not promoted.
  (void)pg.query_scalar("DELETE FROM orders WHERE id % 3 = 0", "shop");
  dump(pg, "shop", dir / "pg_dump_20261122_0300.dump");
  const auto drift = verify_backup(dir, {"--scratch-dir", scratch.path().string()});
  INFO(drift.output);
  CHECK(drift.exit_code == 3);
  CHECK(drift.code() == "ROWCOUNT_DRIFT");
  CHECK(drift.report.at("dump").as_string() == "pg_dump_20261122_0300.dump");
  const auto& evidence = drift.report.at("evidence").as_object();
  CHECK(evidence.at("baseline").as_string() == "pg_dump_20261121_0300.dump");
  const auto& table = evidence.at("tables").as_array().at(0).as_object();
  CHECK(table.at("table").as_string() == "public.orders");
  CHECK(table.at("expected").as_int64() == 900);
  CHECK(table.at("actual").as_int64() == 600);
  CHECK_FALSE(promoted(dir, "pg_dump_20261122_0300.verified.json"));
  CHECK(read_json(dir / "verified-latest").at("dump").as_string() == "pg_dump_20261121_0300.dump");

  // The checks file limits the tables compared: without orders, the same dump passes.
  write_text(root / "tables.yaml", "row_counts:\n  tables: [customers, audit.events]\n");
  const auto some = verify_backup(
      dir, {"--checks", (root / "tables.yaml").string(), "--scratch-dir", scratch.path().string()});
  INFO(some.output);
  CHECK(some.exit_code == 0);

  // By modification time: the copy made last; no sidecar, so the checksum step is skipped.
  const auto by_mtime =
      verify_backup(dir, {"--newest-by", "mtime", "--scratch-dir", scratch.path().string()});
  INFO(by_mtime.output);
  CHECK(by_mtime.exit_code == 0);
  CHECK(by_mtime.report.at("dump").as_string() == "pg_dump_20261119_0300.dump");
  for (const auto& s : by_mtime.report.at("steps").as_array()) {
    if (s.as_object().at("step") == "checksum") {
      CHECK(has(std::string(s.as_object().at("detail").as_string()), "skipped: no "));
    }
  }
  // By modification time it is the newest, so verified-latest follows it (a folder is read one
  // way or the other, not both).
  CHECK(read_json(dir / "verified-latest").at("dump").as_string() == "pg_dump_20261119_0300.dump");
}

TEST_CASE("verify-backup any dump: a plain-text pg_dump with its own pattern, end to end") {
  PgCluster pg;
  make_shop(pg);
  TempDir root("wl-anydump");
  const auto dir = root / "sql";
  dump(pg, "shop", dir / "shop-2026-11-20.sql", true);
  dump(pg, "shop", dir / "shop-2026-11-21.sql", true);
  write_sidecar(dir / "shop-2026-11-21.sql");

  const ScratchDir scratch;
  // The default patterns match nothing here: said so, and nothing runs.
  const auto none = verify_backup(dir, {"--scratch-dir", scratch.path().string()});
  CHECK(none.exit_code == 1);
  CHECK(has(none.output, "no file named like pg_dump_%Y%m%d_%H%M.dump"));

  const auto v = verify_backup(
      dir, {"--pattern", "shop-%Y-%m-%d.sql", "--scratch-dir", scratch.path().string()});
  INFO(v.output);
  REQUIRE(v.exit_code == 0);
  CHECK(v.report.at("dump").as_string() == "shop-2026-11-21.sql");
  CHECK(v.report.at("pattern").as_string() == "shop-%Y-%m-%d.sql");
  const auto steps = step_names(v);
  CHECK(std::find(steps.begin(), steps.end(), "restore") != steps.end());
  for (const auto& s : v.report.at("steps").as_array()) {
    if (s.as_object().at("step") == "format") {
      CHECK(has(std::string(s.as_object().at("detail").as_string()), "plain SQL dump"));
      CHECK(has(
          std::string(s.as_object().at("evidence").as_object().at("server_version").as_string()),
          "15."));
    }
  }
  CHECK(v.report.at("row_counts").as_object().at("public.orders").as_int64() == 900);
  CHECK(read_json(dir / "verified-latest").at("dump").as_string() == "shop-2026-11-21.sql");
  CHECK(promoted(dir, "shop-2026-11-21.sql.verified.json"));

  // --file names one that is not in the folder: could not run, with the name.
  const auto missing = verify_backup(dir, {"--file", "shop-2026-11-22.sql"});
  CHECK(missing.exit_code == 1);
  CHECK(has(missing.output, "--file shop-2026-11-22.sql is not in"));
}

TEST_CASE("verify-backup any dump: truncated, an HTML page, a sidecar that does not match") {
  PgCluster pg;
  make_shop(pg);
  TempDir root("wl-anydump");
  const auto good_file = root / "good" / "pg_dump_20261121_0300.dump";
  dump(pg, "shop", good_file);
  const std::string good = read_file(good_file);
  const std::string html =
      "<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head><body><h1>403 "
      "Forbidden</h1>" +
      std::string(6000, ' ') + "</body></html>\n";
  struct Case {
    std::string name;
    std::string bytes;
    std::string sidecar;  // "" none, "good": the good file's digest
    std::string code;
  };
  const std::vector<Case> cases = {
      {"truncated", good.substr(0, good.size() * 2 / 3), "", "TRUNCATED"},
      {"html", html, "", "NOT_A_DUMP"},
      {"sidecar-mismatch", good, std::string(64, 'a'), "CHECKSUM_MISMATCH"},
      {"sidecar-of-the-html", html, "good", "NOT_A_DUMP"},
  };
  const ScratchDir scratch;
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto dir = root / c.name;
    const auto file = dir / "pg_dump_20261121_0300.dump";
    fs::create_directories(dir);
    write_text(file, c.bytes);
    if (!c.sidecar.empty()) {
      write_sidecar(file, c.sidecar == "good" ? weighlink::base::sha256_hex(good) : c.sidecar);
    }
    const auto v =
        verify_backup(dir, {"--min-bytes", "1", "--scratch-dir", scratch.path().string()});
    INFO(v.output);
    CHECK(v.exit_code == 3);
    CHECK(v.code() == c.code);
    CHECK_FALSE(fs::exists(dir / "verified-latest"));
    CHECK_FALSE(promoted(dir, "pg_dump_20261121_0300.verified.json"));
  }
}

TEST_CASE("verify-backup any dump: orphans above the --checks allowlist are ORPHAN_FK_SURGE") {
  PgCluster pg;
  make_shop(pg);
  // Five customers gone, their 15 orders left behind: orphans of a relation with no constraint.
  (void)pg.query_scalar("DELETE FROM customers WHERE id BETWEEN 10 AND 14", "shop");
  TempDir root("wl-anydump");
  const auto dir = root / "backups";
  dump(pg, "shop", dir / "pg_dump_20261121_0300.dump");
  const auto checks = [&](int max_orphans) {
    const auto file = root / ("checks-" + std::to_string(max_orphans) + ".yaml");
    write_text(file,
               "min_bytes: 2048\n"
               "soft_foreign_keys:\n"
               "  - name: order_has_customer\n"
               "    table: orders\n"
               "    columns: [customer_id]\n"
               "    references: customers\n"
               "    referenced_columns: [id]\n"
               "    max_orphans: " +
                   std::to_string(max_orphans) + "\n");
    return file.string();
  };
  const ScratchDir scratch;
  const auto surge =
      verify_backup(dir, {"--checks", checks(2), "--scratch-dir", scratch.path().string()});
  INFO(surge.output);
  CHECK(surge.exit_code == 3);
  CHECK(surge.code() == "ORPHAN_FK_SURGE");
  CHECK(has(surge.output, "order_has_customer has 15 orphans"));
  const auto& relation =
      surge.report.at("evidence").as_object().at("relations").as_array().at(0).as_object();
  CHECK(relation.at("relation").as_string() == "order_has_customer");
  CHECK(relation.at("orphans").as_int64() == 15);
  CHECK_FALSE(fs::exists(dir / "verified-latest"));

  // The same dump within an allowlist that expects them passes; weighlink's own relation is not
  // swept in a database without weighlink's tables.
  const auto within =
      verify_backup(dir, {"--checks", checks(15), "--scratch-dir", scratch.path().string()});
  INFO(within.output);
  CHECK(within.exit_code == 0);
  REQUIRE(within.report.at("orphans").as_array().size() == 1);

  // The checks file's size floor is the one applied.
  write_text(root / "floor.yaml", "min_bytes: 100000000\n");
  const auto floor = verify_backup(
      dir, {"--checks", (root / "floor.yaml").string(), "--scratch-dir", scratch.path().string()});
  CHECK(floor.exit_code == 3);
  CHECK(floor.code() == "SIZE_SHRUNK");
  CHECK(has(floor.output, "(min_bytes of --checks "));

  // A checks file with a typo is bad usage: nothing runs.
  write_text(root / "typo.yaml", "extension: [pgcrypto]\n");
  const auto typo = verify_backup(dir, {"--checks", (root / "typo.yaml").string()});
  CHECK(typo.exit_code == 2);
  CHECK(has(typo.output, "unknown key `extension`"));
}

namespace {

// A copy of PostgreSQL 15 under one prefix (PostgreSQL finds its share directory relative to its
// binaries) whose extension directory also holds wl_demo_ext, a small SQL-only extension the
// system's PostgreSQL lacks. The server programs are copies (a symlink would lead it back to the
// system's share directory); everything else is a symlink.
fs::path postgres_with_demo_extension(const fs::path& prefix) {
  fs::path bin = prefix / "lib/postgresql/15/bin";
  const fs::path share = prefix / "share/postgresql/15";
  fs::create_directories(bin);
  fs::create_directories(share / "extension");
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql/15/bin")) {
    const auto name = e.path().filename().string();
    if (name == "postgres" || name == "initdb" || name == "pg_ctl") {
      fs::copy_file(e.path(), bin / name);
    } else {
      fs::create_symlink(e.path(), bin / name);
    }
  }
  fs::create_directory_symlink("/usr/lib/postgresql/15/lib", prefix / "lib/postgresql/15/lib");
  for (const auto& e : fs::directory_iterator("/usr/share/postgresql/15")) {
    if (e.path().filename() != "extension")
      fs::create_symlink(e.path(), share / e.path().filename());
  }
  for (const auto& e : fs::directory_iterator("/usr/share/postgresql/15/extension")) {
    fs::create_symlink(e.path(), share / "extension" / e.path().filename());
  }
  write_text(share / "extension/wl_demo_ext.control",
             "comment = 'weighlink test extension'\ndefault_version = '1.0'\nrelocatable = true\n");
  write_text(share / "extension/wl_demo_ext--1.0.sql",
             "CREATE FUNCTION wl_demo_double(int) RETURNS int LANGUAGE sql IMMUTABLE AS "
             "'SELECT $1 * 2';\n");
  return bin;
}

}  // namespace

TEST_CASE(
    "verify-backup any dump: an extension the disposable cluster lacks is named with what to "
    "install") {
  const ScratchDir prefix;  // the server (as postgres) must reach the copy
  PgClusterOptions options;
  options.bin_dir = postgres_with_demo_extension(prefix.path()).string();
  PgCluster pg(options);
  make_shop(pg);
  (void)pg.query_scalar("CREATE EXTENSION wl_demo_ext", "shop");
  REQUIRE(pg.query_scalar("SELECT wl_demo_double(21)", "shop") == "42");
  // The system's PostgreSQL, which verify-backup uses, lacks it: the copy is what has it.
  REQUIRE_FALSE(fs::exists("/usr/share/postgresql/15/extension/wl_demo_ext.control"));

  TempDir root("wl-anydump");
  const ScratchDir scratch;
  for (const bool plain : {false, true}) {
    CAPTURE(plain);
    const auto dir = root / (plain ? "plain" : "custom");
    dump(pg, "shop", dir / (plain ? "shop_20261121.sql" : "pg_dump_20261121_0300.dump"), plain);
    const auto v =
        verify_backup(dir, {"--pattern", "shop_%Y%m%d.sql", "--pattern", "pg_dump_%Y%m%d_%H%M.dump",
                            "--scratch-dir", scratch.path().string()});
    INFO(v.output);
    CHECK(v.exit_code == 3);
    CHECK(v.code() == "RESTORE_FAILED");
    const std::string detail(v.report.at("detail").as_string());
    CHECK(has(detail,
              "the dump needs extension wl_demo_ext, which the disposable PostgreSQL 15 "
              "lacks: install the package that provides wl_demo_ext.control"));
    CHECK_FALSE(has(detail, "pg_restore:"));
    CHECK_FALSE(fs::exists(dir / "verified-latest"));
  }

  // Expected by --checks but missing: refused before the restore, naming it.
  write_text(root / "checks.yaml", "extensions: [pgcrypto, postgis]\n");
  const auto expected = verify_backup(root / "custom", {"--checks", (root / "checks.yaml").string(),
                                                        "--scratch-dir", scratch.path().string()});
  INFO(expected.output);
  CHECK(expected.code() == "RESTORE_FAILED");
  CHECK(has(std::string(expected.report.at("detail").as_string()),
            "--checks expects extension postgis, which the disposable PostgreSQL 15 lacks: "
            "install postgresql-15-postgis-3"));
}

TEST_CASE(
    "verify-backup any dump: a dump of a newer PostgreSQL major is refused before the restore") {
  PgCluster pg;
  make_shop(pg);
  TempDir root("wl-anydump");
  const auto dir = root / "backups";
  const auto file = dir / "pg_dump_20261121_0300.dump";
  dump(pg, "shop", file);
  // The header as PostgreSQL 16's pg_dump writes it: the versions say 16 (same length).
  std::string bytes = read_file(file);
  const std::string version = pg.query_scalar("SHOW server_version");
  REQUIRE(version.starts_with("15."));
  int replaced = 0;
  for (auto at = bytes.find(version); at != std::string::npos && at < 512;
       at = bytes.find(version, at + 1)) {
    bytes.replace(at, 2, "16");
    ++replaced;
  }
  REQUIRE(replaced == 2);  // the server's and pg_dump's
  write_text(file, bytes);

  const ScratchDir scratch;
  const auto v = verify_backup(
      dir, {"--pg-bindir", "/usr/lib/postgresql/15/bin", "--scratch-dir", scratch.path().string()});
  INFO(v.output);
  CHECK(v.exit_code == 1);
  CHECK(v.code() == "COULD_NOT_RUN");
  const std::string detail(v.report.at("detail").as_string());
  CHECK(has(detail, "the dump is from PostgreSQL 16."));
  CHECK(has(detail, "the disposable cluster is PostgreSQL 15"));
  CHECK(has(detail, "--pg-bindir /usr/lib/postgresql/16/bin"));
  const auto steps = step_names(v);
  CHECK(std::none_of(steps.begin(), steps.end(),
                     [](const std::string& s) { return s.starts_with("restore_pre"); }));
}
