// Disaster recovery end to end: real PostgreSQL, a real `weighlink-backend serve`, three real
// agents. The backend is backed up, takes more mutations, is stopped and restored from the older
// dump; when it is started again the agents find out by themselves (the generation changed, the
// high water is below what they hold acknowledged) and re-send what the dump lacks, so that every
// mutation is in PostgreSQL exactly once with no operator step (SPEC §5, §6).
//   st-a: mutations acknowledged after the backup, and more queued while the backend is down;
//   st-b: mutations acknowledged after the backup, then idle: only its periodic Hello can notice;
//   st-c: idle since before the backup: nothing lost, it only sees the new generation.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "station_fixture.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;  // NOLINT(google-build-using-namespace)
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

TEST_CASE("dr: restored from an older backup, the agents re-send what it lacks, exactly once") {
  const auto start = Clock::now();
  PgCluster pg;
  weighlink::testing::migrate(pg.dsn());
  TempDir dir("wl-dr");
  // A fixed address: the backend is stopped and started again where the agents look for it.
  const auto grpc = weighlink::testing::free_loopback_address();
  weighlink::testing::BackendServer backend(pg.dsn(), dir.path(), {}, grpc);
  std::map<std::string, std::unique_ptr<Station>> stations;
  for (const char* id : {"st-a", "st-b", "st-c"}) {
    stations[id] = std::make_unique<Station>(id, pg, grpc);
  }
  Station& a = *stations["st-a"];
  Station& b = *stations["st-b"];
  Station& c = *stations["st-c"];
  const auto all_drained = [&] { return a.drained() && b.drained() && c.drained(); };

  for (auto& [id, station] : stations) station->post("before", 100);
  REQUIRE(eventually(all_drained, 20s));
  const auto old_generation =
      pg.query_scalar("SELECT value FROM backend_meta WHERE key = 'generation'");
  for (auto& [id, station] : stations) CHECK(station->generation() == old_generation);

  const auto dump = weighlink::testing::backup(pg.dsn(), dir / "backups");

  // After the backup: st-a and st-b go on, and everything is acknowledged by the backend.
  a.post("after", 100);
  b.post("after", 100);
  REQUIRE(eventually(all_drained, 20s));
  CHECK(in_pg(pg, "count(*)", "st-a") == "200");
  CHECK(in_pg(pg, "count(*)", "st-b") == "200");

  // Disaster: the backend is stopped and the database restored from the older dump, while st-a
  // keeps taking mutations into its outbox.
  CHECK(backend.terminate() == 0);
  a.post("down", 50);
  const auto restored = weighlink::testing::run(
      {bin("weighlink-backend"), "restore", "--file", dump.string(), "--dsn", pg.dsn(), "--force"},
      60s);
  INFO(restored.output);
  REQUIRE(restored.exit_code == 0);
  const auto new_generation = last_line(restored.output);
  CHECK(new_generation != old_generation);
  CHECK(in_pg(pg, "count(*)", "st-a") == "100");
  CHECK(in_pg(pg, "count(*)", "st-b") == "100");
  CHECK(c.generation() == old_generation);  // it cannot know yet

  // Back up: no operator step from here on.
  const auto back = Clock::now();
  backend.start();
  const bool caught_up = eventually(
      [&] {
        return all_drained() && a.generation() == new_generation &&
               b.generation() == new_generation && c.generation() == new_generation;
      },
      30s, 100ms);
  const double caught_up_s = seconds_since(back);
  REQUIRE_MESSAGE(caught_up, "the agents did not catch up within 30 s of the restored backend: "
                                 << "st-a " << json::serialize(agent_status(a.agent->http))
                                 << "\nst-b " << json::serialize(agent_status(b.agent->http))
                                 << "\nst-c " << json::serialize(agent_status(c.agent->http))
                                 << "\nst-b log:\n"
                                 << b.log());
  CHECK(a.keys.size() == 250);
  CHECK(b.keys.size() == 200);
  CHECK(c.keys.size() == 100);
  for (auto& [id, station] : stations) check_exactly_once(pg, *station);
  CHECK(pg.query_scalar("SELECT count(*) FROM mutation_log") == "550");

  // Each agent logged the restore it noticed; those the dump lacked mutations of re-sent them.
  const std::string changed =
      "backend generation changed from " + old_generation + " to " + new_generation;
  for (auto& [id, station] : stations) {
    const std::string& station_id = id;  // doctest's CAPTURE cannot take a structured binding
    CAPTURE(station_id);
    CHECK(station->log().find(changed) != std::string::npos);
  }
  CHECK(a.log().find("re-sending") != std::string::npos);
  CHECK(b.log().find("holds this station only up to seq 100") != std::string::npos);
  CHECK(c.log().find("re-sending") == std::string::npos);  // nothing lost, nothing re-sent
  MESSAGE("dr: caught up " << caught_up_s << " s after the restored backend started; "
                           << seconds_since(start) << " s in all; restore said:\n"
                           << restored.output);
  for (auto& [id, station] : stations) CHECK(station->agent->process->terminate() == 0);
}
