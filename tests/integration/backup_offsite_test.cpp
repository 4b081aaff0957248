// Backups as the runbooks keep them: an offsite rclone remote (here `rclone serve webdav` on
// loopback) with an on-site mirror, read back by verify-backup with the mirror as its fallback;
// retention by manifest time that keeps the newest two verified dumps; and the notification,
// retried on 5xx, not on 4xx, never changing the verdict.
#include <doctest/doctest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "weighlink/base/timestamp.hpp"
#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/backup_data.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"
#include "weighlink/testing/rclone_serve.hpp"
#include "weighlink/testing/scripted_http.hpp"

using weighlink::testing::bin;
using weighlink::testing::last_line;
using weighlink::testing::PgCluster;
using weighlink::testing::RcloneServe;
using weighlink::testing::read_file;
using weighlink::testing::run;
using weighlink::testing::ScriptedHttpServer;
using weighlink::testing::TempDir;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

using Verdict = weighlink::testing::VerifyRun;

Verdict verify(const TempDir& root, const std::vector<std::string>& args) {
  return weighlink::testing::verify_backup_with_report(args, root / "report.json");
}

std::string notes(const Verdict& v) { return json::serialize(v.report.at("notes")); }

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::size_t count_suffix(const std::vector<std::string>& names, std::string_view suffix) {
  return static_cast<std::size_t>(std::count_if(
      names.begin(), names.end(), [&](const std::string& n) { return n.ends_with(suffix); }));
}

}  // namespace

TEST_CASE("backup offsite: a remote with a mirror, verified through the fallback when it is down") {
  PgCluster pg;
  weighlink::testing::seed_captures(pg, 200);
  TempDir root("wl-offsite-backup");
  fs::create_directories(root / "offsite");
  RcloneServe webdav(RcloneServe::Kind::webdav, root / "offsite", root / "rclone.log");
  const auto remote = webdav.remote();
  const auto mirror = root / "mirror";

  // The dump goes to the remote and to the mirror; the last line names the remote manifest.
  const auto b = run({bin("weighlink-backend"), "backup", "--dsn", pg.dsn(), "--dir", remote,
                      "--mirror", mirror.string(), "--staging-dir", (root / "staging").string()});
  INFO(b.output);
  REQUIRE(b.exit_code == 0);
  CHECK(last_line(b.output).starts_with(":webdav,"));
  CHECK(last_line(b.output).ends_with(".manifest.json"));
  for (const auto& dir : {root / "offsite", mirror}) {
    const auto names = names_in(dir);
    CHECK(count_suffix(names, ".dump") == 1);
    CHECK(count_suffix(names, ".manifest.json") == 1);
    CHECK(count_suffix(names, ".partial") == 0);
  }
  CHECK(fs::is_empty(root / "staging"));  // uploaded, then removed
  // Taken a minute ago, in both places: the backup below has a name of its own at once.
  for (const auto& dir : {root / "offsite", mirror}) {
    for (const auto& name : names_in(dir)) {
      if (name.ends_with(".manifest.json")) {
        (void)weighlink::testing::backdate_backup(dir / name, std::chrono::minutes(1));
      }
    }
  }

  // Primary up: read from it; the mirror, which holds the same dump, is promoted too.
  const auto up = verify(root, {"--dir", remote, "--fallback", mirror.string()});
  INFO(up.output);
  REQUIRE(up.exit_code == 0);
  CHECK(up.report.at("location").as_string().starts_with(":webdav,"));
  CHECK(fs::exists(root / "offsite" / "verified-latest"));
  CHECK(fs::exists(mirror / "verified-latest"));

  // Primary down: the mirror serves, and the report says so as information.
  webdav.kill();
  const auto down = verify(root, {"--dir", remote, "--fallback", mirror.string()});
  INFO(down.output);
  CHECK(down.exit_code == 0);
  CHECK(down.code() == "OK");
  CHECK(down.report.at("location").as_string() == mirror.string());
  CHECK(notes(down).find("unreachable") != std::string::npos);
  CHECK(notes(down).find("served by fallback") != std::string::npos);

  // Both down: OFFSITE_ENDPOINT_DOWN, no verdict on the dump (exit 1), in the textfile too.
  const auto textfile = root / "verify.prom";
  const auto dead = verify(root, {"--dir", remote, "--fallback", webdav.remote() + "nothing",
                                  "--textfile", textfile.string()});
  INFO(dead.output);
  CHECK(dead.exit_code == 1);
  CHECK(dead.code() == "OFFSITE_ENDPOINT_DOWN");
  CHECK(dead.report.at("verdict").as_string() == "error");
  CHECK(read_file(textfile).find(
            "weighlink_backup_verify_result{code=\"OFFSITE_ENDPOINT_DOWN\"} 1") !=
        std::string::npos);

  // A backup while the remote is down: the mirror gets it, the staged copy stays, exit 1.
  const auto partial =
      run({bin("weighlink-backend"), "backup", "--dsn", pg.dsn(), "--dir", remote, "--mirror",
           mirror.string(), "--staging-dir", (root / "staging").string()});
  CHECK(partial.exit_code == 1);
  CHECK(partial.output.find("cannot copy") != std::string::npos);
  CHECK(count_suffix(names_in(mirror), ".dump") == 2);
  CHECK(count_suffix(names_in(root / "staging"), ".dump") == 1);
}

