// weighlink-backend end to end, operations: SIGKILL and restart, PostgreSQL restarts, two
// replicas, SIGTERM, reflection and health, load shedding and batch limits.
#include "backend_fixture.hpp"

TEST_CASE_FIXTURE(ServedStation,
                  "backend: SIGKILLed and restarted, the backend keeps exactly-once") {
  replay({weighing("st1", 1, "k1", "1"), weighing("st1", 2, "k2", "2")});

  backend.process().kill();
  backend.start();

  const auto after = replay({weighing("st1", 1, "k1", "1"), weighing("st1", 2, "k2", "2"),
                             weighing("st1", 3, "k3", "3")});
  REQUIRE(after.results_size() == 3);
  CHECK(after.results(0).outcome() == pb::DUPLICATE);
  CHECK(after.results(1).outcome() == pb::DUPLICATE);
  CHECK(after.results(2).outcome() == pb::APPLIED);
  CHECK(rows_of(pg, "st1") == "3");
}

TEST_CASE_FIXTURE(ServedStation,
                  "backend: recovers with no operator step after PostgreSQL restarts") {
  replay({weighing("st1", 1, "k1", "1")});

  pg.stop();
  pb::ReplayResponse response;
  const auto down =
      call_replay(backend.grpc(), token, batch("st1", {weighing("st1", 2, "k2", "2")}), &response);
  CHECK(down.status.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(http_get(backend.http(), "/readyz").status == 503);

  pg.start();
  pb::ReplayResponse recovered;
  const bool ok = weighlink::testing::eventually(
      [&] {
        recovered.Clear();
        return call_replay(backend.grpc(), token, batch("st1", {weighing("st1", 2, "k2", "2")}),
                           &recovered)
            .status.ok();
      },
      30s, 200ms);
  REQUIRE_MESSAGE(ok, backend.log());
  REQUIRE(recovered.results_size() == 1);
  CHECK(recovered.results(0).outcome() == pb::APPLIED);
  CHECK(rows_of(pg, "st1") == "2");
  CHECK(weighlink::testing::eventually(
      [&] { return http_get(backend.http(), "/readyz").status == 200; }, 10s));
}

TEST_CASE_FIXTURE(ServedStation,
                  "backend: two replicas replaying the same batch at once apply it exactly once") {
  Backend& a = backend;
  Backend b(pg.dsn());
  std::vector<pb::Mutation> mutations;
  for (std::uint64_t seq = 1; seq <= 20; ++seq) {
    mutations.push_back(weighing("st1", seq, "k" + std::to_string(seq), std::to_string(seq)));
  }
  const auto request = batch("st1", mutations);
  pb::ReplayResponse from_a;
  pb::ReplayResponse from_b;
  grpc::Status status_a;
  grpc::Status status_b;
  std::thread ta([&] { status_a = call_replay(a.grpc(), token, request, &from_a).status; });
  std::thread tb([&] { status_b = call_replay(b.grpc(), token, request, &from_b).status; });
  ta.join();
  tb.join();
  REQUIRE_MESSAGE(status_a.ok(), status_a.error_message());
  REQUIRE_MESSAGE(status_b.ok(), status_b.error_message());
  int applied = 0;
  int duplicate = 0;
  for (const auto* response : {&from_a, &from_b}) {
    for (const auto& r : response->results()) {
      if (r.outcome() == pb::APPLIED) ++applied;
      if (r.outcome() == pb::DUPLICATE) ++duplicate;
    }
  }
  CHECK(applied == 20);
  CHECK(duplicate == 20);
  CHECK(rows_of(pg, "st1") == "20");
}

TEST_CASE_FIXTURE(ServedStation,
                  "backend: SIGTERM stops it cleanly with exit 0 and removes the ready file") {
  // Exercise every path once so shutdown runs with used connections, sessions and workers.
  replay({weighing("st1", 1, "k1", "1")});
  CHECK(http_get(backend.http(), "/readyz").status == 200);
  const int status = backend.process().terminate();
  INFO(backend.log());
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_FALSE(std::filesystem::exists(backend.ready_file()));
}

TEST_CASE("backend: serves server reflection listing SyncService") {
  PgCluster pg;
  Backend backend(pg.dsn());
  const std::string services = reflection_list_services(backend.grpc());
  CHECK(services.find("weighlink.sync.v1.SyncService") != std::string::npos);
  CHECK(services.find("grpc.health.v1.Health") != std::string::npos);
}

TEST_CASE("backend: serves grpc.health.v1 for the server and for SyncService") {
  PgCluster pg;
  migrate(pg);
  Backend backend(pg.dsn());
  const std::string serving("\x08\x01", 2);
  CHECK(health_check(backend.grpc(), "") == serving);
  CHECK(health_check(backend.grpc(), "weighlink.sync.v1.SyncService") == serving);
}

TEST_CASE("backend: a full worker queue answers RESOURCE_EXHAUSTED instead of queueing") {
  ServedStation served({"--workers", "1", "--max-queue", "1"});
  const auto& pg = served.pg;
  const auto& token = served.token;
  const std::string grpc_address = served.backend.grpc();
  const std::string http_address = served.backend.http();

  // Hold the station row: the only worker blocks in the replay's SELECT ... FOR UPDATE.
  PgSession holder(pg.dsn());
  holder.exec("BEGIN");
  holder.exec("SELECT 1 FROM stations WHERE id = 'st1' FOR UPDATE");

  pb::ReplayResponse first_response;
  pb::ReplayResponse second_response;
  auto first = std::async(std::launch::async, [&] {
    return call_replay(grpc_address, token, batch("st1", {weighing("st1", 1, "k1", "1")}),
                       &first_response)
        .status;
  });
  REQUIRE(weighlink::testing::eventually(
      [&] {
        return pg.query_scalar(
                   "select count(*) from pg_stat_activity where wait_event_type = "
                   "'Lock' and application_name = 'weighlink-backend'") == "1";
      },
      10s));
  auto second = std::async(std::launch::async, [&] {
    return call_replay(grpc_address, token, batch("st1", {weighing("st1", 2, "k2", "2")}),
                       &second_response)
        .status;
  });
  REQUIRE(weighlink::testing::eventually(
      [&] {
        return http_get(http_address, "/metrics")
                   .body.find("weighlink_backend_pool_queue_depth 1\n") != std::string::npos;
      },
      10s));

  pb::ReplayResponse refused_response;
  const auto refused = call_replay(
      grpc_address, token, batch("st1", {weighing("st1", 3, "k3", "3")}), &refused_response);
  CHECK(refused.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK_FALSE(refused.correlation_id.empty());
  // The agent waits at least this long before it tries again.
  const auto retry_after = refused.trailers.find("x-weighlink-retry-after-ms");
  REQUIRE(retry_after != refused.trailers.end());
  CHECK(retry_after->second == "500");

  holder.exec("COMMIT");
  const auto first_status = first.get();
  const auto second_status = second.get();
  CHECK_MESSAGE(first_status.ok(), first_status.error_message());
  CHECK_MESSAGE(second_status.ok(), second_status.error_message());
  CHECK(rows_of(pg, "st1") == "2");
  CHECK(http_get(http_address, "/metrics").body.find("weighlink_backend_overloaded_total 1\n") !=
        std::string::npos);
}

TEST_CASE("backend: an oversize batch is RESOURCE_EXHAUSTED with its limit and applies nothing") {
  ServedStation served({"--max-batch", "3"});
  std::vector<pb::Mutation> four;
  for (std::uint64_t seq = 1; seq <= 4; ++seq) {
    four.push_back(weighing("st1", seq, "k" + std::to_string(seq), "100"));
  }
  pb::ReplayResponse response;
  const auto refused =
      call_replay(served.backend.grpc(), served.token, batch("st1", four), &response);
  CHECK(refused.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(refused.status.error_message().find("at most 3") != std::string::npos);
  CHECK(refused.trailers.at("x-weighlink-max-batch") == "3");
  CHECK(rows_of(served.pg, "st1") == "0");
  four.pop_back();
  CHECK(served.replay(four).watermark().high_water_seq() == 3);
  CHECK(http_get(served.backend.http(), "/metrics")
            .body.find("weighlink_backend_oversize_total 1\n") != std::string::npos);
}

TEST_CASE(
    "backend: SIGKILLed between commit and answer, cycle after cycle, applies nothing twice") {
  // The backend is told to wait between a Replay's commit and its answer; each cycle kills it
  // there with SIGKILL, so the client never hears that the batch was applied, and re-sends it to
  // the restarted backend: every mutation must come back DUPLICATE, and PostgreSQL hold it once.
  const char* env = std::getenv("WEIGHLINK_BACKEND_KILL_CYCLES");
  const int cycles = env ? std::atoi(env) : 20;
  PgCluster pg;
  migrate(pg);
  const std::string token = add_station(pg, "st1");
  TempDir dir("wl-backend-kill");
  const auto ready = dir / "ready.json";
  auto start = [&](bool pause) {
    std::filesystem::remove(ready);
    auto p = std::make_unique<Process>(
        std::vector<std::string>{
            "/usr/bin/env", pause ? "WEIGHLINK_TEST_PAUSE_AFTER_COMMIT_MS=3000" : "X=1", kBackend,
            "serve", "--dsn", pg.dsn(), "--grpc-listen", "127.0.0.1:0", "--http-listen",
            "127.0.0.1:0", "--ready-file", ready.string(), "--workers", "2"},
        dir / "backend.log");
    return p;
  };
  std::uint64_t seq = 0;
  for (int cycle = 0; cycle < cycles; ++cycle) {
    auto backend = start(true);
    const auto grpc_address = backend->wait_ready(ready).at("grpc");
    std::vector<pb::Mutation> mutations;
    for (int i = 0; i < 3; ++i) {
      ++seq;
      mutations.push_back(weighing("st1", seq, "kill-" + std::to_string(seq), "1000"));
    }
    const auto expected = std::to_string(seq);
    auto first = std::async(std::launch::async, [&] {
      pb::ReplayResponse response;
      return call_replay(grpc_address, token, batch("st1", mutations), &response).status;
    });
    // Committed, and the answer not sent yet: kill it now.
    REQUIRE_MESSAGE(
        weighlink::testing::eventually([&] { return rows_of(pg, "st1") == expected; }, 10s, 5ms),
        "cycle " << cycle << ": the batch was never committed");
    backend->kill();
    const auto lost = first.get();
    CHECK_MESSAGE(!lost.ok(), "cycle " << cycle << ": an answer got out before the kill");

    backend = start(false);
    const auto again_address = backend->wait_ready(ready).at("grpc");
    pb::ReplayResponse again;
    const auto resent = call_replay(again_address, token, batch("st1", mutations), &again);
    REQUIRE_MESSAGE(resent.status.ok(), resent.status.error_message());
    REQUIRE(again.results_size() == 3);
    for (const auto& r : again.results()) {
      CHECK_MESSAGE(r.outcome() == pb::DUPLICATE, "cycle " << cycle << " seq " << r.seq());
      CHECK(r.original_outcome() == pb::APPLIED);
    }
    CHECK(again.watermark().high_water_seq() == seq);
    backend->kill();
  }
  CHECK(rows_of(pg, "st1") == std::to_string(seq));
  CHECK(pg.query_scalar("select count(distinct idempotency_key) from mutation_log") ==
        std::to_string(seq));
  MESSAGE(cycles << " kills between commit and answer; " << seq << " mutations, each once");
}
