// Tiered retention (weighlink/recovery/retention.hpp) with fixed times: the period keys at their
// boundaries, the newest of each period kept, the protected dumps, and the 30 days + 7 years
// strategy of docs/operations.md over a decade of nightly dumps; and which files of a listed
// folder are the dumps of which plan (retention_folder: manifests, file-name patterns).
#include "weighlink/recovery/retention.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <iterator>
#include <map>
#include <set>

#include "weighlink/base/timestamp.hpp"

using namespace weighlink::recovery;

namespace {

constexpr std::int64_t kDay = std::int64_t{24} * 3600;
constexpr std::int64_t kHour = 3600;

std::int64_t at(const char* utc) {
  const auto t = weighlink::base::parse_utc_timestamp(utc);
  REQUIRE_MESSAGE(t.has_value(), utc);
  return *t;
}

DumpRecord dump_at(const char* utc, bool verified = false) {
  return {std::string("d_") + utc, at(utc), 100, verified};
}

const RetentionDecision& decision(const std::vector<RetentionDecision>& plan,
                                  const std::string& name) {
  const auto it = std::find_if(plan.begin(), plan.end(),
                               [&](const RetentionDecision& d) { return d.name == name; });
  REQUIRE_MESSAGE(it != plan.end(), name);
  return *it;
}

std::set<std::string> kept(const std::vector<RetentionDecision>& plan) {
  std::set<std::string> names;
  for (const auto& d : plan) {
    if (d.keep) names.insert(d.name);
  }
  return names;
}

bool has_reason(const RetentionDecision& d, const std::string& reason) {
  return std::find(d.reasons.begin(), d.reasons.end(), reason) != d.reasons.end();
}

}  // namespace

TEST_CASE("retention: period keys at day, ISO week, month and year boundaries (UTC)") {
  CHECK(day_key(at("2027-01-15T23:59:59Z")) == "2027-01-15");
  CHECK(day_key(at("2027-01-16T00:00:00Z")) == "2027-01-16");
  CHECK(day_key(at("2028-02-29T12:00:00Z")) == "2028-02-29");
  CHECK(day_key(-1) == "1969-12-31");
  // ISO weeks start on Monday; the week-year is the year of the week's Thursday.
  CHECK(iso_week_key(at("2027-01-10T23:59:59Z")) == "2027-W01");  // a Sunday
  CHECK(iso_week_key(at("2027-01-11T00:00:00Z")) == "2027-W02");  // the Monday after
  CHECK(iso_week_key(at("2027-01-01T12:00:00Z")) == "2026-W53");  // a Friday: 2026's last week
  CHECK(iso_week_key(at("2027-01-03T23:59:59Z")) == "2026-W53");  // its Sunday
  CHECK(iso_week_key(at("2027-01-04T00:00:00Z")) == "2027-W01");
  CHECK(iso_week_key(at("2024-12-30T00:00:00Z")) == "2025-W01");  // a Monday in 2025's week 1
  CHECK(iso_week_key(at("2026-12-31T23:59:59Z")) == "2026-W53");
  CHECK(iso_week_key(at("2021-01-03T00:00:00Z")) == "2020-W53");
  // Months and years end at midnight UTC of their last day.
  CHECK(month_key(at("2027-01-31T23:59:59Z")) == "2027-01");
  CHECK(month_key(at("2027-02-01T00:00:00Z")) == "2027-02");
  CHECK(month_key(at("2028-02-29T23:59:59Z")) == "2028-02");
  CHECK(year_key(at("2026-12-31T23:59:59Z")) == "2026");
  CHECK(year_key(at("2027-01-01T00:00:00Z")) == "2027");
}

