// weighlink-backend drill and dr-status against real backups of a real weighlink database: a
// verified dump restores into a disposable cluster, a backend of this build serves it and passes
// the sync smoke, and the drill's line lands in the ops log with its figures; a verified dump
// altered afterwards, or one that does not restore, fails the drill as a sev-2; no verified-latest
// means the drill could not run; a dump of schema 1 comes up migrated. dr-status reads the folder
// and the ops log and gates on them; its cases that are about policy use folders written here
// (manifests, pointers and ops-log lines with chosen ages), as dr-status only reads files.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "schema_v1.hpp"
#include "weighlink/base/timestamp.hpp"
#include "weighlink/pg/migrations.hpp"
#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/backup_data.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace weighlink::testing;  // NOLINT(google-build-using-namespace)

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A command's output and the JSON object on its last line.
struct Outcome {
  int exit_code = -1;
  std::string output;
  json::object json;
};

Outcome run_json(const std::vector<std::string>& argv) {
  Outcome o;
  const auto r = run(argv, std::chrono::seconds(240));
  o.exit_code = r.exit_code;
  o.output = r.output;
  boost::system::error_code ec;
  const auto value = json::parse(last_line(r.output), ec);
  if (!ec && value.is_object()) o.json = value.as_object();
  return o;
}

Outcome verify(const fs::path& dir) {
  return run_json({bin("weighlink-backend"), "verify-backup", "--dir", dir.string()});
}

// `drill --dir DIR --scratch-dir SCRATCH [args]`.
Outcome drill(const fs::path& dir, const fs::path& scratch, std::vector<std::string> args = {}) {
  std::vector<std::string> argv = {bin("weighlink-backend"), "drill",         "--dir", dir.string(),
                                   "--scratch-dir",          scratch.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_json(argv);
}

Outcome dr_status(const fs::path& dir, std::vector<std::string> args = {}) {
  std::vector<std::string> argv = {bin("weighlink-backend"), "dr-status", "--dir", dir.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_json(argv);
}

// The ops log's lines, parsed.
std::vector<json::object> ops_log(const fs::path& file) {
  std::vector<json::object> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line).as_object());
  return lines;
}

double number(const json::object& o, const char* key) { return o.at(key).to_number<double>(); }

// Whether a process still runs with `path` in its command line (the disposable cluster's server
// and the drill's backend carry the scratch directory in theirs).
bool process_mentions(const fs::path& path) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    const auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto cmdline = read_file(e.path() / "cmdline");
    for (auto& c : cmdline) {
      if (c == '\0') c = ' ';
    }
    if (has(cmdline, path.string())) return true;
  }
  return false;
}

// A migrated weighlink database with `per_station` captures per station (then `sql` run on it),
// backed up into DIR = ROOT/backups.
struct BackedUp {
  explicit BackedUp(int per_station, const std::string& sql = {}) {
    weighlink::testing::seed_captures(pg, per_station);
    if (!sql.empty()) (void)pg.query_scalar(sql);
    dump = weighlink::testing::backup(pg.dsn(), dir);
  }
  PgCluster pg;
  TempDir root{"wl-drill"};
  fs::path dir = root / "backups";
  fs::path dump;
};

using Scratch = weighlink::testing::ScratchDir;

// The drill left nothing: the scratch directory is empty and no process refers to it.
void check_nothing_left(const fs::path& scratch) {
  CHECK(fs::is_empty(scratch));
  CHECK_FALSE(process_mentions(scratch));
}

// "2026-11-21T03:00:07Z" of `seconds_ago` before now.
std::string utc_ago(std::int64_t seconds_ago) {
  return weighlink::base::format_utc_timestamp(std::time(nullptr) - seconds_ago);
}

// A backup folder as dr-status reads it, with chosen ages: one dump's manifest taken
// `backup_ago` seconds ago, verified-latest pointing at it (or, with `verified_ago`, at a dump
// of that age), and the ops log's lines.
struct Folder {
  TempDir root{"wl-dr-status"};
  fs::path dir = root.path();

