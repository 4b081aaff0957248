// weighlink-backend prune over a folder a platform's nightly CronJob fills: pg_dump -Fc files of a
// database that is not weighlink's, named pg_dump_YYYYMMDD_HHMM.dump with no manifest, each with
// its sha256sum sidecar, some with a verification record, beside a weighlink backup with its
// manifest and files that are no dump. `--dry-run` lists every decision and every file left
// alone and removes nothing; the real run removes exactly the dumps the tiers do not keep, each
// with its sidecar and record. The dumps sit at fixed past times spread over 2024 and 2025, so
// which is the newest of its day, month or year never depends on when the test runs.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "weighlink/base/hash.hpp"
#include "weighlink/base/timestamp.hpp"
#include "weighlink/recovery/backup_catalog.hpp"
#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/backup_data.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::testing::bin;
using weighlink::testing::PgCluster;
using weighlink::testing::read_file;
using weighlink::testing::run;
using weighlink::testing::TempDir;
using weighlink::testing::write_text;
namespace fs = std::filesystem;

namespace {

std::set<std::string> files_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The line of `output` that starts with `start`; "" when there is none.
std::string line_of(const std::string& output, const std::string& start) {
  const auto at = output.find(start);
  if (at == std::string::npos) return {};
  return output.substr(at, output.find('\n', at) - at);
}

}  // namespace

