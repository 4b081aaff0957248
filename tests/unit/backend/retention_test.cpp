// Tiered retention (weighlink/recovery/retention.hpp) with fixed times: the period keys at their
// boundaries, the newest of each period kept, the protected dumps, and the 30 days + 7 years
// strategy of docs/operations.md over a decade of nightly dumps.
#include "weighlink/recovery/retention.hpp"

#include <doctest/doctest.h>

#include <algorithm>
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
