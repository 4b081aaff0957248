// One bad mutation never stops a station's sync (issue 15): the real weighlink-backend on a
// throwaway PostgreSQL, driven over real gRPC on loopback. Each poison goes in the middle of valid
// mutations; it alone is REJECTED with its reason code, the others are APPLIED and in
// PostgreSQL, the high water covers the batch and the backend stays up. Also: a forged typed
// weighing is not what is stored, unsigned weighings follow the station's setting, a row the
// database refuses is found with savepoints, and client text cannot forge a log line.
#include "poison_fixture.hpp"

TEST_CASE(
    "poison: each bad mutation is REJECTED alone with its code; the batch around it is "
    "applied") {
  PgCluster pg;
  weighlink::testing::migrate(pg.dsn());
  TempDir dir("wl-poison");
  BackendServer backend(pg.dsn(), dir.path(), {"--workers", "2"});
  const auto cases = catalogue();
  CHECK(cases.size() >= 28);
  int number = 0;
  for (const auto& poison : cases) run_poison(pg, backend, dir, poison, ++number);
  CHECK(backend.process().running());
}

TEST_CASE("poison: a row the database refuses is found with savepoints and rejected alone") {
  PgCluster pg;
  weighlink::testing::migrate(pg.dsn());
  // Test-only constraints, as an operator's own could be: they pass validation and fail in
  // PostgreSQL (23514) on one row each.
  (void)pg.query_scalar(
      "ALTER TABLE weighings ADD CONSTRAINT test_refuse_13 CHECK (weight <> 13); "
      "ALTER TABLE mutation_log ADD CONSTRAINT test_refuse_kind "
      "CHECK (kind <> 'test.refused' OR outcome = 'rejected')");
  TempDir dir("wl-poison");
  BackendServer backend(pg.dsn(), dir.path(), {"--workers", "2"});
  const std::string token = weighlink::testing::add_station(pg.dsn(), "st1");

  pb::ReplayRequest request;
  request.set_station_id("st1");
  for (const auto& m :
       {weighing("st1", 1, "w1", "1000"), note("st1", 2, "n2"), weighing("st1", 3, "w13", "13"),
        note("st1", 4, "n4"), mutation("st1", 5, "refused-kind", "test.refused", R"({"x":1})"),
        weighing("st1", 6, "w6", "6000"), note("st1", 7, "n7")}) {
    *request.add_mutations() = m;
  }
  const auto answer = replay(backend.grpc(), token, request);
  REQUIRE_MESSAGE(answer.status.ok(), answer.status.error_message());
  const auto& r = answer.response;
  REQUIRE(r.results_size() == 7);
  for (int i : {0, 1, 3, 5, 6}) CHECK_MESSAGE(r.results(i).outcome() == pb::APPLIED, i);
  for (int i : {2, 4}) {
    CHECK(r.results(i).outcome() == pb::REJECTED);
    CHECK_MESSAGE(r.results(i).reason().rfind("storage_refused: 23514 ", 0) == 0,
                  r.results(i).reason());
  }
  CHECK(r.watermark().high_water_seq() == 7);
  CHECK(pg.query_scalar("select string_agg(seq || ':' || outcome, ' ' order by seq) from "
                        "mutation_log") ==
        "1:applied 2:applied 3:rejected 4:applied 5:rejected 6:applied 7:applied");
  CHECK(pg.query_scalar("select string_agg(weight::text, ' ' order by weight) from weighings") ==
        "1000 6000");
  CHECK(pg.query_scalar("select payload::text from mutation_log where seq=3") ==
        R"({"storage_refused": "23514"})");
  // The exact text the station sent is kept beside the jsonb, except for what was not stored.
  CHECK(pg.query_scalar("select payload_text from mutation_log where seq=1") ==
        request.mutations(0).payload_json());
  CHECK(pg.query_scalar("select count(*) from mutation_log where payload_text is null") == "2");
  // Stored once (schema v7): the jsonb column holds only what the backend made itself.
  CHECK(pg.query_scalar("select count(*) from mutation_log where payload is null") == "5");
  CHECK(pg.query_scalar("select high_water_seq from stations where id='st1'") == "7");
  CHECK(backend.process().log().find("mutation rejected: storage_refused: 23514") !=
        std::string::npos);

  // Re-sent: duplicates of what was recorded. Then the fast path goes on as before.
  const auto again = replay(backend.grpc(), token, request);
  REQUIRE(again.status.ok());
  CHECK(again.response.results(2).outcome() == pb::DUPLICATE);
  CHECK(again.response.results(2).original_outcome() == pb::REJECTED);
  pb::ReplayRequest next;
  next.set_station_id("st1");
  *next.add_mutations() = weighing("st1", 8, "w8", "8000");
  const auto later = replay(backend.grpc(), token, next);
  REQUIRE(later.status.ok());
  CHECK(later.response.results(0).outcome() == pb::APPLIED);
  CHECK(pg.query_scalar("select count(*) from weighings") == "3");
}