  void backup(std::int64_t backup_ago) {
    write_text(dir / "weighlink_20260101_030000.manifest.json",
               json::serialize(json::object{{"format", "weighlink-backup/1"},
                                            {"dump", "weighlink_20260101_030000.dump"},
                                            {"size_bytes", 40000},
                                            {"sha256", std::string(64, 'a')},
                                            {"created_at", utc_ago(backup_ago)},
                                            {"row_counts", json::object{{"stations", 3}}},
                                            {"station_high_water", json::object{}}}));
  }
  void verified(std::int64_t created_ago) {
    write_text(dir / "verified-latest",
               json::serialize(json::object{{"dump", "weighlink_20260101_030000.dump"},
                                            {"sha256", std::string(64, 'a')},
                                            {"created_at", utc_ago(created_ago)},
                                            {"verified_at", utc_ago(created_ago - 600)}}) +
                   "\n");
  }
  void drill_line(std::int64_t ago, const std::string& result, double rto_s) {
    std::ofstream(dir / "drills.jsonl", std::ios::app)
        << json::serialize(json::object{
               {"started_at", utc_ago(ago)},
               {"dump", "weighlink_20260101_030000.dump"},
               {"rto_s", rto_s},
               {"result", result},
               {"failure", result == "pass" ? json::value(nullptr)
                                            : json::value(json::object{{"step", "restore_data"},
                                                                       {"detail", "COPY failed"}})},
               {"severity", result == "pass" ? json::value(nullptr) : json::value("sev-2")},
               {"host", "drill-host"}})
        << "\n";
  }
};

// dr-status over a healthy folder (a backup and its verification an hour old, a drill passed two
// hours ago) whose ops log has the lines `more` after the drill's: exit 0, and the pass is still
// the latest drill.
Outcome dr_status_after_ops_lines(const std::string& more) {
  Folder f;
  f.backup(3600);
  f.verified(3600);
  f.drill_line(7200, "pass", 12.0);
  std::ofstream(f.dir / "drills.jsonl", std::ios::app) << more;
  auto status = dr_status(f.dir);
  INFO(status.output);
  CHECK(status.exit_code == 0);
  CHECK(status.json.at("latest_drill").at("result") == "pass");
  return status;
}

// The checks of a dr-status JSON by name: met or not.
std::map<std::string, bool> checks(const json::object& status) {
  std::map<std::string, bool> out;
  for (const auto& c : status.at("checks").as_array()) {
    out[std::string(c.at("name").as_string())] = c.at("met").as_bool();
  }
  return out;
}

}  // namespace

