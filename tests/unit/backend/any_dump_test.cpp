// verify-backup without a manifest, its pure parts: which file of a folder is the newest dump,
// the size guard's history, the sha256 sidecar, the --checks file, and the restore environment's
// rules (majors, extension packages, the extension a failed restore names).
#include <doctest/doctest.h>

#include "weighlink/base/timestamp.hpp"
#include "weighlink/recovery/backup_catalog.hpp"
#include "weighlink/recovery/dump_folder.hpp"
#include "weighlink/recovery/restore_environment.hpp"
#include "weighlink/recovery/verify_config.hpp"

using namespace weighlink::recovery;
using weighlink::base::parse_utc_timestamp;

namespace {

std::vector<DumpNamePattern> defaults() {
  std::vector<DumpNamePattern> patterns;
  for (const auto p : kDefaultDumpPatterns) patterns.push_back(DumpNamePattern::parse(p).value());
  return patterns;
}

StoreEntry file(std::string name, std::uint64_t size, std::int64_t mtime = 0) {
  return {std::move(name), size,
          std::chrono::system_clock::time_point(std::chrono::seconds(mtime))};
}

}  // namespace

TEST_CASE("any dump: the newest by the time in its name, whatever the listing order or mtime") {
  const std::vector<StoreEntry> entries = {
      file("pg_dump_20261120_0300.dump", 100, 5000),  // touched last (a copy), made earlier
      file("pg_dump_20261121_0300.dump", 100, 1000),
      file("pg_dump_20261121_0300.dump.sha256", 90, 1000),
      file("pg_dump_20261119_0300.dump", 100, 900),
      file("pg_dump_20261121_0300.verified.json", 10, 1000),
      file("notes.txt", 10, 9000),
      file("weighlink_20261121_020000.dump", 100, 800),
  };
  const auto newest = newest_pattern_dump(entries, defaults(), NewestBy::name);
  REQUIRE(newest);
  CHECK(newest->record.name == "pg_dump_20261121_0300.dump");
  CHECK(newest->record.created_at == parse_utc_timestamp("2026-11-21T03:00:00Z"));
  CHECK(newest->record.verified);
  CHECK(newest->pattern == 0);

  const auto by_mtime = newest_pattern_dump(entries, defaults(), NewestBy::mtime);
  REQUIRE(by_mtime);
  CHECK(by_mtime->record.name == "pg_dump_20261120_0300.dump");

  // A weighlink backup (skipped: it has a manifest) never counts as "any dump".
  const auto skipped =
      newest_pattern_dump(entries, defaults(), NewestBy::name, {"pg_dump_20261121_0300.dump"});
  REQUIRE(skipped);
  CHECK(skipped->record.name == "weighlink_20261121_020000.dump");
  CHECK(skipped->pattern == 1);

  CHECK_FALSE(newest_pattern_dump({file("backup.sql", 1)}, defaults(), NewestBy::name).has_value());
}

TEST_CASE("any dump: the size guard's history is the files of the same pattern only") {
  const std::vector<StoreEntry> entries = {
      file("pg_dump_20261121_0300.dump", 100), file("pg_dump_20261120_0300.dump", 110),
      file("weighlink_20261120_030000.dump", 9000), file("pg_dump_20261120_0300.dump.sha256", 90)};
  const auto cron = pattern_dumps(entries, defaults()[0], NewestBy::name);
  REQUIRE(cron.size() == 2);
  for (const auto& d : cron) CHECK(d.name.starts_with("pg_dump_"));
  CHECK(pattern_of("weighlink_20261120_030000.dump", defaults()) == std::size_t{1});
  CHECK_FALSE(pattern_of("db.sql", defaults()).has_value());
  CHECK(verified_name("pg_dump_20261121_0300.dump") == "pg_dump_20261121_0300.verified.json");
  CHECK(verified_name("db_20261121.sql") == "db_20261121.sql.verified.json");
}

