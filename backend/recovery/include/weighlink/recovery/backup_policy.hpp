#pragma once
// The decision rules of backup, verify-backup, dr-status and monitor, as pure functions: no
// clock, file, database or log in here. Times are Unix seconds passed in by the caller; sizes and
// counts are what the manifests and the restore say. docs/operations.md describes each rule as an
// operator sees it; tests/unit/backend/backup_policy_test.cpp pins them down.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/base/timestamp.hpp"

namespace weighlink::recovery {

// One dump in a backup folder, as its manifest and its verification record describe it.
struct DumpRecord {
  std::string name;            // weighlink_YYYYMMDD_HHMMSS.dump
  std::int64_t created_at{};   // the manifest's created_at; never the file name or mtime
  std::uint64_t size_bytes{};  // the manifest's size_bytes
  bool verified = false;       // verify-backup passed on it
};

// The manifests' and pointers' times ("2026-11-21T03:00:07Z"), weighlink/base/timestamp.hpp.
using base::format_utc_timestamp;
using base::parse_utc_timestamp;

// The newest dump by manifest time (ties: the later name); nullopt when there is none.
[[nodiscard]] std::optional<DumpRecord> newest_dump(const std::vector<DumpRecord>& dumps);

// The newest verified dump created before `before` (the baseline a candidate's row counts are
// compared with).
[[nodiscard]] std::optional<DumpRecord> previous_verified(const std::vector<DumpRecord>& dumps,
                                                          std::int64_t before);

// Size guard: below `min_bytes` is SIZE_SHRUNK; above `median_factor` × the median size of the
// other dumps created in the 7 days before the candidate is SIZE_EXCEEDED. Without such dumps only
// the floor applies. A candidate below median ÷ factor is SIZE_SHRUNK too (a dump that lost two
// thirds of its size overnight is as suspect as one that tripled).
struct SizeVerdict {
  enum class Kind { ok, shrunk, exceeded } kind = Kind::ok;
  std::optional<std::uint64_t> median;  // of the trailing window, when it had dumps
  std::size_t window_dumps = 0;
  std::string detail;  // one sentence with the figures, for the report
};
[[nodiscard]] SizeVerdict size_guard(const DumpRecord& candidate,
                                     const std::vector<DumpRecord>& dumps, std::uint64_t min_bytes,
                                     double median_factor);

// Row counts. First the restore against its own manifest: every table equal, exactly (the
// counts were taken in the dump's snapshot). Then the manifest against the previous verified
// dump's: a table that shrank by more than `tolerance` (a fraction: 0.1 = 10 %) or vanished is
// drift; growth is normal for an append-only store and is not.
struct RowDrift {
  std::string table;
  std::int64_t expected{};  // the manifest's (or the previous verified dump's) count
  std::int64_t actual{};    // the restore's (or the candidate manifest's) count; -1 when missing
  std::string detail;
};
using RowCounts = std::map<std::string, std::int64_t>;
[[nodiscard]] std::vector<RowDrift> restored_vs_manifest(const RowCounts& manifest,
                                                         const RowCounts& restored);
[[nodiscard]] std::vector<RowDrift> drift_vs_previous(const RowCounts& previous,
                                                      const RowCounts& current, double tolerance);

// Retention: dumps created more than `retention_days` before `now` are deleted, except the newest
// two verified dumps (whatever their age) and the newest dump of all (it may not be verified
// yet). Ordered by manifest time, never by name. Returns the names to delete, oldest first. The
// tiered rules (daily, weekly, monthly, yearly) and the reasons are in retention.hpp.
[[nodiscard]] std::vector<std::string> retention_deletions(const std::vector<DumpRecord>& dumps,
                                                           std::int64_t now, int retention_days,
                                                           std::size_t keep_verified = 2);

// dr-status: the production-readiness gate.
struct DrPolicy {
  std::int64_t max_backup_age_s = std::int64_t{26} * 3600;  // a nightly backup, with slack
  std::int64_t max_verified_age_s =
      std::int64_t{26} * 3600;  // the RPO of the 24 h tier, with slack
  std::int64_t max_drill_age_s = std::int64_t{31} * 24 * 3600;
  double max_rto_s = 4 * 3600;  // the slowest tier's RTO
};
struct DrFacts {
  std::optional<std::int64_t> latest_backup_at;
  std::optional<std::int64_t> latest_verified_at;  // created_at of the verified dump (the RPO)
  std::optional<std::int64_t> latest_drill_at;
  std::optional<bool> latest_drill_passed;
  std::optional<double> latest_drill_rto_s;
};
struct DrCheck {
  std::string name;  // backup_age, verified_age, drill_age, drill_result, drill_rto
  bool met = false;
  std::string detail;
};
[[nodiscard]] std::vector<DrCheck> dr_gate(const DrFacts& facts, const DrPolicy& policy,
                                           std::int64_t now);
// dr-status's line about the RPO right now (the newest verified dump's age; nullopt: none) and
// the tiers: 24 h is nightly dumps, 1 h needs PITR (WAL archiving).
[[nodiscard]] std::string rpo_tier_guidance(std::optional<std::int64_t> rpo_s);

// "45 s", "12 min", "26 h", "31 d": the largest unit of which there are at least two, rounded
// down.
[[nodiscard]] std::string human_duration(std::int64_t seconds);

// monitor: after `threshold` consecutive failed checks, and when the last recovery was at least
// `cooldown_s` ago, recover (when enabled). Every step says what it decided and why.
struct MonitorPolicy {
  int threshold = 3;
  std::int64_t cooldown_s = 3600;
  bool recover = false;  // opt-in
};
class MonitorState {
 public:
  enum class Action { none, alert, recover, hold };
  struct Decision {
    Action action = Action::none;
    int consecutive_failures = 0;
    std::string reason;
  };
  explicit MonitorState(MonitorPolicy policy) : policy_(policy) {}
  // One health check's outcome at time `now`. `restorable` false: a failure that a restore would
  // not fix and would only make worse (the schema is older than this binary: run migrate, do not
  // replace the database); it counts, but at the threshold it is an alert, never a recovery.
  [[nodiscard]] Decision observe(bool healthy, std::int64_t now, bool restorable = true);
  // The recovery ran (whatever its outcome): the cooldown starts, failures count from zero.
  void recovered(std::int64_t now);

 private:
  MonitorPolicy policy_;
  int failures_ = 0;
  std::optional<std::int64_t> last_recovery_;
};

}  // namespace weighlink::recovery