TEST_CASE("backup retention: by manifest time, never the newest two verified dumps") {
  PgCluster pg;
  weighlink::testing::seed_captures(pg, 50);
  TempDir root("wl-retention");
  const auto dir = root / "backups";
  const auto manifest_of = [](const fs::path& dump) {
    return dump.parent_path() / (dump.stem().string() + ".manifest.json");
  };
  // Taken a minute ago: the backup below has a name of its own at once.
  const auto good_manifest = json::parse(read_file(weighlink::testing::backdate_backup(
                                             manifest_of(weighlink::testing::backup(pg.dsn(), dir)),
                                             std::chrono::minutes(1))))
                                 .as_object();
  const auto first = dir / std::string(good_manifest.at("dump").as_string());

  // Ten older dumps, one a day from 20 days ago; their file names sort the other way round from
  // their manifest times (as after a clock fix), and the two oldest were verified.
  for (int i = 0; i < 10; ++i) {
    const int age_days = 20 - i;
    const std::string base = "weighlink_2099010" + std::to_string(i) + "_000000";
    auto m = good_manifest;
    m["dump"] = base + ".dump";
    const auto created = std::chrono::system_clock::now() - std::chrono::hours(24 * age_days - 12);
    m["created_at"] =
        weighlink::base::format_utc_timestamp(std::chrono::system_clock::to_time_t(created));
    std::ofstream(dir / (base + ".dump")) << "dump " << i;
    std::ofstream(dir / (base + ".manifest.json")) << json::serialize(m);
    if (i < 2) std::ofstream(dir / (base + ".verified.json")) << "{}";
  }
  const auto r = run({bin("weighlink-backend"), "backup", "--dsn", pg.dsn(), "--dir", dir.string(),
                      "--retention-days", "14"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto names = names_in(dir);
  // 19.5..14.5 days old are past 14 days (i = 0..5); i = 0 and 1 are the newest two verified: kept.
  for (int i = 0; i < 10; ++i) {
    CAPTURE(i);
    const std::string base = "weighlink_2099010" + std::to_string(i) + "_000000";
    const bool kept = i < 2 || i > 5;
    CHECK(std::count(names.begin(), names.end(), base + ".dump") == (kept ? 1 : 0));
    CHECK(std::count(names.begin(), names.end(), base + ".manifest.json") == (kept ? 1 : 0));
  }
  CHECK(fs::exists(first));
  CHECK(count_suffix(names, ".verified.json") == 2);
  CHECK(r.output.find("retention: removed weighlink_20990102_000000.dump") != std::string::npos);
}

TEST_CASE("verify-backup notify: 5xx retried, 4xx not, and the verdict never changes") {
  PgCluster pg;
  weighlink::testing::seed_captures(pg, 50);
  TempDir root("wl-verify-notify");
  const auto dir = root / "backups";
  (void)weighlink::testing::backup(pg.dsn(), dir);

  {
    ScriptedHttpServer hook({{503, "busy"}, {200, "ok"}});
    const auto v =
        verify(root, {"--dir", dir.string(), "--notify-url",
                      "http://" + hook.address() + "/hooks/backup", "--notify-backoff-ms", "50"});
    INFO(v.output);
    CHECK(v.exit_code == 0);
    const auto& notify = v.report.at("notify").as_object();
    CHECK(notify.at("delivered").as_bool());
    CHECK(notify.at("attempts").as_array().size() == 2);
    REQUIRE(hook.requests().size() == 2);
    const auto sent = json::parse(hook.requests()[1].body).as_object();
    CHECK(sent.at("verdict").as_string() == "pass");
  }
  {
    ScriptedHttpServer hook({{400, "bad token"}});
    const auto v =
        verify(root, {"--dir", dir.string(), "--notify-url",
                      "http://" + hook.address() + "/hooks/backup", "--notify-backoff-ms", "50"});
    CHECK(v.exit_code == 0);  // the dump passed; the notification's failure is reported apart
    CHECK(v.code() == "OK");
    CHECK(v.report.at("notify").as_object().at("code").as_string() == "NOTIFY_FAILED");
    CHECK(hook.requests().size() == 1);
    CHECK(v.output.find("NOTIFY_FAILED") != std::string::npos);
  }
  {
    // A failing dump with an endpoint that always fails: exit 3 stays, N attempts made.
    std::ofstream(dir / "verified-latest", std::ios::trunc) << "{}";
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".dump") fs::resize_file(e.path(), 10000);
    }
    ScriptedHttpServer hook({{500, "down"}});
    const auto v = verify(root, {"--dir", dir.string(), "--min-bytes", "1", "--notify-url",
                                 "http://" + hook.address() + "/", "--notify-attempts", "3",
                                 "--notify-backoff-ms", "20"});
    CHECK(v.exit_code == 3);
    CHECK(v.code() == "TRUNCATED");
    CHECK(v.report.at("notify").as_object().at("code").as_string() == "NOTIFY_FAILED");
    CHECK(hook.requests().size() == 3);
  }
}

TEST_CASE("verify-backup: a fallback's copy that differs from the verified dump is not promoted") {
  PgCluster pg;
  weighlink::testing::seed_captures(pg, 50);
  TempDir root("wl-verify-mirror");
  const auto primary = root / "primary";
  const auto mirror = root / "mirror";
  const auto b = run({bin("weighlink-backend"), "backup", "--dsn", pg.dsn(), "--dir",
                      primary.string(), "--mirror", mirror.string()});
  REQUIRE(b.exit_code == 0);
  // Bit rot on the mirror: same name, same size, one byte changed.
  for (const auto& e : fs::directory_iterator(mirror)) {
    if (e.path().extension() != ".dump") continue;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-40, std::ios::end);
    f.put('\x7f');
  }
  const auto v = verify(root, {"--dir", primary.string(), "--fallback", mirror.string()});
  INFO(v.output);
  CHECK(v.exit_code == 0);
  CHECK(fs::exists(primary / "verified-latest"));
  CHECK_FALSE(fs::exists(mirror / "verified-latest"));
  CHECK(notes(v).find("differs from the verified one") != std::string::npos);
}