TEST_CASE("retention: each tier keeps the newest dump of its period, by time not by name") {
  // Two dumps a day for four days; the later one of each day has the earlier name (a clock fix).
  std::vector<DumpRecord> dumps;
  for (int day = 0; day < 4; ++day) {
    const std::int64_t midnight = at("2027-03-01T00:00:00Z") + day * kDay;
    dumps.push_back({"z_day" + std::to_string(day) + "_morning", midnight + 3 * kHour, 10, false});
    dumps.push_back({"a_day" + std::to_string(day) + "_evening", midnight + 21 * kHour, 10, false});
  }
  RetentionPolicy policy;
  policy.daily = 3;
  const auto plan = retention_plan(dumps, policy, at("2027-03-05T00:00:00Z"));
  REQUIRE(plan.size() == 8);
  CHECK(plan.front().name == "a_day3_evening");  // newest first
  CHECK(kept(plan) == std::set<std::string>{"a_day3_evening", "a_day2_evening", "a_day1_evening"});
  CHECK(has_reason(decision(plan, "a_day3_evening"), "newest dump"));
  CHECK(has_reason(decision(plan, "a_day3_evening"), "daily 2027-03-04"));
  CHECK(has_reason(decision(plan, "a_day1_evening"), "daily 2027-03-02"));
  const auto& gone = decision(plan, "z_day2_morning");
  CHECK_FALSE(gone.keep);
  REQUIRE(gone.reasons.size() == 1);
  CHECK(gone.reasons[0].find("kept by no rule (3 daily") != std::string::npos);
  CHECK_FALSE(decision(plan, "a_day0_evening").keep);  // a fourth day: past the three
}

TEST_CASE("retention: the tiers count periods that hold a dump, so a pause deletes nothing new") {
  // Nightly dumps for 10 days, then nothing for 90 days: 7 dailies are still 7 dumps.
  std::vector<DumpRecord> dumps;
  dumps.reserve(10);
  for (int i = 0; i < 10; ++i) {
    dumps.push_back({"n" + std::to_string(i), at("2027-01-01T02:00:00Z") + i * kDay, 10, false});
  }
  RetentionPolicy policy;
  policy.daily = 7;
  const auto plan = retention_plan(dumps, policy, at("2027-01-10T02:00:00Z") + 90 * kDay);
  CHECK(kept(plan).size() == 7);
  CHECK_FALSE(decision(plan, "n2").keep);
  CHECK(decision(plan, "n3").keep);
}

TEST_CASE("retention: week, month and year ends pick the last dump before the boundary") {
  // Nightly at 23:30 UTC from 2026-12-20 to 2027-01-12.
  std::vector<DumpRecord> dumps;
  for (std::int64_t t = at("2026-12-20T23:30:00Z"); t <= at("2027-01-12T23:30:00Z"); t += kDay) {
    dumps.push_back({day_key(t), t, 10, false});
  }
  RetentionPolicy policy;
  policy.weekly = 10;
  policy.monthly = 10;
  policy.yearly = 10;
  const auto plan = retention_plan(dumps, policy, at("2027-01-13T00:00:00Z"));
  // Weeks end on Sunday: 2026-12-20 (W51), 12-27 (W52), 2027-01-03 (W53 of 2026), 01-10 (W01),
  // and the newest, 01-12 (W02).
  CHECK(has_reason(decision(plan, "2026-12-20"), "weekly 2026-W51"));
  CHECK(has_reason(decision(plan, "2026-12-27"), "weekly 2026-W52"));
  CHECK(has_reason(decision(plan, "2027-01-03"), "weekly 2026-W53"));
  CHECK(has_reason(decision(plan, "2027-01-10"), "weekly 2027-W01"));
  CHECK(has_reason(decision(plan, "2027-01-12"), "weekly 2027-W02"));
  // The month and the year end on 12-31.
  CHECK(has_reason(decision(plan, "2026-12-31"), "monthly 2026-12"));
  CHECK(has_reason(decision(plan, "2026-12-31"), "yearly 2026"));
  CHECK(has_reason(decision(plan, "2027-01-12"), "monthly 2027-01"));
  CHECK(has_reason(decision(plan, "2027-01-12"), "yearly 2027"));
  CHECK(kept(plan) == std::set<std::string>{"2026-12-20", "2026-12-27", "2026-12-31", "2027-01-03",
                                            "2027-01-10", "2027-01-12"});
  CHECK_FALSE(decision(plan, "2027-01-01").keep);
  CHECK_FALSE(decision(plan, "2027-01-11").keep);
}

