// weighlink-backend monitor: the loop and its usage checks (monitor.hpp; docs/operations.md,
// "Health monitor"). The decisions are MonitorState's (backup_policy.cpp); what a check measures
// is monitor_check.cpp, what a recovery does monitor_recovery.cpp.
#include "weighlink/recovery/monitor.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <ostream>

#include "command_clock.hpp"
#include "monitor_internal.hpp"
#include "weighlink/pg/pg.hpp"
#include "weighlink/recovery/backup_policy.hpp"
#include "weighlink/recovery/commands.hpp"

namespace weighlink::recovery {
namespace {

namespace fs = std::filesystem;
using namespace monitor_detail;  // NOLINT(google-build-using-namespace)

int usage(const base::Console& console, const std::string& what) {
  console.err << "weighlink-backend: monitor: " << what << "\n";
  return kExitUsage;
}

std::string_view action_name(MonitorState::Action action) {
  switch (action) {
    case MonitorState::Action::none:
      return "none";
    case MonitorState::Action::alert:
      return "alert";
    case MonitorState::Action::recover:
      return "recover";
    case MonitorState::Action::hold:
      return "hold";
  }
  return "unknown";
}

std::vector<std::string> locations_of(const MonitorOptions& o) {
  std::vector<std::string> specs = {o.dir};
  specs.insert(specs.end(), o.fallbacks.begin(), o.fallbacks.end());
  return specs;
}

// Usage problems found before the first check; nullopt when the options make sense.
std::optional<std::string> usage_problem(const MonitorOptions& o) {
  if (!(o.interval_s >= 0.05 && o.interval_s <= 86400)) {
    return "--interval must be between 0.05 and 86400 seconds";
  }
  if (o.threshold < 1) return "--threshold must be at least 1";
  if (o.cooldown_s < 0) return "--cooldown must not be negative";
  if (o.check_timeout_s < 1 || o.check_timeout_s > 3600) {
    return "--check-timeout must be between 1 and 3600 seconds";
  }
  if (o.max_checks < 0) return "--max-checks must not be negative";
  const bool recovery_flags = !o.dir.empty() || !o.fallbacks.empty() || !o.recover_dsn.empty() ||
                              !o.dsn_file.empty() || !o.restart_command.empty() || o.fresh_reset;
  if (!o.recover) {
    if (recovery_flags) {
      return "--dir, --fallback, --recover-dsn, --dsn-file, --restart-command and --fresh-reset "
             "are used only with --recover; add --recover to turn automatic recovery on, or drop "
             "them";
    }
    return std::nullopt;
  }
  if (o.dir.empty()) return "--recover needs --dir (where verified-latest is)";
  if (o.recover_dsn.empty()) {
    return "--recover needs --recover-dsn (a role with CREATEDB on the server the recovered "
           "database goes to)";
  }
  if (o.dsn_file.empty()) {
    return "--recover needs --dsn-file (the backend's EnvironmentFile with WEIGHLINK_DSN=...)";
  }
  if (auto problem = pg::dsn_problem(o.recover_dsn)) return "invalid --recover-dsn: " + *problem;
  for (const auto& spec : locations_of(o)) {
    if (auto location = parse_location(spec); !location) return location.error().message;
  }
  const fs::path file = o.dsn_file;
  const fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || ::access(dir.c_str(), W_OK) != 0) {
    return "--dsn-file " + o.dsn_file + ": the folder " + dir.string() +
           " must exist and be writable by this user (the file is replaced by a rename)";
  }
  if (fs::exists(file, ec) &&
      (!fs::is_regular_file(file, ec) || ::access(file.c_str(), R_OK) != 0)) {
    return "--dsn-file " + o.dsn_file + " is not a readable regular file";
  }
  if (o.restart_timeout_s < 1) return "--restart-timeout must be at least 1 second";
  if (o.jobs < 1 || o.jobs > 64) return "--jobs must be between 1 and 64";
  return std::nullopt;
}

}  // namespace