TEST_CASE("drill: a verified backup restores, serves, passes the smoke, and dr-status is ready") {
  BackedUp b(300);
  const auto& [pg, root, dir, dump] = b;
  const auto verified = verify(dir);
  INFO(verified.output);
  REQUIRE(verified.exit_code == 0);
  const auto pointer = read_json(dir / "verified-latest");

  Scratch scratch;
  const auto drill_started = std::chrono::steady_clock::now();
  const auto d = drill(dir, scratch.path());
  const std::chrono::duration<double> drill_took = std::chrono::steady_clock::now() - drill_started;
  INFO(d.output);
  REQUIRE(d.exit_code == 0);
  CHECK(has(d.output, "drill pass: " + dump.filename().string()));
  CHECK(has(d.output, "RTO "));

  // One line in DIR/drills.jsonl, the same as the last line printed.
  const auto lines = ops_log(dir / "drills.jsonl");
  REQUIRE(lines.size() == 1);
  const auto& line = lines[0];
  CHECK(line == d.json);
  CHECK(line.at("result") == "pass");
  CHECK(line.at("failure").is_null());
  CHECK(line.at("severity").is_null());
  CHECK(line.at("exit_code") == 0);
  CHECK(line.at("dump") == json::value(dump.filename().string()));
  CHECK(line.at("dump_created_at") == pointer.at("created_at"));
  CHECK(line.at("dump_sha256") == pointer.at("sha256"));
  CHECK_FALSE(line.at("host").as_string().empty());
  const auto latest = std::to_string(weighlink::pg::latest_schema_version());
  CHECK(line.at("schema") == json::value(latest + " -> " + latest));
  // The figures: all measured, and the RTO spans the fetch, the restore and the wait for ready.
  for (const char* key : {"scratch_s", "fetch_s", "restore_s", "ready_s", "smoke_s", "rto_s"}) {
    CAPTURE(key);
    CHECK(number(line, key) > 0);
  }
  const double tolerance = 0.0001;  // each figure is rounded to the microsecond
  CHECK(number(line, "rto_s") + tolerance >=
        number(line, "fetch_s") + number(line, "restore_s") + number(line, "ready_s"));
  // ... and is part of the drill the command ran (no figure from an earlier run or another clock).
  CHECK(number(line, "rto_s") <= drill_took.count() + tolerance);
  double steps = 0;
  std::vector<std::string> names;
  for (const auto& [name, seconds] : line.at("restore_steps").as_object()) {
    names.emplace_back(name);
    steps += seconds.to_number<double>();
  }
  CHECK(names == std::vector<std::string>{"pre-data", "data", "post-data", "analyze", "migrate",
                                          "generation"});
  CHECK(steps <= number(line, "restore_s") + tolerance);
  MESSAGE("drill figures on 900 mutations and weighings: fetch ", number(line, "fetch_s"),
          " s, restore ", number(line, "restore_s"), " s, ready ", number(line, "ready_s"),
          " s, smoke ", number(line, "smoke_s"), " s, rto ", number(line, "rto_s"),
          " s (scratch cluster ", number(line, "scratch_s"), " s, not in the RTO)");

  // Nothing left behind, and the production database untouched (the smoke station was made in
  // the restored copy).
  check_nothing_left(scratch.path());
  CHECK(pg.query_scalar("SELECT count(*) FROM stations WHERE id LIKE 'drill-smoke-%'") == "0");

  // The gate: a fresh backup, verified, and a passed drill.
  const auto status = dr_status(dir);
  INFO(status.output);
  CHECK(status.exit_code == 0);
  CHECK(status.json.at("ready") == true);
  for (const auto& [name, met] : checks(status.json)) {
    const auto& check = name;  // doctest's CAPTURE cannot take a structured binding
    CAPTURE(check);
    CHECK(met);
  }
  CHECK(checks(status.json).size() == 5);
  CHECK(status.json.at("latest_drill").at("result") == "pass");
  CHECK(status.json.at("latest_drill").at("rto_s") == line.at("rto_s"));
  CHECK(status.json.at("latest_verified").at("dump") == json::value(dump.filename().string()));
  CHECK(status.json.at("latest_backup").at("dump") == json::value(dump.filename().string()));
  CHECK(status.json.at("rpo_s").to_number<double>() >= 0);
  CHECK(has(status.output, "DR status: READY"));
  CHECK(has(status.output, "PITR"));
}

TEST_CASE("drill: a verified dump altered afterwards fails the drill as a sev-2") {
  BackedUp b(100);
  const auto& [pg, root, dir, dump] = b;
  REQUIRE(verify(dir).exit_code == 0);
  // Cut short in storage after it was verified.
  const auto bytes = read_file(dump);
  write_text(dump, bytes.substr(0, bytes.size() / 2));

  Scratch scratch;
  const auto d = drill(dir, scratch.path());
  INFO(d.output);
  CHECK(d.exit_code == 3);
  const auto lines = ops_log(dir / "drills.jsonl");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == d.json);
  CHECK(lines[0].at("result") == "fail");
  CHECK(lines[0].at("severity") == "sev-2");
  CHECK(lines[0].at("exit_code") == 3);
  CHECK(lines[0].at("failure").at("step") == "fetch");
  CHECK(has(std::string(lines[0].at("failure").at("detail").as_string()),
            "changed after verify-backup passed it"));
  CHECK(lines[0].at("rto_s").is_null());
  CHECK(lines[0].at("ready_s").is_null());
  CHECK(has(d.output, "drill FAIL (sev-2) at step fetch"));
  check_nothing_left(scratch.path());
}