TEST_CASE("retention: the newest dump and the newest verified dumps stay whatever the rules") {
  const std::vector<DumpRecord> dumps = {
      dump_at("2020-01-01T00:00:00Z", true), dump_at("2021-01-01T00:00:00Z", true),
      dump_at("2022-01-01T00:00:00Z", true), dump_at("2022-06-01T00:00:00Z"),
      dump_at("2022-06-02T00:00:00Z")};
  RetentionPolicy policy;
  policy.within_days = 1;
  const auto plan = retention_plan(dumps, policy, at("2030-01-01T00:00:00Z"));
  CHECK(kept(plan) == std::set<std::string>{"d_2022-06-02T00:00:00Z", "d_2022-01-01T00:00:00Z",
                                            "d_2021-01-01T00:00:00Z"});
  CHECK(has_reason(decision(plan, "d_2022-06-02T00:00:00Z"), "newest dump"));
  CHECK(has_reason(decision(plan, "d_2022-01-01T00:00:00Z"), "newest verified (1 of 2)"));
  CHECK(has_reason(decision(plan, "d_2021-01-01T00:00:00Z"), "newest verified (2 of 2)"));
  CHECK(decision(plan, "d_2020-01-01T00:00:00Z").reasons[0].find("older than 1 days") !=
        std::string::npos);
  // The days-only rule of --retention-days is the same plan.
  CHECK(retention_deletions(dumps, at("2030-01-01T00:00:00Z"), 1) ==
        std::vector<std::string>{"d_2020-01-01T00:00:00Z", "d_2022-06-01T00:00:00Z"});
  CHECK(retention_plan({}, policy, 0).empty());
}

TEST_CASE("retention: 30 days of dailies plus 7 years of archive over ten years of nightlies") {
  // The DR strategy of docs/operations.md: --keep-daily 30 --keep-monthly 12 --keep-yearly 7.
  const std::int64_t first = at("2020-01-01T02:00:00Z");
  const std::int64_t now = at("2029-12-31T12:00:00Z");
  std::vector<DumpRecord> dumps;
  for (std::int64_t t = first; t <= now; t += kDay) {
    dumps.push_back({day_key(t), t, 10, t >= now - 2 * kDay});  // the last two nights verified
  }
  RetentionPolicy policy;
  policy.daily = 30;
  policy.monthly = 12;
  policy.yearly = 7;
  const auto plan = retention_plan(dumps, policy, now);
  const auto keep = kept(plan);
  std::map<std::string, int> by_tier;
  for (const auto& d : plan) {
    for (const auto& r : d.reasons) by_tier[r.substr(0, r.find(' '))] += d.keep ? 1 : 0;
  }
  CHECK(by_tier["daily"] == 30);
  CHECK(by_tier["monthly"] == 12);
  CHECK(by_tier["yearly"] == 7);
  // The dailies cover 2029-12-02..12-31; the monthlies are the last day of 2029-01..11 (and the
  // newest for 12); the yearlies 12-31 of 2023..2028 (and the newest for 2029). The months of 2029
  // overlap the dailies and the year: 30 + 11 + 6 distinct dumps.
  CHECK(keep.size() == 47);
  CHECK(keep.contains("2029-12-02"));
  CHECK_FALSE(keep.contains("2029-12-01"));
  CHECK(keep.contains("2029-01-31"));
  CHECK(keep.contains("2029-11-30"));
  CHECK_FALSE(keep.contains("2028-12-30"));
  CHECK(keep.contains("2028-12-31"));
  CHECK(keep.contains("2023-12-31"));
  CHECK_FALSE(keep.contains("2022-12-31"));
  CHECK_FALSE(keep.contains("2020-01-01"));
  CHECK(has_reason(decision(plan, "2023-12-31"), "yearly 2023"));
}

TEST_CASE("retention: describe() names the rules that are set") {
  RetentionPolicy policy;
  CHECK_FALSE(policy.any());
  policy.daily = 30;
  policy.yearly = 7;
  CHECK(policy.any());
  CHECK(policy.describe() == "30 daily, 7 yearly, 2 newest verified");
}

