#include "weighlink/recovery/backup_policy.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace weighlink::recovery;

namespace {

constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kT0 = 1'800'000'000;  // 2027-01-15

DumpRecord dump(const std::string& name, std::int64_t at, std::uint64_t size,
                bool verified = false) {
  return {name, at, size, verified};
}

}  // namespace

TEST_CASE("backup policy: manifest timestamps round-trip and bad ones are refused") {
  CHECK(parse_utc_timestamp("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_utc_timestamp("2026-11-21T03:00:07Z") == 1795230007);
  CHECK(parse_utc_timestamp("2000-02-29T12:00:00Z") == 951825600);
  for (const std::int64_t t : {std::int64_t{0}, std::int64_t{951825600}, kT0, kT0 + 86399}) {
    CHECK(parse_utc_timestamp(format_utc_timestamp(t)) == t);
  }
  CHECK(format_utc_timestamp(1795230007) == "2026-11-21T03:00:07Z");
  for (const char* bad :
       {"", "2026-11-21 03:00:07Z", "2026-11-21T03:00:07", "2026-13-01T00:00:00Z",
        "2026-11-21T24:00:00Z", "20x6-11-21T03:00:07Z", "2026-11-21T03:00:07+00"}) {
    CHECK_FALSE(parse_utc_timestamp(bad).has_value());
  }
}

TEST_CASE("backup policy: the newest dump is chosen by manifest time, not by name") {
  // After a clock fix, the file named later was made earlier: the manifest decides.
  const std::vector<DumpRecord> dumps = {
      dump("weighlink_20270115_090000.dump", kT0 - kDay, 10),
      dump("weighlink_20270101_000000.dump", kT0, 10),
      dump("weighlink_20270110_000000.dump", kT0 - 2 * kDay, 10)};
  REQUIRE(newest_dump(dumps));
  CHECK(newest_dump(dumps)->name == "weighlink_20270101_000000.dump");
  CHECK_FALSE(newest_dump({}).has_value());

  const std::vector<DumpRecord> some_verified = {
      dump("a", kT0 - 3 * kDay, 1, true), dump("b", kT0 - 2 * kDay, 1, true),
      dump("c", kT0 - kDay, 1, false), dump("d", kT0, 1)};
  CHECK(previous_verified(some_verified, kT0)->name == "b");
  CHECK(previous_verified(some_verified, kT0 - 2 * kDay)->name == "a");
  CHECK_FALSE(previous_verified(some_verified, kT0 - 3 * kDay).has_value());
}

TEST_CASE("backup policy: the size guard holds a floor and a band around the 7-day median") {
  std::vector<DumpRecord> dumps;
  for (int i = 1; i <= 7; ++i) dumps.push_back(dump("d" + std::to_string(i), kT0 - i * kDay, 1000));
  dumps.push_back(dump("old", kT0 - 20 * kDay, 1'000'000));  // outside the window: not counted

  const auto fine = size_guard(dump("new", kT0, 1900), dumps, 100, 2.0);
  CHECK(fine.kind == SizeVerdict::Kind::ok);
  CHECK(fine.median == 1000);
  CHECK(fine.window_dumps == 7);

  const auto tripled = size_guard(dump("new", kT0, 3000), dumps, 100, 2.0);
  CHECK(tripled.kind == SizeVerdict::Kind::exceeded);
  CHECK(tripled.detail.find("3000 bytes") != std::string::npos);

  const auto third = size_guard(dump("new", kT0, 333), dumps, 100, 2.0);
  CHECK(third.kind == SizeVerdict::Kind::shrunk);

  const auto floor = size_guard(dump("new", kT0, 50), dumps, 100, 2.0);
  CHECK(floor.kind == SizeVerdict::Kind::shrunk);
  CHECK(floor.detail.find("floor") != std::string::npos);

  // The first dump ever: only the floor.
  CHECK(size_guard(dump("first", kT0, 5000), {}, 100, 2.0).kind == SizeVerdict::Kind::ok);
  CHECK(size_guard(dump("first", kT0, 0), {}, 1, 2.0).kind == SizeVerdict::Kind::shrunk);
  // Even count: the median is the mean of the middle two.
  const std::vector<DumpRecord> two = {dump("x", kT0 - kDay, 100), dump("y", kT0 - 2 * kDay, 300)};
  CHECK(size_guard(dump("z", kT0, 250), two, 1, 2.0).median == 200);
}

TEST_CASE("backup policy: restored counts must equal the manifest exactly") {
  const RowCounts manifest = {{"stations", 3}, {"mutation_log", 100}, {"weighings", 80}};
  CHECK(restored_vs_manifest(manifest, manifest).empty());
  auto off_by_one = manifest;
  off_by_one["weighings"] = 79;
  const auto drift = restored_vs_manifest(manifest, off_by_one);
  REQUIRE(drift.size() == 1);
  CHECK(drift[0].table == "weighings");
  CHECK(drift[0].expected == 80);
  CHECK(drift[0].actual == 79);
  auto missing = manifest;
  missing.erase("stations");
  missing["stray"] = 1;
  const auto two = restored_vs_manifest(manifest, missing);
  REQUIRE(two.size() == 2);
  CHECK(two[0].actual == -1);
  CHECK(two[1].table == "stray");
}

TEST_CASE("backup policy: a table that shrinks beyond tolerance since the last verified dump") {
  const RowCounts previous = {{"mutation_log", 1000}, {"weighings", 800}, {"stations", 4}};
  RowCounts grown = {{"mutation_log", 5000}, {"weighings", 4000}, {"stations", 4}};
  CHECK(drift_vs_previous(previous, grown, 0.1).empty());

  RowCounts halved = grown;
  halved["weighings"] = 400;
  const auto drift = drift_vs_previous(previous, halved, 0.1);
  REQUIRE(drift.size() == 1);
  CHECK(drift[0].table == "weighings");
  CHECK(drift[0].detail.find("-50.0 %") != std::string::npos);

  RowCounts slightly = grown;
  slightly["weighings"] = 760;  // -5 %
  CHECK(drift_vs_previous(previous, slightly, 0.1).empty());
  CHECK(drift_vs_previous(previous, slightly, 0.01).size() == 1);

  RowCounts dropped = grown;
  dropped.erase("stations");
  const auto gone = drift_vs_previous(previous, dropped, 0.5);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].actual == -1);
  // From an empty table nothing can shrink.
  CHECK(drift_vs_previous({{"t", 0}}, {{"t", 0}}, 0.0).empty());
}