TEST_CASE("drill: a verified-latest whose dump does not restore fails at the restore step") {
  // Rows a constraint marked valid refuses: the data phase's COPY fails (restore_test.cpp).
  BackedUp b(50,
             "ALTER TABLE weighings ADD CONSTRAINT weight_below_5 CHECK (weight < 5) NOT VALID; "
             "UPDATE pg_constraint SET convalidated = true WHERE conname = 'weight_below_5'");
  const auto& [pg, root, dir, dump] = b;
  // verify-backup would refuse it (RESTORE_FAILED): the pointer is written as if it had passed.
  auto manifest = dump;
  const auto m = read_json(manifest.replace_extension().replace_extension(".manifest.json"));
  write_text(dir / "verified-latest",
             json::serialize(json::object{{"dump", m.at("dump")},
                                          {"sha256", m.at("sha256")},
                                          {"created_at", m.at("created_at")},
                                          {"verified_at", m.at("created_at")}}));

  Scratch scratch;
  const auto d = drill(dir, scratch.path());
  INFO(d.output);
  CHECK(d.exit_code == 3);
  CHECK(d.json.at("result") == "fail");
  CHECK(d.json.at("severity") == "sev-2");
  CHECK(d.json.at("failure").at("step") == "restore_data");
  const std::string detail(d.json.at("failure").at("detail").as_string());
  CHECK(has(detail, "violates check constraint \"weight_below_5\""));
  CHECK(number(d.json, "fetch_s") > 0);
  CHECK(number(d.json, "restore_s") > 0);
  CHECK(d.json.at("rto_s").is_null());
  CHECK(ops_log(dir / "drills.jsonl").size() == 1);
  check_nothing_left(scratch.path());

  // The gate now fails on the drill.
  const auto status = dr_status(dir);
  INFO(status.output);
  CHECK(status.exit_code == 3);
  CHECK_FALSE(checks(status.json).at("drill_result"));
  CHECK(status.json.at("latest_drill").at("failure").at("step") == "restore_data");
}

TEST_CASE("drill: without a verified-latest it could not run, says so and logs it") {
  BackedUp b(10);
  const auto& [pg, root, dir, dump] = b;

  Scratch scratch;
  const auto d = drill(dir, scratch.path());
  INFO(d.output);
  CHECK(d.exit_code == 1);
  CHECK(has(d.output, "weighlink-backend: drill: FAIL at step pick: no readable verified-latest"));
  CHECK(has(d.output, "verify-backup --dir"));
  const auto lines = ops_log(dir / "drills.jsonl");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].at("result") == "fail");
  CHECK(lines[0].at("exit_code") == 1);
  CHECK(lines[0].at("failure").at("step") == "pick");
  CHECK(lines[0].at("dump").is_null());
  check_nothing_left(scratch.path());

  // A remote DIR needs --ops-log (bad usage, nothing logged); a missing DIR could not run.
  const auto remote = run({bin("weighlink-backend"), "drill", "--dir", "offsite:backups"});
  CHECK(remote.exit_code == 2);
  CHECK(has(remote.output, "--ops-log"));
  const auto log = root / "ops.jsonl";
  const auto missing = drill(root / "nowhere", scratch.path(), {"--ops-log", log.string()});
  CHECK(missing.exit_code == 1);
  CHECK(ops_log(log).at(0).at("failure").at("step") == "locate");
}

TEST_CASE("drill: a dump of schema 1 is migrated on restore and drills fine") {
  PgCluster pg;
  weighlink::testing::create_schema_v1(pg);
  TempDir root("wl-drill");
  const auto dir = root / "backups";
  (void)weighlink::testing::backup(pg.dsn(), dir);
  const auto verified = verify(dir);
  INFO(verified.output);
  REQUIRE(verified.exit_code == 0);

  Scratch scratch;
  const auto d = drill(dir, scratch.path());
  INFO(d.output);
  CHECK(d.exit_code == 0);
  CHECK(d.json.at("result") == "pass");
  CHECK(d.json.at("schema") ==
        json::value("1 -> " + std::to_string(weighlink::pg::latest_schema_version())));
  // Migrated in the restored copy only.
  CHECK(pg.query_scalar("SELECT max(version) FROM schema_migrations") == "1");
  check_nothing_left(scratch.path());
}