// Retention over a folder's listing (retention_folder): which files are dumps of which plan, at
// which time, and which files retention leaves alone. Fixed listings, no clock, no folder.
namespace {

StoreEntry file(std::string name, std::int64_t mtime = 0) {
  return {std::move(name), 4096,
          std::chrono::system_clock::time_point(std::chrono::seconds(mtime))};
}

std::vector<DumpNamePattern> patterns(std::initializer_list<std::string_view> texts) {
  std::vector<DumpNamePattern> parsed;
  for (const auto t : texts) parsed.push_back(DumpNamePattern::parse(t).value());
  return parsed;
}

std::map<std::string, std::int64_t> times(const RetentionGroup& group) {
  std::map<std::string, std::int64_t> by_name;
  for (const auto& d : group.dumps) by_name[d.name] = d.created_at;
  return by_name;
}

std::set<std::string> verified(const RetentionGroup& group) {
  std::set<std::string> names;
  for (const auto& d : group.dumps) {
    if (d.verified) names.insert(d.name);
  }
  return names;
}

std::map<std::string, std::string> left(const RetentionFolder& folder) {
  std::map<std::string, std::string> why;
  for (const auto& l : folder.left) why[l.name] = l.why;
  return why;
}

// A platform's nightly CronJob: pg_dump files, a sidecar, a verified record, and other files.
const std::vector<StoreEntry> kCronFolder = {
    file("pg_dump_20261120_0300.dump", 5000),
    file("README.txt"),
    file("pg_dump_20261121_0300.dump", 1000),
    file("pg_dump_20261121_0300.dump.sha256"),
    file("pg_dump_20261119_0300.dump", 9000),
    file("pg_dump_20261120_0300.verified.json"),
    file("pg_dump_20261122_0300.dump.partial"),
    file("pg_dump_20261001_0300.dump.sha256"),  // its dump is gone
    file("verified-latest"),
    file("shop.sql"),
};

}  // namespace

TEST_CASE("retention folder: pg_dump files by the time in their name, verified by their record") {
  const auto folder =
      retention_folder({}, kCronFolder, patterns({kDefaultDumpPatterns[0]}), NewestBy::name);
  REQUIRE(folder.groups.size() == 1);
  const auto& group = folder.groups[0];
  CHECK(group.what == "pg_dump_%Y%m%d_%H%M.dump");
  CHECK_FALSE(group.with_manifests);
  CHECK(times(group) == std::map<std::string, std::int64_t>{
                            {"pg_dump_20261119_0300.dump", at("2026-11-19T03:00:00Z")},
                            {"pg_dump_20261120_0300.dump", at("2026-11-20T03:00:00Z")},
                            {"pg_dump_20261121_0300.dump", at("2026-11-21T03:00:00Z")}});
  CHECK(verified(group) == std::set<std::string>{"pg_dump_20261120_0300.dump"});
  // Sidecars and records of a dump go with it; verified-latest is no dump; the rest is left,
  // each with why.
  const std::string no_pattern =
      "no manifest names it and it matches no pattern (pg_dump_%Y%m%d_%H%M.dump)";
  CHECK(left(folder) ==
        std::map<std::string, std::string>{
            {"README.txt", no_pattern},
            {"pg_dump_20261001_0300.dump.sha256", no_pattern},
            {"pg_dump_20261122_0300.dump.partial", "a file still being written (.partial)"},
            {"shop.sql", no_pattern}});
}

TEST_CASE("retention folder: --newest-by mtime dates the same files by modification time") {
  const auto folder =
      retention_folder({}, kCronFolder, patterns({kDefaultDumpPatterns[0]}), NewestBy::mtime);
  REQUIRE(folder.groups.size() == 1);
  CHECK(times(folder.groups[0]) ==
        std::map<std::string, std::int64_t>{{"pg_dump_20261119_0300.dump", 9000},
                                            {"pg_dump_20261120_0300.dump", 5000},
                                            {"pg_dump_20261121_0300.dump", 1000}});
  // So the plan's newest dump is the one copied last, whatever its name says.
  RetentionPolicy policy;
  policy.daily = 1;
  const auto plan = retention_plan(folder.groups[0].dumps, policy, 10000);
  CHECK(kept(plan) ==
        std::set<std::string>{"pg_dump_20261119_0300.dump", "pg_dump_20261120_0300.dump"});
}