TEST_CASE("backup policy: retention keeps the newest two verified dumps whatever their age") {
  // Daily dumps for 40 days; only two of them, 35 and 30 days old, ever verified.
  std::vector<DumpRecord> dumps;
  dumps.reserve(40);
  for (int age = 0; age < 40; ++age) {
    dumps.push_back(
        dump("d" + std::to_string(age), kT0 - age * kDay - 60, 100, age == 35 || age == 30));
  }
  const auto doomed = retention_deletions(dumps, kT0, 7);
  // Ages 7..39 are past 7 days; 30 and 35 stay.
  CHECK(doomed.size() == 31);
  CHECK(std::find(doomed.begin(), doomed.end(), "d30") == doomed.end());
  CHECK(std::find(doomed.begin(), doomed.end(), "d35") == doomed.end());
  CHECK(std::find(doomed.begin(), doomed.end(), "d6") == doomed.end());
  CHECK(doomed.front() == "d39");  // oldest first

  // A third verified dump, newer, releases the oldest of the two.
  dumps[20].verified = true;
  const auto after = retention_deletions(dumps, kT0, 7);
  CHECK(std::find(after.begin(), after.end(), "d35") != after.end());
  CHECK(std::find(after.begin(), after.end(), "d30") == after.end());
  CHECK(std::find(after.begin(), after.end(), "d20") == after.end());
}

TEST_CASE("backup policy: retention orders by manifest time and never deletes the newest dump") {
  // Names sort the other way round from their manifest times (a clock reset).
  const std::vector<DumpRecord> dumps = {dump("weighlink_2099.dump", kT0 - 50 * kDay, 1),
                                         dump("weighlink_2000.dump", kT0 - 40 * kDay, 1)};
  const auto doomed = retention_deletions(dumps, kT0, 30);
  REQUIRE(doomed.size() == 1);
  CHECK(doomed[0] == "weighlink_2099.dump");
  // Everything old and nothing verified: the newest stays anyway.
  CHECK(retention_deletions({dump("only", kT0 - 90 * kDay, 1)}, kT0, 7).empty());
}