int run_monitor(const MonitorOptions& options, const base::Console& console) {
  if (auto problem = usage_problem(options)) return usage(console, *problem);
  std::vector<Location> locations;
  if (options.recover) {
    for (const auto& spec : locations_of(options)) locations.push_back(*parse_location(spec));
  }
  if (!install_signal_handlers()) {
    console.err << "weighlink-backend: monitor: cannot install the signal handlers: "
                << std::strerror(errno) << "\n";
    return kExitFailure;
  }

  DecisionLog log(options.ops_log, console);
  MonitorState state(MonitorPolicy{options.threshold, options.cooldown_s, options.recover});
  std::string dsn = options.dsn;
  json::object start{{"event", "start"},
                     {"target", pg::dsn_target(dsn)},
                     {"interval_ms", std::llround(options.interval_s * 1000)},
                     {"threshold", options.threshold},
                     {"cooldown_s", options.cooldown_s},
                     {"check_timeout_s", options.check_timeout_s},
                     {"recover", options.recover},
                     {"fresh_reset", options.fresh_reset}};
  if (!options.pg_log.empty()) start["pg_log"] = options.pg_log;
  if (options.recover) {
    // What a recovery would need, looked at now rather than found missing when it is needed.
    json::object preflight;
    LocateFailure failure;
    if (auto located = locate_verified_latest(locations, failure)) {
      preflight = describe(*located);
    } else {
      preflight["verified_latest_error"] = failure.error;
      if (failure.nothing_verified) {
        preflight["recovery_would_be"] =
            options.fresh_reset ? "a fresh reset (no verified dump; --fresh-reset)"
                                : "a failure (no verified dump; --fresh-reset not given)";
      }
    }
    pg::PgConnection admin(options.recover_dsn);
    preflight["recover_server"] =
        admin.ensure_connected() ? std::string("reachable") : "unreachable: " + admin.last_error();
    start["recover_target"] = pg::dsn_target(options.recover_dsn);
    start["dsn_file"] = options.dsn_file;
    start["preflight"] = std::move(preflight);
  }
  log.write(start);

  CorruptionWatch watch(options.pg_log);
  bool last_healthy = true;
  std::int64_t checks = 0;
  while (!stop_requested()) {
    auto check = check_database(dsn, options.check_timeout_s);
    ++checks;
    std::string pg_log_error;
    const auto findings = watch.scan(pg::dsn_target(dsn), check, pg_log_error);
    json::array indicators;
    std::size_t damage = 0;
    for (const auto& finding : findings) {
      indicators.emplace_back(finding.indicator);
      if (finding.damage) ++damage;
      log.write({{"event", "alert"},
                 {"check", checks},
                 {"target", pg::dsn_target(dsn)},
                 {"indicator", finding.indicator},
                 {"kind", finding.damage ? "damage" : "crash"},
                 {"counts_as_failure", finding.damage},
                 {"found_in", finding.found_in},
                 {"line", finding.line}});
    }
    // Damage makes a check that answered well a failed one; a crash only alerts (pg_log.hpp).
    if (damage > 0 && check.health == Health::healthy) {
      check.health = Health::corrupt;
      check.detail = std::to_string(damage) +
                     " damage indicator(s) since the last check (see the alert lines): the data "
                     "files are damaged";
    }
    last_healthy = check.health == Health::healthy;
    const auto decision =
        state.observe(last_healthy, unix_now(), check.health != Health::schema_behind);
    json::object line{{"event", "check"},
                      {"check", checks},
                      {"target", pg::dsn_target(dsn)},
                      {"healthy", last_healthy},
                      {"state", health_name(check.health)},
                      {"detail", check.detail},
                      {"check_ms", check.ms},
                      {"consecutive_failures", decision.consecutive_failures},
                      {"action", action_name(decision.action)},
                      {"reason", decision.reason}};
    if (!check.generation.empty()) {
      line["schema_version"] = check.schema_version;
      line["generation"] = check.generation;
    }
    if (check.checksum_failures) line["checksum_failures"] = *check.checksum_failures;
    if (!indicators.empty()) line["indicators"] = std::move(indicators);
    if (!pg_log_error.empty()) line["pg_log_error"] = pg_log_error;
    log.write(line);
    if (decision.action == MonitorState::Action::recover && stop_requested()) {
      // Asked to stop during the check: a restore would hold the stop up for minutes.
      log.write({{"event", "recovery"},
                 {"outcome", "skipped"},
                 {"error", "SIGTERM or SIGINT came during the check: stopping instead"}});
    } else if (decision.action == MonitorState::Action::recover) {
      log.write(recover(console, options, locations, dsn));
      state.recovered(unix_now());
    }
    if (options.max_checks > 0 && checks >= options.max_checks) break;
    if (!sleep_unless_stopped(options.interval_s)) break;
  }
  const bool signalled = stop_requested();
  log.write({{"event", "stop"},
             {"checks", checks},
             {"why", signalled ? "SIGTERM or SIGINT" : "--max-checks reached"},
             {"last_healthy", last_healthy}});
  return signalled || last_healthy ? kExitOk : kExitFailure;
}

}  // namespace weighlink::recovery