TEST_CASE("retention folder: weighlink's backups and each pattern are planned apart") {
  Catalog catalog;
  catalog.records = {{"weighlink_20261121_030007.dump", at("2026-11-21T03:00:07Z"), 100, true}};
  catalog.manifests["weighlink_20261121_030007.dump"] = {};
  const std::vector<StoreEntry> entries = {
      file("weighlink_20261121_030007.dump"),
      file("weighlink_20261121_030007.manifest.json"),
      file("weighlink_20261121_030007.verified.json"),
      file("weighlink_20261122_030007.dump"),  // its backup is still running
      file("weighlink_20261101_030007.dump"),
      file("weighlink_20261101_030007.manifest.json"),  // unreadable: not in the catalog
      file("pg_dump_20261121_0300.dump"),
      file("pg_dump_20261120_0300.dump"),
      file("app_20261121.dump"),
      file("app_20261121.dump.sha256"),
  };
  const auto folder = retention_folder(
      catalog, entries,
      patterns({kDefaultDumpPatterns[0], kDefaultDumpPatterns[1], "app_%Y%m%d.dump"}),
      NewestBy::name);
  REQUIRE(folder.groups.size() == 3);
  CHECK(folder.groups[0].what == "dumps with a manifest");
  CHECK(folder.groups[0].with_manifests);
  CHECK(verified(folder.groups[0]) == std::set<std::string>{"weighlink_20261121_030007.dump"});
  CHECK(times(folder.groups[1]).size() == 2);
  CHECK(folder.groups[1].what == kDefaultDumpPatterns[0]);
  // weighlink's own pattern has no group: its files are backups, with a manifest or soon one.
  CHECK(folder.groups[2].what == "app_%Y%m%d.dump");
  CHECK(times(folder.groups[2]) ==
        std::map<std::string, std::int64_t>{{"app_20261121.dump", at("2026-11-21T00:00:00Z")}});
  CHECK(left(folder) == std::map<std::string, std::string>{
                            {"weighlink_20261101_030007.dump",
                             "its manifest weighlink_20261101_030007.manifest.json cannot be read"},
                            {"weighlink_20261122_030007.dump",
                             "a weighlink backup whose manifest is not written yet"}});
  // One plan per group: each keeps its own newest, whatever the other databases' times.
  RetentionPolicy policy;
  policy.daily = 1;
  for (const auto& group : folder.groups) {
    const auto plan = retention_plan(group.dumps, policy, at("2026-12-01T00:00:00Z"));
    CHECK(plan.front().keep);
  }
}

TEST_CASE("retention folder: weighlink dumps in a folder without manifests are a pattern's") {
  const std::vector<StoreEntry> entries = {file("weighlink_20261121_030007.dump"),
                                           file("weighlink_20261120_030007.dump")};
  const auto defaults = patterns({kDefaultDumpPatterns[0], kDefaultDumpPatterns[1]});
  const auto folder = retention_folder({}, entries, defaults, NewestBy::name);
  REQUIRE(folder.groups.size() == 1);
  CHECK(folder.groups[0].what == kDefaultDumpPatterns[1]);
  CHECK(times(folder.groups[0]).size() == 2);
  // Without patterns (backup's retention) they are left alone.
  const auto manifests_only = retention_folder({}, entries, {}, NewestBy::name);
  CHECK(manifests_only.groups.empty());
  CHECK(left(manifests_only).at("weighlink_20261121_030007.dump") ==
        "no manifest names it and it matches no pattern (none given)");
}

TEST_CASE("retention folder: a name two patterns match is planned once, in the first") {
  // 2026-01-02 read as day-month, or 2026-02-01 read as month-day.
  const std::vector<StoreEntry> entries = {file("db_20260102.dump"), file("db_20261301.dump")};
  const auto folder =
      retention_folder({}, entries, patterns({"db_%Y%m%d.dump", "db_%Y%d%m.dump"}), NewestBy::name);
  REQUIRE(folder.groups.size() == 2);
  CHECK(times(folder.groups[0]) ==
        std::map<std::string, std::int64_t>{{"db_20260102.dump", at("2026-01-02T00:00:00Z")}});
  CHECK(times(folder.groups[1]) ==
        std::map<std::string, std::int64_t>{{"db_20261301.dump", at("2026-01-13T00:00:00Z")}});
  CHECK(folder.left.empty());
}

TEST_CASE("retention folder: --pattern as verify-backup reads it, the defaults when none") {
  const auto defaults = parse_dump_patterns({});
  REQUIRE(defaults.has_value());
  REQUIRE(defaults->size() == std::size(kDefaultDumpPatterns));
  CHECK((*defaults)[0].text() == kDefaultDumpPatterns[0]);
  const auto bad = parse_dump_patterns({"app_%Y%m%d.dump", "app_%Q.dump"});
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message.find("app_%Q.dump") != std::string::npos);
}