TEST_CASE("any dump: a sha256sum sidecar gives its digest, for this file only") {
  const std::string hex = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
  const std::string lower = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  CHECK(parse_sha256_sidecar(hex + "  d.dump\n", "d.dump").value() == lower);
  CHECK(parse_sha256_sidecar(lower + " *d.dump\r\n", "d.dump").value() == lower);
  CHECK(parse_sha256_sidecar(lower + "  /backups/d.dump\n", "d.dump").value() == lower);
  CHECK(parse_sha256_sidecar(lower + "\n", "d.dump").value() == lower);
  const auto other = parse_sha256_sidecar(lower + "  e.dump\n", "d.dump");
  REQUIRE_FALSE(other.has_value());
  CHECK(other.error().message.find("\"e.dump\", not of d.dump") != std::string::npos);
  for (const auto& bad : {std::string(""), std::string("<html>"), lower.substr(1) + "x"}) {
    CHECK_FALSE(parse_sha256_sidecar(bad, "d.dump").has_value());
  }
}

TEST_CASE("any dump: the checks file sets the floor, the tables, the extensions and soft keys") {
  const auto checks = parse_verify_checks(R"(
min_bytes: 2048
row_counts:
  tables: [orders, audit.events]
  tolerance: 0.25
extensions: [pgcrypto, postgis]
soft_foreign_keys:
  - name: line_has_order
    table: order_lines
    columns: [order_id]
    references: orders
    referenced_columns: [id]
    max_orphans: 3
)",
                                          "checks.yaml", builtin_soft_foreign_keys());
  REQUIRE(checks.has_value());
  CHECK(checks->min_bytes == std::uint64_t{2048});
  CHECK(checks->row_tolerance == doctest::Approx(0.25));
  CHECK(checks->row_count_tables == std::vector<std::string>{"public.orders", "audit.events"});
  CHECK(checks->extensions == std::vector<std::string>{"pgcrypto", "postgis"});
  REQUIRE(checks->soft_keys.size() == 2);
  CHECK(checks->soft_keys[1].name == "line_has_order");

  const auto empty = parse_verify_checks("", "e.yaml", {});
  REQUIRE(empty.has_value());
  CHECK(empty->row_count_tables.empty());
  CHECK_FALSE(empty->min_bytes.has_value());
}

TEST_CASE("any dump: a checks file with a typo or a wrong value is refused, naming it") {
  const std::pair<const char*, const char*> cases[] = {
      {"min_byte: 10\n", "unknown key `min_byte`"},
      {"min_bytes: -1\n", "`min_bytes` must be 0 or more"},
      {"row_counts:\n  tolerance: 2\n", "`row_counts.tolerance` is a fraction"},
      {"row_counts:\n  table: [a]\n", "unknown key `row_counts.table`"},
      {"extensions: [\"pg; DROP\"]\n", "is not an extension name"},
      {"min_bytes: lots\n", "`min_bytes`"},
      {"[1, 2]\n", "expected a map"},
      {"soft_foreign_keys:\n  - name: x\n    max_orphans: 1\n", "soft_foreign_keys[0]"},
  };
  for (const auto& c : cases) {
    INFO(c.first);
    const auto parsed = parse_verify_checks(c.first, "c.yaml", {});
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().message.find("c.yaml") != std::string::npos);
    CHECK(parsed.error().message.find(c.second) != std::string::npos);
  }
}

TEST_CASE("any dump: majors of version strings and what to install for an extension") {
  CHECK(postgres_major("15.4 (Debian 15.4-1.pgdg120+1)") == 15);
  CHECK(postgres_major("16devel") == 16);
  CHECK(postgres_major("9.6.24") == 9);
  CHECK_FALSE(postgres_major("").has_value());
  CHECK_FALSE(postgres_major("PostgreSQL").has_value());
  CHECK(extension_install_hint("postgis", 15).find("apt-get install postgresql-15-postgis-3") !=
        std::string::npos);
  CHECK(extension_install_hint("vector", 16).find("postgresql-16-pgvector") != std::string::npos);
  const auto unknown = extension_install_hint("wl_demo", 15);
  CHECK(unknown.find("wl_demo.control") != std::string::npos);
  CHECK(unknown.find("/usr/share/postgresql/15/extension") != std::string::npos);
}

TEST_CASE("any dump: the extension a failed restore names") {
  CHECK(missing_extension("pg_restore: error: could not execute query: ERROR:  could not open "
                          "extension control file "
                          "\"/usr/share/postgresql/15/extension/postgis.control\": No such file "
                          "or directory") == std::string("postgis"));
  CHECK(missing_extension("ERROR:  extension \"vector\" is not available") ==
        std::string("vector"));
  CHECK_FALSE(missing_extension("ERROR:  relation \"x\" does not exist").has_value());
  CHECK_FALSE(missing_extension("ERROR:  extension \"x\" already exists").has_value());
}
