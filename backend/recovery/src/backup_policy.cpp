#include "weighlink/recovery/backup_policy.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "weighlink/recovery/retention.hpp"

namespace weighlink::recovery {
namespace {

constexpr std::int64_t kDay = std::int64_t{24} * 3600;

bool newer(const DumpRecord& a, const DumpRecord& b) {
  return a.created_at != b.created_at ? a.created_at > b.created_at : a.name > b.name;
}

std::string human_bytes(std::uint64_t bytes) {
  char text[32];
  if (bytes >= std::uint64_t{1024} * 1024) {
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  } else if (bytes >= 1024) {
    std::snprintf(text, sizeof text, "%.1f KiB", static_cast<double>(bytes) / 1024.0);
  } else {
    std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  }
  return text;
}

}  // namespace

std::string human_duration(std::int64_t seconds) {
  if (seconds >= 2 * kDay) return std::to_string(seconds / kDay) + " d";
  if (seconds >= std::int64_t{2} * 3600) return std::to_string(seconds / 3600) + " h";
  if (seconds >= 120) return std::to_string(seconds / 60) + " min";
  return std::to_string(seconds) + " s";
}

std::optional<DumpRecord> newest_dump(const std::vector<DumpRecord>& dumps) {
  if (dumps.empty()) return std::nullopt;
  return *std::min_element(dumps.begin(), dumps.end(), newer);
}

std::optional<DumpRecord> previous_verified(const std::vector<DumpRecord>& dumps,
                                            std::int64_t before) {
  std::optional<DumpRecord> best;
  for (const auto& d : dumps) {
    if (d.verified && d.created_at < before && (!best || newer(d, *best))) best = d;
  }
  return best;
}

SizeVerdict size_guard(const DumpRecord& candidate, const std::vector<DumpRecord>& dumps,
                       std::uint64_t min_bytes, double median_factor) {
  SizeVerdict v;
  std::vector<std::uint64_t> window;
  for (const auto& d : dumps) {
    if (d.name != candidate.name && d.created_at < candidate.created_at &&
        d.created_at >= candidate.created_at - 7 * kDay) {
      window.push_back(d.size_bytes);
    }
  }
  v.window_dumps = window.size();
  if (!window.empty()) {
    std::sort(window.begin(), window.end());
    const auto n = window.size();
    v.median = n % 2 == 1 ? window[n / 2] : (window[n / 2 - 1] + window[n / 2]) / 2;
  }
  const std::string size =
      human_bytes(candidate.size_bytes) + " (" + std::to_string(candidate.size_bytes) + " bytes)";
  if (candidate.size_bytes < min_bytes) {
    v.kind = SizeVerdict::Kind::shrunk;
    v.detail = candidate.name + " is " + size + ", below the floor of " + human_bytes(min_bytes) +
               " (--min-bytes)";
    return v;
  }
  if (!v.median) {
    v.detail = candidate.name + " is " + size +
               "; no other dump in the 7 days before it, so only the floor applies";
    return v;
  }
  const double median = static_cast<double>(*v.median);
  const double actual = static_cast<double>(candidate.size_bytes);
  const std::string against = "the median of the " + std::to_string(v.window_dumps) +
                              " dumps of the 7 days before it, " + human_bytes(*v.median);
  if (actual > median_factor * median) {
    v.kind = SizeVerdict::Kind::exceeded;
    v.detail = candidate.name + " is " + size + ", more than " + std::to_string(median_factor) +
               " x " + against;
  } else if (median_factor > 0 && actual * median_factor < median) {
    v.kind = SizeVerdict::Kind::shrunk;
    v.detail = candidate.name + " is " + size + ", less than 1/" + std::to_string(median_factor) +
               " of " + against;
  } else {
    v.detail = candidate.name + " is " + size + ", within " + std::to_string(median_factor) +
               " x of " + against;
  }
  return v;
}

std::vector<RowDrift> restored_vs_manifest(const RowCounts& manifest, const RowCounts& restored) {
  std::vector<RowDrift> drift;
  for (const auto& [table, expected] : manifest) {
    const auto it = restored.find(table);
    const std::int64_t actual = it == restored.end() ? -1 : it->second;
    if (actual == expected) continue;
    drift.push_back({table, expected, actual,
                     it == restored.end()
                         ? table + " is missing from the restore; the manifest has " +
                               std::to_string(expected) + " rows"
                         : table + " restored " + std::to_string(actual) +
                               " rows; the manifest, taken in the dump's snapshot, has " +
                               std::to_string(expected)});
  }
  for (const auto& [table, actual] : restored) {
    if (!manifest.contains(table)) {
      drift.push_back({table, -1, actual,
                       table + " is in the restore (" + std::to_string(actual) +
                           " rows) but not in the manifest"});
    }
  }
  return drift;
}

std::vector<RowDrift> drift_vs_previous(const RowCounts& previous, const RowCounts& current,
                                        double tolerance) {
  std::vector<RowDrift> drift;
  for (const auto& [table, before] : previous) {
    const auto it = current.find(table);
    if (it == current.end()) {
      drift.push_back({table, before, -1,
                       table + " had " + std::to_string(before) +
                           " rows in the previous verified dump and is gone"});
      continue;
    }
    const std::int64_t now = it->second;
    if (now >= before) continue;
    const double lost = static_cast<double>(before - now) / static_cast<double>(before);
    if (lost > tolerance) {
      char share[16];
      std::snprintf(share, sizeof share, "%.1f", lost * 100.0);
      drift.push_back({table, before, now,
                       table + " shrank from " + std::to_string(before) + " to " +
                           std::to_string(now) + " rows (-" + share +
                           " %) since the previous verified dump; the tolerance is " +
                           std::to_string(tolerance * 100.0).substr(0, 5) + " %"});
    }
  }
  return drift;
}

std::vector<std::string> retention_deletions(const std::vector<DumpRecord>& dumps, std::int64_t now,
                                             int retention_days, std::size_t keep_verified) {
  // The days-only rule is the tiered plan with one rule (retention.hpp).
  RetentionPolicy policy;
  policy.within_days = retention_days;
  policy.keep_verified = keep_verified;
  std::vector<std::string> doomed;
  for (const auto& d : retention_plan(dumps, policy, now)) {
    if (!d.keep) doomed.push_back(d.name);
  }
  std::reverse(doomed.begin(), doomed.end());
  return doomed;
}

std::vector<DrCheck> dr_gate(const DrFacts& facts, const DrPolicy& policy, std::int64_t now) {
  std::vector<DrCheck> checks;
  auto age_check = [&](const char* name, const char* what, std::optional<std::int64_t> at,
                       std::int64_t max_age) {
    DrCheck c{name, false, {}};
    if (!at) {
      c.detail = std::string("no ") + what + " found";
    } else {
      const std::int64_t age = now - *at;
      c.met = age <= max_age;
      c.detail = std::string(what) + " from " + format_utc_timestamp(*at) + ", " +
                 human_duration(age) + " ago (policy: within " + human_duration(max_age) + ")";
    }
    checks.push_back(std::move(c));
  };
  age_check("backup_age", "latest backup", facts.latest_backup_at, policy.max_backup_age_s);
  age_check("verified_age", "latest verified dump", facts.latest_verified_at,
            policy.max_verified_age_s);
  age_check("drill_age", "latest restore drill", facts.latest_drill_at, policy.max_drill_age_s);

  DrCheck result{"drill_result", false, {}};
  if (!facts.latest_drill_passed) {
    result.detail = "no restore drill recorded";
  } else {
    result.met = *facts.latest_drill_passed;
    result.detail = *facts.latest_drill_passed ? "the latest drill passed"
                                               : "the latest drill FAILED (a sev-2: see the "
                                                 "runbook, \"Restore drill\")";
  }
  checks.push_back(std::move(result));

  DrCheck rto{"drill_rto", false, {}};
  if (!facts.latest_drill_rto_s || !facts.latest_drill_passed || !*facts.latest_drill_passed) {
    rto.detail = "no passed drill, so no measured RTO";
  } else {
    rto.met = *facts.latest_drill_rto_s <= policy.max_rto_s;
    char text[96];
    std::snprintf(text, sizeof text, "measured RTO %.1f s (policy: within %.0f s)",
                  *facts.latest_drill_rto_s, policy.max_rto_s);
    rto.detail = text;
  }
  checks.push_back(std::move(rto));
  return checks;
}

std::string rpo_tier_guidance(std::optional<std::int64_t> rpo_s) {
  constexpr std::string_view kTiers =
      "tiers: 24 h RPO = nightly backup + verify-backup (what this gives); 1 h RPO needs PITR "
      "(continuous WAL archiving with base backups), which no dump schedule can give";
  if (!rpo_s) {
    return "RPO unknown: no verified dump, so no restore point anyone vouched for; " +
           std::string(kTiers);
  }
  const std::string now = "RPO now " + human_duration(std::max<std::int64_t>(*rpo_s, 0));
  if (*rpo_s <= 3600) {
    return now + ", within 1 h only because the last verified dump is fresh (it grows to 24 h " +
           "by the next nightly dump); " + std::string(kTiers);
  }
  if (*rpo_s <= kDay) return now + ", within the 24 h tier; " + std::string(kTiers);
  return now + ", beyond the 24 h tier: run backup and verify-backup; " + std::string(kTiers);
}

MonitorState::Decision MonitorState::observe(bool healthy, std::int64_t now, bool restorable) {
  Decision d;
  if (healthy) {
    d.reason = failures_ > 0 ? "healthy again after " + std::to_string(failures_) + " failed checks"
                             : "healthy";
    failures_ = 0;
    d.consecutive_failures = 0;
    return d;
  }
  ++failures_;
  d.consecutive_failures = failures_;
  if (failures_ < policy_.threshold) {
    d.reason = std::to_string(failures_) + " consecutive failed checks, threshold " +
               std::to_string(policy_.threshold);
    return d;
  }
  if (!policy_.recover) {
    d.action = Action::alert;
    d.reason = std::to_string(failures_) + " consecutive failed checks (threshold " +
               std::to_string(policy_.threshold) +
               "); automatic recovery is off (--recover not given): an operator must act";
    return d;
  }
  if (!restorable) {
    d.action = Action::alert;
    d.reason = std::to_string(failures_) + " consecutive failed checks (threshold " +
               std::to_string(policy_.threshold) +
               "), but a restore does not fix this failure (it would lose what was written since "
               "the dump): an operator must act";
    return d;
  }
  if (last_recovery_ && now - *last_recovery_ < policy_.cooldown_s) {
    d.action = Action::hold;
    d.reason = std::to_string(failures_) +
               " consecutive failed checks, but the last recovery was " +
               human_duration(now - *last_recovery_) + " ago, inside the cooldown of " +
               human_duration(policy_.cooldown_s) + ": not recovering again";
    return d;
  }
  d.action = Action::recover;
  d.reason = std::to_string(failures_) + " consecutive failed checks (threshold " +
             std::to_string(policy_.threshold) + ") and outside the cooldown: recovering";
  return d;
}

void MonitorState::recovered(std::int64_t now) {
  last_recovery_ = now;
  failures_ = 0;
}

}  // namespace weighlink::recovery
