// weighlink-backend end to end: usage, migrations, stations, Hello, the replay answers
// (duplicates, rejections, gaps), authentication and the HTTP endpoints.
#include "backend_fixture.hpp"

TEST_CASE("backend: --version, --help and bad usage exit 0, 0 and 2") {
  const auto version = weighlink::testing::run({kBackend, "--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.output.find("weighlink-backend " WEIGHLINK_VERSION) != std::string::npos);
  const auto help = weighlink::testing::run({kBackend, "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.output.find("migrate") != std::string::npos);
  CHECK(weighlink::testing::run({kBackend}).exit_code == 2);
  CHECK(weighlink::testing::run({kBackend, "migrate"}).exit_code == 2);
  CHECK(weighlink::testing::run({kBackend, "frobnicate"}).exit_code == 2);
  const auto bad_dsn = weighlink::testing::run({kBackend, "migrate", "--dsn", "frobnicate=1"});
  CHECK(bad_dsn.exit_code == 2);
  CHECK(bad_dsn.output.find("invalid --dsn") != std::string::npos);
}

TEST_CASE("backend: migrate is idempotent and safe to run concurrently and no database exits 1") {
  PgCluster pg;
  migrate(pg);
  const std::string applied_at = pg.query_scalar("select applied_at::text from schema_migrations");
  const std::string generation =
      pg.query_scalar("select value from backend_meta where key='generation'");
  CHECK(generation.size() == 36);
  const auto again = weighlink::testing::run({kBackend, "migrate", "--dsn", pg.dsn()});
  CHECK(again.exit_code == 0);
  CHECK(again.output.find("up to date") != std::string::npos);
  CHECK(pg.query_scalar("select count(*) from schema_migrations") ==
        pg.query_scalar("select max(version) from schema_migrations"));
  CHECK(pg.query_scalar("select applied_at::text from schema_migrations") == applied_at);
  CHECK(pg.query_scalar("select value from backend_meta where key='generation'") == generation);

  // Two replicas migrating a fresh database at the same moment: both succeed, once each.
  PgCluster fresh;
  auto one = std::async(std::launch::async, [&] {
    return weighlink::testing::run({kBackend, "migrate", "--dsn", fresh.dsn()});
  });
  auto two = std::async(std::launch::async, [&] {
    return weighlink::testing::run({kBackend, "migrate", "--dsn", fresh.dsn()});
  });
  const auto first = one.get();
  const auto second = two.get();
  CHECK_MESSAGE(first.exit_code == 0, first.output);
  CHECK_MESSAGE(second.exit_code == 0, second.output);
  CHECK(fresh.query_scalar("select count(*) from schema_migrations") ==
        fresh.query_scalar("select max(version) from schema_migrations"));
  CHECK(fresh.query_scalar("select count(*) from backend_meta where key = 'generation'") == "1");

  const auto unreachable = weighlink::testing::run(
      {kBackend, "migrate", "--dsn", "host=127.0.0.1 port=1 user=postgres dbname=x"});
  CHECK(unreachable.exit_code == 1);
  CHECK(unreachable.output.find("cannot reach PostgreSQL") != std::string::npos);
}

TEST_CASE("backend: a weighing's foreign key check is an exact lookup even when planned empty") {
  // PostgreSQL checks weighings -> mutation_log with this query, planned once per connection and
  // kept. Planned on a fresh schema (mutation_log looks empty), it must still look the key up in
  // the primary key, not scan the station's rows with a filter on the key (migration 3).
  PgCluster pg;
  migrate(pg);
  const auto plan = pg.query_scalar(
      "SET plan_cache_mode = force_generic_plan; "
      "PREPARE fk_check(text, text) AS SELECT 1 FROM ONLY public.mutation_log x WHERE "
      "station_id OPERATOR(pg_catalog.=) $1 AND idempotency_key OPERATOR(pg_catalog.=) $2 "
      "FOR KEY SHARE OF x; "
      "EXPLAIN (COSTS OFF, FORMAT JSON) EXECUTE fk_check('st1', 'k1')");
  INFO(plan);
  CHECK(plan.find("\"Index Name\": \"mutation_log_pkey\"") != std::string::npos);
  CHECK(plan.find("\"Filter\"") == std::string::npos);
}

TEST_CASE("backend: station add prints the token once, last, and stores only its hash") {
  PgCluster pg;
  migrate(pg);
  const std::string token = add_station(pg, "st1");
  CHECK(token.rfind("wlst_", 0) == 0);
  CHECK(token.size() > 40);
  const std::string stored = pg.query_scalar("select token_sha256 from stations where id='st1'");
  CHECK(stored.size() == 64);
  CHECK(stored.find(token) == std::string::npos);
  CHECK(pg.query_scalar("select count(*) from stations where token_sha256 like '%" +
                        token.substr(5, 10) + "%'") == "0");

  const auto twice =
      weighlink::testing::run({kBackend, "station", "add", "--dsn", pg.dsn(), "--id", "st1"});
  CHECK(twice.exit_code == 1);
  CHECK(twice.output.find("already exists") != std::string::npos);
  CHECK(add_station(pg, "st2") != token);
}

TEST_CASE_FIXTURE(ServedStation,
                  "backend: Hello answers the station's watermark, generation and version") {
  const auto unix_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  pb::HelloResponse hello;
  const auto before_ms = unix_ms();
  const auto call = call_hello(backend.grpc(), token, "st1", &hello);
  const auto after_ms = unix_ms();
  REQUIRE_MESSAGE(call.status.ok(), call.status.error_message());
  CHECK(hello.watermark().high_water_seq() == 0);
  CHECK(hello.watermark().generation() ==
        pg.query_scalar("select value from backend_meta where key='generation'"));
  CHECK(hello.backend_version() == WEIGHLINK_VERSION);
  // The server's clock read while it answered (same host, so between the two readings here).
  CHECK(hello.server_time_unix_ms() >= before_ms);
  CHECK(hello.server_time_unix_ms() <= after_ms);
}

TEST_CASE_FIXTURE(ServedStation, "backend: a re-sent mutation is a DUPLICATE and creates no row") {
  const std::vector<pb::Mutation> mutations{weighing("st1", 1, "k1", "32540"),
                                            weighing("st1", 2, "k2", "12440.5"),
                                            weighing("st1", 3, "k3", "-0.005")};
  const auto first = replay(mutations);
  REQUIRE(first.results_size() == 3);
  for (const auto& r : first.results()) CHECK(r.outcome() == pb::APPLIED);
  CHECK(first.watermark().high_water_seq() == 3);
  CHECK(first.expected_seq() == 0);
  CHECK(rows_of(pg, "st1") == "3");
  CHECK(pg.query_scalar("select count(*) from weighings where station_id='st1'") == "3");
  // Weights are exact numerics, parsed from the decimal strings.
  CHECK(pg.query_scalar("select weight::text from weighings where idempotency_key='k2'") ==
        "12440.5");
  CHECK(pg.query_scalar("select weight::text from weighings where idempotency_key='k3'") ==
        "-0.005");
  CHECK(pg.query_scalar("select high_water_seq from stations where id='st1'") == "3");

  const auto again = replay(mutations);
  REQUIRE(again.results_size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(again.results(i).outcome() == pb::DUPLICATE);
    CHECK(again.results(i).original_outcome() == pb::APPLIED);
    CHECK(again.results(i).applied_at_unix_ms() == first.results(i).applied_at_unix_ms());
  }
  CHECK(rows_of(pg, "st1") == "3");
  CHECK(pg.query_scalar("select count(*) from weighings") == "3");
}

TEST_CASE_FIXTURE(
    ServedStation,
    "backend: the same key with a different payload is REJECTED idempotency_key_reused") {
  replay({weighing("st1", 1, "k1", "100")});
  const auto reused = replay({weighing("st1", 1, "k1", "999")});
  REQUIRE(reused.results_size() == 1);
  CHECK(reused.results(0).outcome() == pb::REJECTED);
  CHECK(reused.results(0).reason() == "idempotency_key_reused");
  CHECK(pg.query_scalar("select weight::text from weighings where idempotency_key='k1'") == "100");
  CHECK(rows_of(pg, "st1") == "1");
}

TEST_CASE_FIXTURE(
    ServedStation,
    "backend: an invalid weighing is REJECTED, recorded, and does not block later seqs") {
  const auto response = replay({weighing("st1", 1, "k1", "12,5"), weighing("st1", 2, "k2", "100")});
  REQUIRE(response.results_size() == 2);
  CHECK(response.results(0).outcome() == pb::REJECTED);
  CHECK(response.results(0).reason().rfind("invalid_weight: ", 0) == 0);
  CHECK(response.results(1).outcome() == pb::APPLIED);
  CHECK(response.watermark().high_water_seq() == 2);
  CHECK(pg.query_scalar("select outcome from mutation_log where idempotency_key='k1'") ==
        "rejected");
  CHECK(pg.query_scalar("select count(*) from weighings") == "1");

  // A mutation without an idempotency key is rejected alone, recorded under a substitute key.
  const auto no_key = replay({weighing("st1", 3, "", "1")});
  CHECK(no_key.results(0).reason().rfind("invalid_key: ", 0) == 0);
  CHECK(no_key.watermark().high_water_seq() == 3);
  CHECK(rows_of(pg, "st1") == "3");
  // seq 0 has no place in the order: that batch is refused as a whole.
  pb::ReplayResponse malformed;
  const auto refused =
      call_replay(backend.grpc(), token, batch("st1", {weighing("st1", 0, "k0", "1")}), &malformed);
  CHECK(refused.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(rows_of(pg, "st1") == "3");
}

TEST_CASE_FIXTURE(
    ServedStation,
    "backend: a batch starting past a gap answers the expected seq and applies nothing") {
  replay({weighing("st1", 1, "k1", "1")});
  const auto gap = replay({weighing("st1", 4, "k4", "4"), weighing("st1", 5, "k5", "5")});
  CHECK(gap.results_size() == 0);
  CHECK(gap.expected_seq() == 2);
  CHECK(gap.watermark().high_water_seq() == 1);
  CHECK(rows_of(pg, "st1") == "1");
}

TEST_CASE_FIXTURE(
    ServedStation,
    "backend: a wrong token is UNAUTHENTICATED, another station's id PERMISSION_DENIED") {
  const std::string other = add_station(pg, "st2");
  pb::ReplayResponse response;

  auto call = call_replay(backend.grpc(), "wlst_not-a-real-token",
                          batch("st1", {weighing("st1", 1, "k1", "1")}), &response);
  CHECK(call.status.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(call.correlation_id.size() >= 8);
  CHECK(call.status.error_message().find(call.correlation_id) != std::string::npos);
  // A caller's own correlation id is carried through to the answer and the log.
  call = call_replay(backend.grpc(), "wlst_not-a-real-token",
                     batch("st1", {weighing("st1", 1, "k1", "1")}), &response, "trace-42");
  CHECK(call.correlation_id == "trace-42");
  CHECK(backend.log().find("correlation_id=trace-42") != std::string::npos);

  call =
      call_replay(backend.grpc(), other, batch("st1", {weighing("st1", 1, "k1", "1")}), &response);
  CHECK(call.status.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  // The request names the token's station but a mutation names another.
  call =
      call_replay(backend.grpc(), other, batch("st2", {weighing("st1", 1, "k1", "1")}), &response);
  CHECK(call.status.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  pb::HelloResponse hello;
  CHECK(call_hello(backend.grpc(), other, "st1", &hello).status.error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
  CHECK(rows_of(pg, "st1") == "0");

  // A disabled station's token is refused from then on.
  const auto disabled =
      weighlink::testing::run({kBackend, "station", "disable", "--dsn", pg.dsn(), "--id", "st1"});
  REQUIRE(disabled.exit_code == 0);
  CHECK(call_hello(backend.grpc(), token, "st1", &hello).status.error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);
  // The token never reaches the log.
  CHECK(backend.log().find(token) == std::string::npos);
  CHECK(backend.log().find(other) == std::string::npos);
}

TEST_CASE_FIXTURE(
    ServedStation,
    "backend: station rotate-token refuses the old token at once and enables a disabled one") {
  const std::string old_token = token;
  pb::HelloResponse hello;
  REQUIRE(call_hello(backend.grpc(), old_token, "st1", &hello).status.ok());
  REQUIRE(
      weighlink::testing::run({kBackend, "station", "disable", "--dsn", pg.dsn(), "--id", "st1"})
          .exit_code == 0);
  REQUIRE(call_hello(backend.grpc(), old_token, "st1", &hello).status.error_code() ==
          grpc::StatusCode::UNAUTHENTICATED);

  const auto rotated = weighlink::testing::run(
      {kBackend, "station", "rotate-token", "--dsn", pg.dsn(), "--id", "st1"});
  INFO(rotated.output);
  REQUIRE(rotated.exit_code == 0);
  const std::string new_token = last_line(rotated.output);
  CHECK(new_token.rfind("wlst_", 0) == 0);
  CHECK(new_token != old_token);
  CHECK(pg.query_scalar("select disabled from stations where id='st1'") == "f");
  CHECK(call_hello(backend.grpc(), new_token, "st1", &hello).status.ok());
  CHECK(call_hello(backend.grpc(), old_token, "st1", &hello).status.error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);

  const auto unknown = weighlink::testing::run(
      {kBackend, "station", "rotate-token", "--dsn", pg.dsn(), "--id", "st9"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.output.find("no such station; check --id") != std::string::npos);
}

TEST_CASE("backend: healthz, readyz and metrics over HTTP") {
  PgCluster pg;
  Backend backend(pg.dsn());  // before migrate: alive but not ready

  auto health = http_get(backend.http(), "/healthz");
  CHECK(health.status == 200);
  CHECK(boost::json::parse(health.body).at("status") == "ok");

  auto ready = http_get(backend.http(), "/readyz");
  CHECK(ready.status == 503);
  CHECK(ready.body.find("migrate") != std::string::npos);

  migrate(pg);
  CHECK(weighlink::testing::eventually(
      [&] { return http_get(backend.http(), "/readyz").status == 200; }, 10s));

  const std::string token = add_station(pg, "st1");
  replay_ok(backend.grpc(), token,
            batch("st1", {weighing("st1", 1, "k1", "1"), weighing("st1", 2, "k2", "2")}));
  replay_ok(backend.grpc(), token, batch("st1", {weighing("st1", 1, "k1", "1")}));

  const auto metrics = http_get(backend.http(), "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("weighlink_backend_mutations_total{outcome=\"applied\"} 2\n") !=
        std::string::npos);
  CHECK(metrics.body.find("weighlink_backend_mutations_total{outcome=\"duplicate\"} 1\n") !=
        std::string::npos);
  CHECK(metrics.body.find("weighlink_backend_replay_batches_total 2\n") != std::string::npos);
  CHECK(metrics.body.find("weighlink_backend_pool_queue_depth ") != std::string::npos);
  CHECK(metrics.body.find("weighlink_backend_replay_batch_seconds_count 2\n") != std::string::npos);
  CHECK(metrics.body.find("weighlink_backend_replay_batch_seconds_bucket{le=\"+Inf\"} 2\n") !=
        std::string::npos);
  // The station's lag: it says it assigned seq 9, the backend has up to 2.
  const auto unix_s = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const auto before_s = unix_s();
  pb::HelloResponse hello;
  REQUIRE(call_hello(backend.grpc(), token, "st1", &hello, 9).status.ok());
  const auto lag = http_get(backend.http(), "/metrics").body;
  CHECK(lag.find("weighlink_backend_station_lag{station=\"st1\"} 7\n") != std::string::npos);
  CHECK(lag.find("weighlink_backend_station_high_water_seq{station=\"st1\"} 2\n") !=
        std::string::npos);
  // When this replica last answered the station: Unix seconds, now.
  const std::string last_seen = "weighlink_backend_station_last_seen_seconds{station=\"st1\"} ";
  const auto at = lag.find(last_seen);
  REQUIRE(at != std::string::npos);
  const auto seen_s = std::stoll(lag.substr(at + last_seen.size()));
  CHECK(seen_s >= before_s);  // the Hello just answered, read on the same host's clock
  CHECK(seen_s <= unix_s());

  // Reads are bounded: a declared body over the limit is refused before it is read. (No body
  // bytes are sent: unread data at close would make the server's kernel reset the connection.)
  const auto too_large = http_raw(
      backend.http(), "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
  CHECK(too_large.status == 413);

  const auto missing = http_get(backend.http(), "/nope");
  CHECK(missing.status == 404);
  CHECK(boost::json::parse(missing.body).at("error") == "not_found");
}
