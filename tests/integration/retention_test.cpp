// Tiered retention end to end over a real folder of backups: `prune --dry-run` lists what would go
// and why each dump stays and removes nothing; `prune` removes exactly that (dump, manifest and
// verification record); `backup --keep-*` applies the rules after its dump. The backups sit at
// fixed past times (a real dump moved to 2005, copies of its manifest before it), so which dump
// is the newest of its day, month or year never depends on when the test runs.
#include <doctest/doctest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "weighlink/base/timestamp.hpp"
#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/backup_data.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::testing::bin;
using weighlink::testing::PgCluster;
using weighlink::testing::run;
using weighlink::testing::TempDir;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::int64_t at(const char* utc) { return *weighlink::base::parse_utc_timestamp(utc); }

std::string name_at(std::int64_t t) {
  return "weighlink_" + weighlink::base::format_utc_file_stamp(t);
}

std::set<std::string> dumps_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".dump") names.insert(e.path().stem().string());
  }
  return names;
}

std::size_t files_in(const fs::path& dir) {
  return static_cast<std::size_t>(
      std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

}  // namespace

TEST_CASE("retention: prune --dry-run lists, prune removes, backup --keep-* applies the tiers") {
  PgCluster pg;
  weighlink::testing::seed_captures(pg, 20);
  TempDir root("wl-tiered-retention");
  const auto dir = root / "backups";
  // The real backup, moved to 2005-01-01T03:00:00Z.
  const auto real_manifest = weighlink::testing::backup_manifest(pg.dsn(), dir);
  const auto created = weighlink::base::parse_utc_timestamp(
      weighlink::testing::read_json(real_manifest).at("created_at").as_string());
  REQUIRE(created.has_value());
  const auto moved = weighlink::testing::backdate_backup(
      real_manifest, std::chrono::seconds(*created - at("2005-01-01T03:00:00Z")));
  const auto manifest = weighlink::testing::read_json(moved);
  const std::string real = name_at(at("2005-01-01T03:00:00Z"));
  REQUIRE(fs::exists(dir / (real + ".dump")));

  // Older backups at fixed times; the two of 2001 and 2002 were verified.
  const char* times[] = {"2004-06-30T03:00:00Z", "2004-06-29T03:00:00Z", "2004-06-28T03:00:00Z",
                         "2004-05-31T03:00:00Z", "2004-05-15T03:00:00Z", "2003-12-31T03:00:00Z",
                         "2003-12-30T03:00:00Z", "2002-12-31T03:00:00Z", "2001-12-31T03:00:00Z",
                         "2001-06-01T03:00:00Z"};
  for (const char* time : times) {
    const std::string base = name_at(at(time));
    auto m = manifest;
    m["dump"] = base + ".dump";
    m["created_at"] = time;
    std::ofstream(dir / (base + ".dump")) << "dump of " << time;
    std::ofstream(dir / (base + ".manifest.json")) << json::serialize(m);
    if (std::string_view(time).starts_with("2002") ||
        std::string_view(time).starts_with("2001-12")) {
      std::ofstream(dir / (base + ".verified.json")) << "{}";
    }
  }
  const std::set<std::string> all = dumps_in(dir);
  REQUIRE(all.size() == 11);
  const std::size_t files_before = files_in(dir);
  const std::set<std::string> doomed = {
      name_at(at("2004-06-28T03:00:00Z")), name_at(at("2004-05-15T03:00:00Z")),
      name_at(at("2003-12-30T03:00:00Z")), name_at(at("2001-06-01T03:00:00Z"))};
  const std::vector<std::string> rules = {"--keep-daily",  "3", "--keep-monthly", "3",
                                          "--keep-yearly", "3"};
  const auto prune = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {bin("weighlink-backend"), "prune", "--dir", dir.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv);
  };

  // Without a rule prune refuses and removes nothing.
  const auto no_rule = prune({});
  CHECK(no_rule.exit_code == 2);
  CHECK(no_rule.output.find("no rule given") != std::string::npos);
  CHECK(files_in(dir) == files_before);

  // Dry run: every decision, nothing removed.
  auto with_dry_run = rules;
  with_dry_run.emplace_back("--dry-run");
  const auto dry = prune(with_dry_run);
  INFO(dry.output);
  REQUIRE(dry.exit_code == 0);
  CHECK(files_in(dir) == files_before);
  for (const auto& name : all) {
    CAPTURE(name);
    const bool goes = doomed.contains(name);
    CHECK((dry.output.find("would remove " + name + ".dump") != std::string::npos) == goes);
    CHECK((dry.output.find("keep " + name + ".dump") != std::string::npos) == !goes);
  }
  const auto line_of = [&](const std::string& name) {
    const auto start = dry.output.find("keep " + name + ".dump");
    REQUIRE(start != std::string::npos);
    return dry.output.substr(start, dry.output.find('\n', start) - start);
  };
  CHECK(line_of(real).find("newest dump, daily 2005-01-01, monthly 2005-01, yearly 2005") !=
        std::string::npos);
  CHECK(line_of(name_at(at("2004-06-29T03:00:00Z"))).find("daily 2004-06-29") != std::string::npos);
  CHECK(line_of(name_at(at("2004-05-31T03:00:00Z"))).find("monthly 2004-05") != std::string::npos);
  CHECK(line_of(name_at(at("2003-12-31T03:00:00Z"))).find("yearly 2003") != std::string::npos);
  CHECK(line_of(name_at(at("2002-12-31T03:00:00Z"))).find("newest verified (1 of 2)") !=
        std::string::npos);
  CHECK(line_of(name_at(at("2001-12-31T03:00:00Z"))).find("newest verified (2 of 2)") !=
        std::string::npos);
  CHECK(dry.output.find("7 kept, 4 would be removed") != std::string::npos);

  // For real: exactly those, each with its manifest and verification record.
  const auto pruned = prune(rules);
  INFO(pruned.output);
  REQUIRE(pruned.exit_code == 0);
  std::set<std::string> left;
  std::set_difference(all.begin(), all.end(), doomed.begin(), doomed.end(),
                      std::inserter(left, left.end()));
  CHECK(dumps_in(dir) == left);
  CHECK(files_in(dir) == 7 * 2 + 2);  // dumps and manifests, the two verification records
  for (const auto& name : doomed) {
    CHECK(pruned.output.find("retention: removed " + name + ".dump") != std::string::npos);
  }

  // A backup with its own rules: today's dump and 2005's are the two daily and yearly ones; the
  // two verified dumps stay; the rest of 2003-2004 goes.
  const auto b = run({bin("weighlink-backend"), "backup", "--dsn", pg.dsn(), "--dir", dir.string(),
                      "--keep-daily", "2", "--keep-yearly", "2"});
  INFO(b.output);
  REQUIRE(b.exit_code == 0);
  const auto after = dumps_in(dir);
  CHECK(after.size() == 4);
  CHECK(after.contains(real));
  CHECK(after.contains(name_at(at("2002-12-31T03:00:00Z"))));
  CHECK(after.contains(name_at(at("2001-12-31T03:00:00Z"))));
  CHECK_FALSE(after.contains(name_at(at("2004-06-30T03:00:00Z"))));
  CHECK(b.output.find("retention: removed " + name_at(at("2003-12-31T03:00:00Z")) + ".dump") !=
        std::string::npos);
}