TEST_CASE("prune: pg_dump files by the time in their names, with their sidecars and records") {
  PgCluster pg;
  (void)pg.query_scalar("CREATE DATABASE shop");
  for (const char* sql : {"CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL)",
                          "INSERT INTO customers SELECT g, 'customer ' || g "
                          "FROM generate_series(1, 200) g"}) {
    (void)pg.query_scalar(sql, "shop");
  }
  weighlink::testing::seed_captures(pg, 2);
  TempDir root("wl-prune-pattern");
  const auto dir = root / "backups";
  fs::create_directories(dir);

  // One real pg_dump -Fc of the shop, copied to every night's name (what the nights hold does
  // not matter to retention, only their names), each with `sha256sum`'s sidecar.
  const auto made = root / "shop.dump";
  const auto dumped = run({"/usr/lib/postgresql/15/bin/pg_dump", "--format=custom",
                           "--dbname=" + pg.dsn("shop"), "--file=" + made.string()});
  REQUIRE_MESSAGE(dumped.exit_code == 0, dumped.output);
  const std::string digest = weighlink::base::sha256_hex(read_file(made));
  const char* nights[] = {"20250315_0300", "20250314_0300", "20250313_0300", "20250312_0300",
                          "20250301_0300", "20250228_0300", "20250215_0300", "20250131_0300",
                          "20250110_0300", "20241231_0300", "20241130_0300", "20240601_0300"};
  const auto name = [](const std::string& night) { return "pg_dump_" + night + ".dump"; };
  for (const std::string night : nights) {
    fs::copy_file(made, dir / name(night));
    write_text(dir / (name(night) + ".sha256"), digest + "  " + name(night) + "\n");
  }
  // verify-backup passed three of them; verified-latest names a fourth (its record was lost).
  for (const char* night : {"20250215_0300", "20241130_0300", "20240601_0300"}) {
    write_text(dir / weighlink::recovery::verified_name(name(night)), "{}");
  }
  write_text(dir / std::string(weighlink::recovery::kVerifiedLatest),
             weighlink::recovery::to_json(
                 {name("20250110_0300"), digest,
                  *weighlink::base::parse_utc_timestamp("2025-01-10T03:00:00Z"),
                  *weighlink::base::parse_utc_timestamp("2025-01-10T05:00:00Z")}));
  // A weighlink backup (now, with its manifest) and files retention must never touch.
  const auto manifest = weighlink::testing::backup_manifest(pg.dsn(), dir);
  const auto weighlink_dump =
      manifest.filename().string().substr(
          0, manifest.filename().string().size() - std::string(".manifest.json").size()) +
      ".dump";
  REQUIRE(fs::exists(dir / weighlink_dump));
  write_text(dir / "README.txt", "nightly dumps of the shop\n");
  write_text(dir / (name("20250316_0300") + ".partial"), "PGDMP");
  const auto before = files_in(dir);

  // Three days, three months, two years; the newest two verified always. One plan per kind of
  // dump: over both, the weighlink backup of today would take a daily and 2025-03-13 would go.
  const std::vector<std::string> doomed = {name("20250312_0300"), name("20250301_0300"),
                                           name("20240601_0300")};
  const std::vector<std::string> rules = {"--keep-daily",  "3", "--keep-monthly", "3",
                                          "--keep-yearly", "2"};
  const auto prune = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {bin("weighlink-backend"), "prune", "--dir", dir.string()};
    argv.insert(argv.end(), rules.begin(), rules.end());
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv);
  };

  // A bad pattern is bad usage, before anything is listed.
  const auto bad = prune({"--pattern", "pg_dump_%Q.dump"});
  CHECK(bad.exit_code == 2);
  CHECK(has(bad.output, "--pattern: file-name pattern \"pg_dump_%Q.dump\""));
  CHECK(files_in(dir) == before);

  const auto dry = prune({"--dry-run"});
  INFO(dry.output);
  REQUIRE(dry.exit_code == 0);
  CHECK(files_in(dir) == before);
  CHECK(has(dry.output, "retention: dumps with a manifest: 1 dump, 0 verified, by manifest time"));
  CHECK(has(dry.output,
            "retention: pg_dump_%Y%m%d_%H%M.dump: 12 dumps, 3 verified, by the time in the name"));
  CHECK(has(line_of(dry.output, "retention: keep " + weighlink_dump), "newest dump"));
  for (const std::string night : nights) {
    CAPTURE(night);
    const bool goes = std::find(doomed.begin(), doomed.end(), name(night)) != doomed.end();
    CHECK(has(dry.output, "would remove " + name(night)) == goes);
    CHECK(has(dry.output, "keep " + name(night)) == !goes);
  }
  CHECK(has(line_of(dry.output, "retention: keep " + name("20250315_0300")),
            "(2025-03-15T03:00:00Z): newest dump, daily 2025-03-15, monthly 2025-03, yearly 2025"));
  CHECK(has(line_of(dry.output, "retention: keep " + name("20250313_0300")), "daily 2025-03-13"));
  CHECK(has(line_of(dry.output, "retention: keep " + name("20250131_0300")), "monthly 2025-01"));
  CHECK(has(line_of(dry.output, "retention: keep " + name("20241231_0300")), "yearly 2024"));
  CHECK(has(line_of(dry.output, "retention: keep " + name("20250215_0300")),
            "newest verified (1 of 2)"));
  CHECK(has(line_of(dry.output, "retention: keep " + name("20241130_0300")),
            "newest verified (2 of 2)"));
  CHECK(has(line_of(dry.output, "retention: keep " + name("20250110_0300")),
            "verified-latest names it"));
  CHECK(has(line_of(dry.output, "retention: would remove " + name("20240601_0300")),
            "(2024-06-01T03:00:00Z) with " +
                weighlink::recovery::verified_name(name("20240601_0300")) + ", " +
                name("20240601_0300") + ".sha256 from "));
  CHECK(has(line_of(dry.output, "retention: leave README.txt"),
            "no manifest names it and it matches no pattern (pg_dump_%Y%m%d_%H%M.dump, "
            "weighlink_%Y%m%d_%H%M%S.dump) (never touched)"));
  CHECK(has(dry.output, "retention: leave " + name("20250316_0300") +
                            ".partial: a file still being written (.partial) (never touched)"));
  CHECK(has(dry.output,
            "10 kept, 3 would be removed (dry run: nothing removed), 2 other files left alone"));

  const auto pruned = prune({});
  INFO(pruned.output);
  REQUIRE(pruned.exit_code == 0);
  std::set<std::string> expected = before;
  for (const auto& gone : doomed) {
    expected.erase(gone);
    expected.erase(gone + ".sha256");
    expected.erase(weighlink::recovery::verified_name(gone));
    CHECK(has(pruned.output, "retention: removed " + gone));
  }
  CHECK(files_in(dir) == expected);
  CHECK(before.size() - expected.size() == 7);  // three dumps, three sidecars, one record
  CHECK(has(pruned.output, "10 kept, 3 removed, 2 other files left alone"));

  // A second run finds nothing more to remove.
  const auto again = prune({});
  CHECK(again.exit_code == 0);
  CHECK(files_in(dir) == expected);
  CHECK(has(again.output, "10 kept, 0 removed"));
}
