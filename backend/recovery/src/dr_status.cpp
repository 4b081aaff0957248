// weighlink-backend dr-status: the production-readiness gate (drill.hpp; docs/operations.md, "DR
// status gate"). Reads the backup folder and the ops log, never a database; the decision is
// dr_gate()'s.
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <ostream>

#include "command_clock.hpp"
#include "json_text.hpp"
#include "weighlink/recovery/backup_catalog.hpp"
#include "weighlink/recovery/commands.hpp"
#include "weighlink/recovery/drill.hpp"
#include "weighlink/recovery/offsite.hpp"

namespace weighlink::recovery {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

json::value time_or_null(const std::optional<std::int64_t>& at) {
  return at ? json::value(format_utc_timestamp(*at)) : json::value(nullptr);
}

// The ops log's records in file order; unreadable lines are skipped with a note each.
std::vector<DrillRecord> read_ops_log(const fs::path& file, std::vector<std::string>& notes) {
  std::vector<DrillRecord> records;
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    notes.push_back("no ops log at " + file.string() + ": no drill recorded yet");
    return records;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    notes.push_back("cannot read the ops log " + file.string() + ": no drill can be counted");
    return records;
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    // The monitor may share the ops log: its lines ({"source":"monitor",...}) are not drills.
    if (line.find("\"source\":\"monitor\"") != std::string::npos) continue;
    if (auto record = parse_drill_record(line)) {
      records.push_back(std::move(*record));
    } else {
      notes.push_back(file.filename().string() + " line " + std::to_string(number) +
                      " skipped: " + record.error().message);
    }
  }
  return records;
}

// One line in the JSON (the last of stdout) when DIR cannot be read, so that a pipeline reading
// the last line always finds an object.
int cannot_read(const base::Console& console, const std::string& message) {
  console.err << "weighlink-backend: dr-status: " << message << "\n";
  console.out << "DR status: UNKNOWN (" << message << ")\n"
              << json::serialize(json::object{{"ready", false}, {"error", message}}) << std::endl;
  return kExitFailure;
}

}  // namespace

int run_dr_status(const DrStatusOptions& o, const base::Console& console) {
  const auto paths = drill_paths(o.locations, o.ops_log);
  if (!paths) {
    console.err << "weighlink-backend: dr-status: " << paths.error().message << "\n";
    return kExitUsage;
  }
  const fs::path& ops_log = paths->ops_log;

  const auto now = unix_now();
  auto reachable = open_first_reachable(paths->locations);
  if (!reachable) {
    return cannot_read(console, reachable.error().message + "; check --dir and --fallback");
  }
  std::vector<std::string> notes;
  if (!reachable->skipped.empty()) notes.push_back(describe_fallback(*reachable));
  auto catalog = read_catalog(*reachable->store, reachable->entries);
  notes.insert(notes.end(), catalog.notes.begin(), catalog.notes.end());
  const auto records = read_ops_log(ops_log, notes);

  DrFacts facts;
  json::value latest_backup = nullptr;
  if (const auto newest = newest_dump(catalog.records)) {
    facts.latest_backup_at = newest->created_at;
    latest_backup = json::object{{"dump", newest->name},
                                 {"created_at", format_utc_timestamp(newest->created_at)},
                                 {"size_bytes", newest->size_bytes},
                                 {"verified", newest->verified}};
  }
  json::value latest_verified = nullptr;
  std::optional<std::int64_t> rpo_s;
  if (catalog.latest) {
    facts.latest_verified_at = catalog.latest->created_at;
    rpo_s = now - catalog.latest->created_at;
    latest_verified =
        json::object{{"dump", catalog.latest->dump},
                     {"sha256", catalog.latest->sha256},
                     {"created_at", format_utc_timestamp(catalog.latest->created_at)},
                     {"verified_at", format_utc_timestamp(catalog.latest->verified_at)},
                     {"age_s", *rpo_s}};
  }
  json::value latest_drill = nullptr;
  if (!records.empty()) {
    const auto& d = records.back();
    facts.latest_drill_at = d.started_at;
    facts.latest_drill_passed = d.passed;
    facts.latest_drill_rto_s = d.rto_s;
    json::object drill{{"started_at", format_utc_timestamp(d.started_at)},
                       {"result", d.passed ? "pass" : "fail"},
                       {"rto_s", d.rto_s ? json::value(*d.rto_s) : json::value(nullptr)},
                       {"dump", d.dump},
                       {"dump_created_at", time_or_null(d.dump_created_at)},
                       {"host", d.host},
                       {"age_s", now - d.started_at}};
    if (!d.passed) drill["failure"] = json::object{{"step", d.failed_step}, {"detail", d.failure}};
    latest_drill = std::move(drill);
  }

  const auto checks = dr_gate(facts, o.policy, now);
  const bool ready =
      std::all_of(checks.begin(), checks.end(), [](const DrCheck& c) { return c.met; });
  const auto unmet =
      std::count_if(checks.begin(), checks.end(), [](const DrCheck& c) { return !c.met; });
  const std::string guidance = rpo_tier_guidance(rpo_s);

  console.out << "DR status: "
              << (ready ? std::string("READY (every check met)")
                        : "NOT READY (" + std::to_string(unmet) + " of " +
                              std::to_string(checks.size()) + " checks not met)")
              << " for " << reachable->store->location().display() << ", drills from "
              << ops_log.string() << "\n";
  json::array checks_json;
  for (const auto& c : checks) {
    console.out << "  " << (c.met ? "OK  " : "FAIL") << " " << c.name << ": " << c.detail << "\n";
    checks_json.push_back({{"name", c.name}, {"met", c.met}, {"detail", c.detail}});
  }
  console.out << "  " << guidance << "\n";
  for (const auto& note : notes) console.out << "  note: " << note << "\n";

  json::array notes_json;
  for (const auto& note : notes) notes_json.emplace_back(note);
  const json::object report{{"ready", ready},
                            {"checks", checks_json},
                            {"latest_backup", latest_backup},
                            {"latest_verified", latest_verified},
                            {"rpo_s", rpo_s ? json::value(*rpo_s) : json::value(nullptr)},
                            {"latest_drill", latest_drill},
                            {"policy",
                             {{"max_backup_age_s", o.policy.max_backup_age_s},
                              {"max_verified_age_s", o.policy.max_verified_age_s},
                              {"max_drill_age_s", o.policy.max_drill_age_s},
                              {"max_rto_s", o.policy.max_rto_s}}},
                            {"tiers", guidance},
                            {"location", reachable->store->location().display()},
                            {"ops_log", ops_log.string()},
                            {"checked_at", format_utc_timestamp(now)},
                            {"notes", notes_json}};
  console.out << to_readable_json(report) << std::endl;
  return ready ? kExitOk : kExitGateNotMet;
}

}  // namespace weighlink::recovery
