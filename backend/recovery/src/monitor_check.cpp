// weighlink-backend monitor: what one check measures (monitor_internal.hpp).
#include <cstdlib>

#include "monitor_internal.hpp"
#include "weighlink/pg/migrations.hpp"
#include "weighlink/pg/pg.hpp"
#include "weighlink/recovery/pg_log.hpp"

namespace weighlink::recovery::monitor_detail {

std::string_view health_name(Health health) {
  switch (health) {
    case Health::healthy:
      return "healthy";
    case Health::unreachable:
      return "unreachable";
    case Health::missing:
      return "missing";
    case Health::schema_behind:
      return "schema_behind";
    case Health::corrupt:
      return "corrupt";
  }
  return "unknown";
}

Check check_database(const std::string& dsn, int timeout_s) {
  const auto started = Clock::now();
  Check check;
  const std::string timeout = std::to_string(timeout_s);
  pg::PgConnection db(pg::dsn_with_parameters(dsn, {{"connect_timeout", timeout},
                                                    {"tcp_user_timeout", timeout + "000"},
                                                    {"application_name", "weighlink-monitor"}}));
  auto finish = [&](Health health, std::string detail) {
    check.health = health;
    check.detail = std::move(detail);
    check.ms = ms_since(started);
    return check;
  };
  if (!db.ensure_connected()) return finish(Health::unreachable, db.last_error());
  if (!db.exec("SET statement_timeout = " + timeout + "000")) {
    return finish(Health::unreachable, db.last_error());
  }
  // NULL while data checksums are off (initdb --data-checksums, or pg_checksums --enable).
  if (auto failures = db.exec("SELECT sum(checksum_failures) FROM pg_stat_database WHERE "
                              "checksum_failures IS NOT NULL");
      failures && failures->rows() == 1 && !failures->is_null(0, 0)) {
    check.checksum_failures = pg::to_int<std::int64_t>(failures->get(0, 0));
  }
  auto row = db.exec(
      "SELECT (SELECT coalesce(max(version), 0) FROM schema_migrations), "
      "(SELECT value FROM backend_meta WHERE key = 'generation')");
  if (!row) {
    return finish(row.error() == pg::Errc::not_migrated ? Health::missing : Health::unreachable,
                  db.last_error());
  }
  check.schema_version = std::atoi(std::string(row->get(0, 0)).c_str());
  if (row->is_null(0, 1)) {
    return finish(Health::missing,
                  "backend_meta has no generation: not a database a backend serves");
  }
  check.generation = std::string(row->get(0, 1));
  if (check.schema_version < pg::latest_schema_version()) {
    return finish(Health::schema_behind,
                  "schema at version " + std::to_string(check.schema_version) +
                      ", this binary needs " + std::to_string(pg::latest_schema_version()) +
                      ": run `weighlink-backend migrate`");
  }
  return finish(Health::healthy, "reachable and migrated");
}

class CorruptionWatch::Impl {
 public:
  explicit Impl(const std::string& pg_log) {
    if (!pg_log.empty()) follower_.emplace(pg_log);
  }
  std::vector<Finding> scan(const std::string& target, const Check& check, std::string& log_error) {
    std::vector<Finding> findings;
    if (follower_) {
      auto lines = follower_->read_new_lines();
      if (!lines) {
        log_error = lines.error().message;
      } else {
        for (auto& line : *lines) {
          if (auto match = match_corruption_indicator(line)) {
            findings.push_back({std::string(match->indicator), match->kind == IndicatorKind::damage,
                                std::move(line), follower_->path()});
          }
        }
      }
    }
    if (target != target_) {
      target_ = target;
      last_checksum_failures_.reset();
    }
    if (check.checksum_failures) {
      // The first reading is the baseline: what was counted before the monitor started shows
      // in every check line (checksum_failures), not as news.
      if (last_checksum_failures_ && *check.checksum_failures > *last_checksum_failures_) {
        findings.push_back({"checksum_failures", true,
                            "pg_stat_database.checksum_failures rose from " +
                                std::to_string(*last_checksum_failures_) + " to " +
                                std::to_string(*check.checksum_failures) +
                                " (SELECT datname, checksum_failures, checksum_last_failure FROM "
                                "pg_stat_database names the database)",
                            "pg_stat_database"});
      }
      last_checksum_failures_ = check.checksum_failures;
    }
    return findings;
  }

 private:
  std::optional<PgLogFollower> follower_;
  std::string target_;
  std::optional<std::int64_t> last_checksum_failures_;
};

CorruptionWatch::CorruptionWatch(const std::string& pg_log)
    : impl_(std::make_unique<Impl>(pg_log)) {}
CorruptionWatch::~CorruptionWatch() = default;

std::vector<Finding> CorruptionWatch::scan(const std::string& target, const Check& check,
                                           std::string& log_error) {
  return impl_->scan(target, check, log_error);
}

}  // namespace weighlink::recovery::monitor_detail
