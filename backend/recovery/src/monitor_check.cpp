// weighlink-backend monitor: what one check measures (monitor_internal.hpp).
#include <cstdlib>

#include "monitor_internal.hpp"
#include "weighlink/pg/migrations.hpp"
#include "weighlink/pg/pg.hpp"

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

}  // namespace weighlink::recovery::monitor_detail