TEST_CASE("poison: a forged typed copy is not stored; the payload's values are") {
  PgCluster pg;
  weighlink::testing::migrate(pg.dsn());
  TempDir dir("wl-poison");
  BackendServer backend(pg.dsn(), dir.path(), {"--workers", "2"});
  const std::string token = weighlink::testing::add_station(pg.dsn(), "st1");  // keyless, allowed
  auto m = weighing("st1", 1, "forged", "100");
  auto* typed = m.mutable_weighing_captured();
  typed->set_weight("999999");
  typed->set_scale("elsewhere");
  auto* deck = typed->add_decks();  // decks the payload does not have
  deck->set_index(1);
  deck->set_weight("999999");
  pb::ReplayRequest request;
  request.set_station_id("st1");
  *request.add_mutations() = m;
  const auto answer = replay(backend.grpc(), token, request);
  REQUIRE_MESSAGE(answer.status.ok(), answer.status.error_message());
  CHECK(answer.response.results(0).outcome() == pb::APPLIED);
  CHECK(pg.query_scalar("select weight::text || ' ' || scale || ' ' || reading_seq from weighings "
                        "where idempotency_key='forged'") == "100 main 77");
  CHECK(pg.query_scalar("select count(*) from weighing_decks") == "0");
  CHECK(pg.query_scalar("select signature_verified from mutation_log") == "f");
}

TEST_CASE(
    "unsigned weighings: off for a new station, per station setting, existing stations kept") {
  PgCluster pg;
  weighlink::testing::migrate(pg.dsn());
  TempDir dir("wl-poison");
  BackendServer backend(pg.dsn(), dir.path(), {"--workers", "2"});
  const std::string token = weighlink::testing::add_station(pg.dsn(), "new", false);
  CHECK(pg.query_scalar("select accept_unsigned_weighings from stations where id='new'") == "f");
  (void)weighlink::testing::add_station(pg.dsn(), "allowed", true);
  CHECK(pg.query_scalar("select accept_unsigned_weighings from stations where id='allowed'") ==
        "t");

  std::uint64_t seq = 0;
  auto send_weighing = [&]() {
    pb::ReplayRequest request;
    request.set_station_id("new");
    ++seq;
    *request.add_mutations() = weighing("new", seq, "w" + std::to_string(seq), "100");
    const auto answer = replay(backend.grpc(), token, request);
    REQUIRE_MESSAGE(answer.status.ok(), answer.status.error_message());
    return answer.response.results(0);
  };
  auto refused = send_weighing();
  CHECK(refused.outcome() == pb::REJECTED);
  CHECK(refused.reason().rfind("unsigned_weighing: ", 0) == 0);
  CHECK(refused.reason().find("station set-key") != std::string::npos);
  CHECK(refused.reason().find("set-unsigned-weighings") != std::string::npos);

  auto set = [&](const std::string& id, const std::string& choice) {
    return weighlink::testing::run(
        {kBackend, "station", "set-unsigned-weighings", "--dsn", pg.dsn(), "--id", id, choice});
  };
  const auto allow = set("new", "allow");
  CHECK_MESSAGE(allow.exit_code == 0, allow.output);
  CHECK(send_weighing().outcome() == pb::APPLIED);
  CHECK(set("new", "refuse").exit_code == 0);
  CHECK(send_weighing().outcome() == pb::REJECTED);
  // Usage: an unknown station exits 1, a bad or missing choice 2.
  const auto unknown = set("nope", "allow");
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.output.find("no such station") != std::string::npos);
  CHECK(set("new", "maybe").exit_code == 2);
  CHECK(weighlink::testing::run(
            {kBackend, "station", "set-unsigned-weighings", "--dsn", pg.dsn(), "--id", "new"})
            .exit_code == 2);
  // A registered key makes the setting moot: signed weighings are recorded.
  const auto key = weighlink::testing::run({kBackend, "station", "set-key", "--dsn", pg.dsn(),
                                            "--id", "new", "--key-file",
                                            write_station_key(dir / "station.key", kKey).string()});
  REQUIRE_MESSAGE(key.exit_code == 0, key.output);
  pb::ReplayRequest request;
  request.set_station_id("new");
  auto signed_one = weighing("new", ++seq, "signed", "100");
  sign_mutation(signed_one, kGenesis, kKey);
  *request.add_mutations() = signed_one;
  const auto answer = replay(backend.grpc(), token, request);
  REQUIRE(answer.status.ok());
  CHECK_MESSAGE(answer.response.results(0).outcome() == pb::APPLIED,
                answer.response.results(0).reason());

  // An upgrade stops no station: stations that existed before migration 4 keep accepting.
  (void)pg.query_scalar(
      "ALTER TABLE stations DROP COLUMN accept_unsigned_weighings; "
      "DELETE FROM schema_migrations WHERE version = 4; "
      "INSERT INTO stations (id, token_sha256) VALUES ('old', 'x')");
  weighlink::testing::migrate(pg.dsn());
  CHECK(pg.query_scalar("select string_agg(id || ':' || accept_unsigned_weighings, ' ' order by "
                        "id) from stations") == "allowed:true new:true old:true");
  (void)weighlink::testing::add_station(pg.dsn(), "after", false);
  CHECK(pg.query_scalar("select accept_unsigned_weighings from stations where id='after'") == "f");
}

