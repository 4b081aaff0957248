#include <doctest/doctest.h>

#include "weighlink/recovery/drill.hpp"

using weighlink::recovery::drill_paths;
using weighlink::recovery::DrillRecord;
using weighlink::recovery::parse_drill_record;
using weighlink::recovery::to_json_line;

namespace {

DrillRecord passed() {
  DrillRecord r;
  r.started_at = 1'800'000'000;
  r.dump = "weighlink_20270115_080000.dump";
  r.dump_sha256 = std::string(64, 'b');
  r.dump_created_at = 1'799'990'000;
  r.fetch_s = 0.0123456789;
  r.restore_s = 1.5;
  r.restore_steps = {{"pre-data", 0.1}, {"data", 0.9}};
  r.ready_s = 0.25;
  r.smoke_s = 0.05;
  r.rto_s = 1.8;
  r.passed = true;
  r.host = "drill-host";
  return r;
}

}  // namespace

TEST_CASE("drill record: the ops-log line has the documented fields and reads back") {
  const auto line = to_json_line(passed());
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.starts_with(
      R"({"started_at":"2027-01-15T08:00:00Z","dump":"weighlink_20270115_080000.dump",)"
      R"("dump_created_at":"2027-01-15T05:13:20Z","fetch_s":0.012346,"restore_s":1.5,)"
      R"("ready_s":0.25,"smoke_s":0.05,"rto_s":1.8,"result":"pass","failure":null,)"
      R"("severity":null,"host":"drill-host",)"));
  const auto back = parse_drill_record(line);
  REQUIRE(back.has_value());
  CHECK(back->passed);
  CHECK(back->started_at == 1'800'000'000);
  CHECK(back->dump_created_at == 1'799'990'000);
  CHECK(back->rto_s == doctest::Approx(1.8));
  CHECK(back->fetch_s == doctest::Approx(0.012346));
  CHECK(back->restore_steps.size() == 2);
  CHECK(line.find(R"("restore_steps":{"pre-data":0.1,"data":0.9})") != std::string::npos);
  CHECK(back->host == "drill-host");
}

TEST_CASE("drill record: a failure carries its step, sev-2 and nulls for what was not reached") {
  DrillRecord r;
  r.started_at = 1'800'000'000;
  r.fetch_s = 0.5;
  r.failed_step = "restore_data";
  r.failure = "phase data failed";
  r.exit_code = 3;
  const auto line = to_json_line(r);
  CHECK(line.find(R"("dump":null)") != std::string::npos);
  CHECK(line.find(R"("rto_s":null)") != std::string::npos);
  CHECK(line.find(R"("result":"fail","failure":{"step":"restore_data","detail":"phase data )"
                  R"(failed"},"severity":"sev-2")") != std::string::npos);
  const auto back = parse_drill_record(line);
  REQUIRE(back.has_value());
  CHECK_FALSE(back->passed);
  CHECK(back->failed_step == "restore_data");
  CHECK(back->exit_code == 3);
  CHECK_FALSE(back->rto_s);
}

TEST_CASE("drill record: lines that are not records are refused with a reason") {
  for (const char* line : {"", "{", "[1]", "null", "\x01\x02", R"({"result":"pass"})",
                           R"({"started_at":"yesterday","result":"pass"})",
                           R"({"started_at":"2027-01-15T08:00:00Z","result":"maybe"})",
                           R"({"started_at":"2027-01-15T08:00:00Z"})"}) {
    CAPTURE(line);
    const auto refused = parse_drill_record(line);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == std::errc::invalid_argument);
    CHECK_FALSE(refused.error().message.empty());
  }
  // Odd types in optional fields are ignored, never thrown on.
  const auto odd = parse_drill_record(
      R"({"started_at":"2027-01-15T08:00:00Z","result":"fail","rto_s":"fast","exit_code":1e300,)"
      R"("failure":"x","restore_steps":[1]})");
  REQUIRE(odd.has_value());
  CHECK_FALSE(odd->rto_s);
  CHECK(odd->exit_code == 0);
}

TEST_CASE("drill paths: the ops log defaults to DIR/drills.jsonl, a remote DIR needs --ops-log") {
  const auto local = drill_paths({"/srv/backups", "offsite:weighlink"}, "");
  REQUIRE(local.has_value());
  CHECK(local->ops_log == "/srv/backups/drills.jsonl");
  CHECK(local->locations.size() == 2);
  CHECK(local->locations[1].remote());
  const auto remote = drill_paths({"offsite:weighlink"}, "");
  REQUIRE_FALSE(remote.has_value());
  CHECK(remote.error().code == std::errc::invalid_argument);
  CHECK(remote.error().message.find("--ops-log") != std::string::npos);
  const auto given = drill_paths({"offsite:weighlink"}, "/var/log/drills.jsonl");
  REQUIRE(given.has_value());
  CHECK(given->ops_log == "/var/log/drills.jsonl");
  const auto none = drill_paths({}, "");
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().message == "--dir is required");
  CHECK_FALSE(drill_paths({""}, "x").has_value());
}