TEST_CASE("backup policy: the DR gate checks each fact against its policy") {
  DrFacts facts;
  facts.latest_backup_at = kT0 - 3600;
  facts.latest_verified_at = kT0 - 3 * kHour;
  facts.latest_drill_at = kT0 - 10 * kDay;
  facts.latest_drill_passed = true;
  facts.latest_drill_rto_s = 42.5;
  const auto checks = dr_gate(facts, DrPolicy{}, kT0);
  REQUIRE(checks.size() == 5);
  for (const auto& c : checks) CHECK_MESSAGE(c.met, c.name << ": " << c.detail);

  DrFacts stale = facts;
  stale.latest_verified_at = kT0 - 27 * kHour;
  stale.latest_drill_at = kT0 - 32 * kDay;
  const auto bad = dr_gate(stale, DrPolicy{}, kT0);
  CHECK_FALSE(bad[1].met);
  CHECK(bad[1].detail.find("27 h ago") != std::string::npos);
  CHECK_FALSE(bad[2].met);
  CHECK(bad[0].met);

  DrFacts failed = facts;
  failed.latest_drill_passed = false;
  const auto f = dr_gate(failed, DrPolicy{}, kT0);
  CHECK_FALSE(f[3].met);
  CHECK_FALSE(f[4].met);

  DrPolicy tight;
  tight.max_rto_s = 30;
  CHECK_FALSE(dr_gate(facts, tight, kT0)[4].met);

  const auto nothing = dr_gate(DrFacts{}, DrPolicy{}, kT0);
  for (const auto& c : nothing) CHECK_FALSE(c.met);
}

TEST_CASE("backup policy: the RPO line names the tier it meets and what 1 h needs") {
  CHECK(rpo_tier_guidance(std::nullopt).starts_with("RPO unknown: no verified dump"));
  CHECK(rpo_tier_guidance(30 * 60).starts_with("RPO now 30 min, within 1 h only because"));
  CHECK(rpo_tier_guidance(5 * 3600).starts_with("RPO now 5 h, within the 24 h tier"));
  CHECK(rpo_tier_guidance(30 * 3600).starts_with("RPO now 30 h, beyond the 24 h tier"));
  for (const auto rpo : {std::optional<std::int64_t>(), std::optional<std::int64_t>(600)}) {
    CHECK(rpo_tier_guidance(rpo).find("1 h RPO needs PITR (continuous WAL archiving") !=
          std::string::npos);
  }
  CHECK(human_duration(119) == "119 s");
  CHECK(human_duration(2 * 3600 - 1) == "119 min");
  CHECK(human_duration(31 * kDay) == "31 d");
}

TEST_CASE("backup policy: the monitor recovers after the threshold, outside the cooldown only") {
  MonitorState monitor(MonitorPolicy{3, 3600, true});
  CHECK(monitor.observe(false, kT0).action == MonitorState::Action::none);
  CHECK(monitor.observe(false, kT0 + 10).action == MonitorState::Action::none);
  // A healthy check in between starts the count again.
  CHECK(monitor.observe(true, kT0 + 20).action == MonitorState::Action::none);
  CHECK(monitor.observe(false, kT0 + 30).consecutive_failures == 1);
  CHECK(monitor.observe(false, kT0 + 40).action == MonitorState::Action::none);
  const auto third = monitor.observe(false, kT0 + 50);
  CHECK(third.action == MonitorState::Action::recover);
  CHECK(third.consecutive_failures == 3);
  monitor.recovered(kT0 + 60);
  // Still failing after the recovery: inside the cooldown it holds.
  for (int i = 0; i < 2; ++i) (void)monitor.observe(false, kT0 + 70 + i);
  const auto held = monitor.observe(false, kT0 + 100);
  CHECK(held.action == MonitorState::Action::hold);
  CHECK(held.reason.find("cooldown") != std::string::npos);
  // After the cooldown it may recover again.
  CHECK(monitor.observe(false, kT0 + 60 + 3600).action == MonitorState::Action::recover);

  MonitorState alert_only(MonitorPolicy{2, 3600, false});
  (void)alert_only.observe(false, kT0);
  const auto alert = alert_only.observe(false, kT0 + 1);
  CHECK(alert.action == MonitorState::Action::alert);
  CHECK(alert.reason.find("--recover") != std::string::npos);
}

TEST_CASE("backup policy: the monitor never recovers from a failure a restore does not fix") {
  MonitorState monitor(MonitorPolicy{2, 3600, true});
  (void)monitor.observe(false, kT0, false);
  const auto second = monitor.observe(false, kT0 + 10, false);
  CHECK(second.action == MonitorState::Action::alert);
  CHECK(second.consecutive_failures == 2);
  CHECK(second.reason.find("operator") != std::string::npos);
  // No recovery happened, so no cooldown either: a restorable failure recovers at once.
  CHECK(monitor.observe(false, kT0 + 20).action == MonitorState::Action::recover);
}
