#include "weighlink/recovery/retention.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ostream>

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
  bool ok = true;
  std::size_t kept = 0;
  std::size_t removed = 0;
  for (const auto& d : retention_plan(catalog.records, run.policy, run.now)) {
    std::string reasons;
    for (const auto& r : d.reasons) reasons += (reasons.empty() ? "" : ", ") + r;
    if (d.keep) {
      ++kept;
      if (run.verbose) {
        console.out << "retention: keep " << d.name << " (" << format_utc_timestamp(d.created_at)
                    << "): " << reasons << "\n";
      }
      continue;
    }
    ++removed;
    if (run.dry_run) {
      console.out << "retention: would remove " << d.name << " ("
                  << format_utc_timestamp(d.created_at) << ") from " << where << ": " << reasons
                  << "\n";
      continue;
    }
    // The manifest first: a dump without one is never picked; a manifest without its dump would be.
    bool gone = true;
    for (const auto& file : {manifest_name(d.name), verified_name(d.name), d.name}) {
      if (auto r = store.remove(file); !r && r.error().code != OffsiteErrc::not_found) {
        console.err << error << "retention cannot remove " << file << " from " << where << ": "
                    << r.error().message << "\n";
        ok = gone = false;
      }
    }
    if (gone) {
      console.out << "retention: removed " << d.name << " (" << format_utc_timestamp(d.created_at)
                  << ") from " << where << ": " << reasons << "\n";
    }
  }
  if (run.verbose) {
    console.out << "retention on " << where << ": " << kept << " kept, " << removed
                << (run.dry_run ? " would be removed (dry run: nothing removed)" : " removed")
                << "\n";
  }
  return ok;
}

}  // namespace weighlink::recovery