TEST_CASE("logs: a newline in client text cannot forge a backend log line") {
  PgCluster pg;
  weighlink::testing::migrate(pg.dsn());
  TempDir dir("wl-poison");
  BackendServer backend(pg.dsn(), dir.path(), {"--workers", "2", "--log-level", "debug"});
  const std::string token = weighlink::testing::add_station(pg.dsn(), "st1");
  const std::string forged = "\n2030-01-01T00:00:00.000+0000 info FORGED ";

  // Unauthenticated Hello, a Hello with a forged agent version, a Replay for another station id,
  // and a rejected mutation whose key, kind and payload carry the newline.
  CHECK(hello(backend.grpc(), "wlst_not-a-token", "st1" + forged + "hello").error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);
  CHECK(hello(backend.grpc(), token, "st1", "1.0" + forged + "version").ok());
  pb::ReplayRequest other;
  other.set_station_id("st1" + forged + "replay");
  *other.add_mutations() = note("st1" + forged + "replay", 1, "k1");
  CHECK(replay(backend.grpc(), token, other).status.error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
  pb::ReplayRequest request;
  request.set_station_id("st1");
  *request.add_mutations() = mutation("st1", 1, "key" + forged + "key", "note.added", "{}");
  *request.add_mutations() = mutation("st1", 2, "k2", "kind" + forged + "kind", "{}");
  *request.add_mutations() = weighing("st1", 3, "k3", "1" + forged + "weight");
  const auto answer = replay(backend.grpc(), token, request);
  REQUIRE_MESSAGE(answer.status.ok(), answer.status.error_message());
  REQUIRE(answer.response.results_size() == 3);
  for (const auto& result : answer.response.results()) {
    CHECK(result.outcome() == pb::REJECTED);
    CHECK(result.reason().find('\n') == std::string::npos);
  }

  const std::string log = backend.process().log();
  INFO(log);
  std::istringstream lines(log);
  std::string line;
  int forged_lines = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("2030-01-01", 0) == 0 || line.rfind("FORGED", 0) == 0) ++forged_lines;
  }
  CHECK(forged_lines == 0);
  // Each attempt is in the log, escaped on its own line.
  for (const char* what : {"hello", "version", "replay", "key", "kind"}) {
    CHECK_MESSAGE(log.find("\\n2030-01-01T00:00:00.000+0000 info FORGED " + std::string(what)) !=
                      std::string::npos,
                  what);
  }
}
