#include "weighlink/recovery/retention.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <ostream>
#include <set>

#include "weighlink/recovery/backup_catalog.hpp"
#include "weighlink/recovery/offsite.hpp"

namespace weighlink::recovery {
namespace {

using std::chrono::sys_days;

constexpr std::int64_t kDay = std::int64_t{24} * 3600;

sys_days day_of(std::int64_t unix_seconds) {
  // floor, not truncation: a time before 1970 belongs to the day before.
  const std::int64_t days =
      unix_seconds >= 0 ? unix_seconds / kDay : -((-unix_seconds + kDay - 1) / kDay);
  return sys_days{std::chrono::days{days}};
}

std::string two(unsigned v) {
  char text[8];
  std::snprintf(text, sizeof text, "%02u", v);
  return text;
}

std::string year_text(std::chrono::year y) { return std::to_string(static_cast<int>(y)); }

struct Tier {
  const char* name;
  int count;
  std::string (*key)(std::int64_t);
  std::string last{};  // the period of the dump this tier kept last
};

}  // namespace

std::string day_key(std::int64_t unix_seconds) {
  const std::chrono::year_month_day d{day_of(unix_seconds)};
  return year_text(d.year()) + "-" + two(static_cast<unsigned>(d.month())) + "-" +
         two(static_cast<unsigned>(d.day()));
}

std::string iso_week_key(std::int64_t unix_seconds) {
  // The ISO week-year is the year of the week's Thursday; week 1 holds the year's first Thursday.
  const sys_days day = day_of(unix_seconds);
  const unsigned iso_weekday = std::chrono::weekday{day}.iso_encoding();  // Monday 1 .. Sunday 7
  const sys_days thursday = day + std::chrono::days{4 - static_cast<int>(iso_weekday)};
  const std::chrono::year y = std::chrono::year_month_day{thursday}.year();
  const auto week = (thursday - sys_days{y / std::chrono::January / 1}).count() / 7 + 1;
  return year_text(y) + "-W" + two(static_cast<unsigned>(week));
}

std::string month_key(std::int64_t unix_seconds) {
  const std::chrono::year_month_day d{day_of(unix_seconds)};
  return year_text(d.year()) + "-" + two(static_cast<unsigned>(d.month()));
}

std::string year_key(std::int64_t unix_seconds) {
  return year_text(std::chrono::year_month_day{day_of(unix_seconds)}.year());
}

std::string RetentionPolicy::describe() const {
  std::string text;
  const auto add = [&text](int n, const std::string& what) {
    if (n <= 0) return;
    text += (text.empty() ? "" : ", ") + std::to_string(n) + " " + what;
  };
  if (within_days > 0) text = "every dump of the last " + std::to_string(within_days) + " days";
  add(daily, "daily");
  add(weekly, "weekly");
  add(monthly, "monthly");
  add(yearly, "yearly");
  add(static_cast<int>(keep_verified), "newest verified");
  return text;
}

std::vector<RetentionDecision> retention_plan(const std::vector<DumpRecord>& dumps,
                                              const RetentionPolicy& policy, std::int64_t now) {
  std::vector<DumpRecord> ordered = dumps;
  std::sort(ordered.begin(), ordered.end(), [](const DumpRecord& a, const DumpRecord& b) {
    return a.created_at != b.created_at ? a.created_at > b.created_at : a.name > b.name;
  });
  Tier tiers[] = {{"daily", policy.daily, day_key},
                  {"weekly", policy.weekly, iso_week_key},
                  {"monthly", policy.monthly, month_key},
                  {"yearly", policy.yearly, year_key}};
  const std::int64_t cutoff = now - static_cast<std::int64_t>(policy.within_days) * kDay;
  std::size_t verified_seen = 0;
  std::vector<RetentionDecision> plan;
  plan.reserve(ordered.size());
  for (std::size_t i = 0; i < ordered.size(); ++i) {
    const auto& d = ordered[i];
    RetentionDecision decision{d.name, d.created_at, d.verified, false, {}};
    if (i == 0) decision.reasons.emplace_back("newest dump");
    if (d.verified && verified_seen++ < policy.keep_verified) {
      decision.reasons.push_back("newest verified (" + std::to_string(verified_seen) + " of " +
                                 std::to_string(policy.keep_verified) + ")");
    }
    if (policy.within_days > 0 && d.created_at >= cutoff) {
      decision.reasons.push_back("within " + std::to_string(policy.within_days) + " days");
    }
    // Newest first: the first dump met in a period is that period's newest.
    for (auto& tier : tiers) {
      if (tier.count <= 0) continue;
      const std::string period = tier.key(d.created_at);
      if (period == tier.last) continue;
      tier.last = period;
      --tier.count;
      decision.reasons.push_back(std::string(tier.name) + " " + period);
    }
    decision.keep = !decision.reasons.empty();
    if (!decision.keep) {
      std::string why;
      if (policy.daily > 0 || policy.weekly > 0 || policy.monthly > 0 || policy.yearly > 0) {
        why = "not the newest dump of a kept period";
      }
      if (policy.within_days > 0) {
        why += (why.empty() ? "" : ", ") + std::string("older than ") +
               std::to_string(policy.within_days) + " days";
      }
      decision.reasons.push_back("kept by no rule (" + policy.describe() + "): " + why);
    }
    plan.push_back(std::move(decision));
  }
  return plan;
}

RetentionFolder retention_folder(const Catalog& catalog, const std::vector<StoreEntry>& entries,
                                 const std::vector<DumpNamePattern>& patterns, NewestBy by) {
  RetentionFolder folder;
  std::set<std::string> listed;
  for (const auto& e : entries) listed.insert(e.name);
  // Dumps retention leaves alone, with why: a manifest that cannot be read (a note on stderr says
  // so), a weighlink backup whose manifest is not written yet.
  std::map<std::string, std::string> skipped;
  for (const auto& e : entries) {
    constexpr std::string_view kManifest = ".manifest.json";
    if (!e.name.ends_with(kManifest)) continue;
    const auto dump = e.name.substr(0, e.name.size() - kManifest.size()) + ".dump";
    if (listed.contains(dump) && !catalog.manifests.contains(dump)) {
      skipped[dump] = "its manifest " + e.name + " cannot be read";
    }
  }
  for (const auto& name : weighlink_backup_names(catalog, entries)) {
    if (listed.contains(name) && !catalog.manifests.contains(name)) {
      skipped.emplace(name, "a weighlink backup whose manifest is not written yet");
    }
  }
  std::set<std::string> taken;  // every dump retention plans or skips
  for (const auto& [name, why] : skipped) taken.insert(name);
  if (!catalog.records.empty()) {
    folder.groups.push_back({"dumps with a manifest", true, catalog.records});
    for (const auto& r : catalog.records) taken.insert(r.name);
  }
  for (const auto& pattern : patterns) {
    auto dumps = pattern_dumps(entries, pattern, by, taken);
    if (dumps.empty()) continue;
    for (const auto& d : dumps) taken.insert(d.name);
    folder.groups.push_back({pattern.text(), false, std::move(dumps)});
  }

  std::set<std::string> companions{std::string(kVerifiedLatest)};
  for (const auto& name : taken) {
    companions.insert(manifest_name(name));
    companions.insert(verified_name(name));
    companions.insert(sidecar_name(name));
  }
  std::string pattern_list;
  for (const auto& p : patterns) pattern_list += (pattern_list.empty() ? "" : ", ") + p.text();
  const std::string no_rule = "no manifest names it and it matches no pattern (" +
                              (pattern_list.empty() ? std::string("none given") : pattern_list) +
                              ")";
  for (const auto& name : listed) {
    if (const auto it = skipped.find(name); it != skipped.end()) {
      folder.left.push_back({name, it->second});
    } else if (!taken.contains(name) && !companions.contains(name)) {
      folder.left.push_back(
          {name, name.ends_with(".partial") ? "a file still being written (.partial)" : no_rule});
    }
  }
  return folder;
}

namespace {

// "1 dump", "2 dumps"
std::string count(std::size_t n, const std::string& what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// One group's plan carried out; counts what stays and goes. False when a file stayed that
// should have gone.
struct GroupRun {
  const base::Console& console;
  Store& store;
  const RetentionRun& run;
  const std::set<std::string>& listed;
  const std::optional<VerifiedLatest>& latest;
  std::string where;
  std::string error;
  std::size_t kept = 0;
  std::size_t removed = 0;

  bool apply(const RetentionGroup& group) {
    if (run.verbose) {
      const auto verified = std::count_if(group.dumps.begin(), group.dumps.end(),
                                          [](const DumpRecord& d) { return d.verified; });
      console.out << "retention: " << group.what << ": " << count(group.dumps.size(), "dump")
                  << ", " << verified << " verified, by "
                  << (group.with_manifests              ? "manifest time"
                      : run.newest_by == NewestBy::name ? "the time in the name"
                                                        : "modification time")
                  << "\n";
    }
    bool ok = true;
    for (auto& d : retention_plan(group.dumps, run.policy, run.now)) {
      if (!d.keep && latest && latest->dump == d.name) {
        d.keep = true;
        d.reasons = {"verified-latest names it"};
      }
      std::string reasons;
      for (const auto& r : d.reasons) reasons += (reasons.empty() ? "" : ", ") + r;
      const std::string when = " (" + format_utc_timestamp(d.created_at) + ")";
      if (d.keep) {
        ++kept;
        if (run.verbose)
          console.out << "retention: keep " << d.name << when << ": " << reasons << "\n";
        continue;
      }
      ++removed;
      // A backup's manifest first: a dump without one is never picked, a manifest without its
      // dump would be. A file without a manifest first: its records mean nothing without it.
      std::vector<std::string> files;
      if (group.with_manifests) files.push_back(manifest_name(d.name));
      if (!group.with_manifests) files.push_back(d.name);
      files.push_back(verified_name(d.name));
      if (group.with_manifests) files.push_back(d.name);
      files.push_back(sidecar_name(d.name));
      std::erase_if(files, [&](const std::string& f) { return !listed.contains(f); });
      std::string also;
      for (const auto& f : files) {
        if (f != d.name) also += (also.empty() ? " with " : ", ") + f;
      }
      if (run.dry_run) {
        console.out << "retention: would remove " << d.name << when << also << " from " << where
                    << ": " << reasons << "\n";
        continue;
      }
      bool gone = true;
      for (const auto& file : files) {
        if (auto r = store.remove(file); !r && r.error().code != OffsiteErrc::not_found) {
          console.err << error << "retention cannot remove " << file << " from " << where << ": "
                      << r.error().message << "\n";
          ok = gone = false;
          // The first file (the manifest, or a dump without one) could not go: the rest stays
          // with it, as it was.
          if (&file == &files.front()) break;
        }
      }
      if (gone) {
        console.out << "retention: removed " << d.name << when << also << " from " << where << ": "
                    << reasons << "\n";
      }
    }
    return ok;
  }
};

}  // namespace

bool apply_retention(const base::Console& console, Store& store, const RetentionRun& run) {
  const std::string where = store.location().display();
  const std::string error = "weighlink-backend: " + run.command + ": ";
  auto entries = store.list();
  if (!entries) {
    console.err << error << "retention skipped on " << where << ": " << entries.error().message
                << "\n";
    return false;
  }
  const auto catalog = read_catalog(store, *entries);
  for (const auto& note : catalog.notes) console.err << error << note << "\n";
  const auto folder = retention_folder(catalog, *entries, run.patterns, run.newest_by);
  std::set<std::string> listed;
  for (const auto& e : *entries) listed.insert(e.name);
  GroupRun group_run{console, store, run, listed, catalog.latest, where, error};
  bool ok = true;
  for (const auto& group : folder.groups) ok = group_run.apply(group) && ok;
  if (run.verbose) {
    for (const auto& file : folder.left) {
      console.out << "retention: leave " << file.name << ": " << file.why << " (never touched)\n";
    }
    console.out << "retention on " << where << ": " << group_run.kept << " kept, "
                << group_run.removed
                << (run.dry_run ? " would be removed (dry run: nothing removed)" : " removed");
    if (!folder.left.empty()) {
      console.out << ", " << count(folder.left.size(), "other file") << " left alone";
    }
    console.out << "\n";
  }
  return ok;
}

}  // namespace weighlink::recovery