TEST_CASE("dr-status: a verified dump older than the policy is not ready (verified_age)") {
  Folder f;
  f.backup(std::int64_t{2} * 3600);
  f.verified(std::int64_t{30} * 3600);
  f.drill_line(std::int64_t{24} * 3600, "pass", 42.5);
  const auto status = dr_status(f.dir);
  INFO(status.output);
  CHECK(status.exit_code == 3);
  CHECK(status.json.at("ready") == false);
  const auto c = checks(status.json);
  CHECK_FALSE(c.at("verified_age"));
  CHECK(c.at("backup_age"));
  CHECK(c.at("drill_age"));
  CHECK(c.at("drill_result"));
  CHECK(c.at("drill_rto"));
  CHECK(status.json.at("rpo_s").to_number<double>() >= 30 * 3600);
  CHECK(has(status.output, "FAIL verified_age"));
  CHECK(has(status.output, "DR status: NOT READY (1 of 5 checks not met)"));

  // Within a looser policy it is ready; an RTO above the policy is not.
  CHECK(dr_status(f.dir, {"--max-verified-age-hours", "48"}).exit_code == 0);
  const auto slow = dr_status(f.dir, {"--max-verified-age-hours", "48", "--max-rto-seconds", "30"});
  CHECK(slow.exit_code == 3);
  CHECK_FALSE(checks(slow.json).at("drill_rto"));
}

TEST_CASE("dr-status: no drill, or a failed last drill, is not ready") {
  Folder f;
  f.backup(3600);
  f.verified(3600);
  auto status = dr_status(f.dir);
  INFO(status.output);
  CHECK(status.exit_code == 3);
  CHECK_FALSE(checks(status.json).at("drill_age"));
  CHECK_FALSE(checks(status.json).at("drill_result"));
  CHECK(status.json.at("latest_drill").is_null());

  f.drill_line(7200, "pass", 12.0);
  CHECK(dr_status(f.dir).exit_code == 0);

  // The last line counts, whatever passed before it.
  f.drill_line(600, "fail", 0);
  status = dr_status(f.dir);
  CHECK(status.exit_code == 3);
  const auto c = checks(status.json);
  CHECK_FALSE(c.at("drill_result"));
  CHECK_FALSE(c.at("drill_rto"));
  CHECK(c.at("drill_age"));
  CHECK(status.json.at("latest_drill").at("result") == "fail");
}

TEST_CASE("dr-status: a garbage line in the ops log is skipped with a note") {
  const auto status = dr_status_after_ops_lines(
      "{\"started_at\": \"2026-01-0\n"
      "\x01\x02 not json\n"
      "[1, 2]\n"
      "{\"started_at\":\"2026-01-01T00:00:00Z\",\"result\":\"maybe\"}\n");
  const auto notes = json::serialize(status.json.at("notes"));
  for (const char* line :
       {"line 2 skipped", "line 3 skipped", "line 4 skipped", "line 5 skipped"}) {
    CAPTURE(line);
    CHECK(has(notes, line));
  }
}

TEST_CASE("dr-status: the monitor's lines in a shared ops log are neither drills nor notes") {
  const auto status = dr_status_after_ops_lines(
      "{\"time\":\"2026-11-21T20:53:04.690Z\",\"source\":\"monitor\",\"event\":\"check\","
      "\"healthy\":true}\n");
  CHECK(status.json.at("notes").as_array().empty());
}

TEST_CASE("dr-status: a --dir that cannot be read exits 1") {
  TempDir root("wl-dr-status");
  const auto status = dr_status(root / "not-there");
  INFO(status.output);
  CHECK(status.exit_code == 1);
  CHECK(status.json.at("ready") == false);
  CHECK(has(status.output, "not-there not found (No such file or directory)"));
}
