// weighlink-backend end to end: the real binary, a throwaway PostgreSQL cluster, a real gRPC
// client over loopback and plain HTTP GETs.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "sync_calls.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/pg/migrations.hpp"
#include "weighlink/record/evidence.hpp"
#include "weighlink/sync/v1/sync.grpc.pb.h"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"

namespace pb = weighlink::sync::v1;
using namespace std::chrono_literals;
using weighlink::testing::last_line;
using weighlink::testing::PgCluster;
using weighlink::testing::Process;
using weighlink::testing::TempDir;

namespace {

const std::string kBackend = weighlink::testing::bin("weighlink-backend");

void migrate(const PgCluster& pg) {
  const auto result = weighlink::testing::run({kBackend, "migrate", "--dsn", pg.dsn()});
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
}

// A station whose weighings are recorded without a key (--allow-unsigned-weighings), as every
// station's were before the setting; `allow_unsigned` false: a new station as the default makes it.
std::string add_station(const PgCluster& pg, const std::string& id, bool allow_unsigned = true) {
  std::vector<std::string> argv{kBackend, "station", "add", "--dsn", pg.dsn(), "--id", id};
  if (allow_unsigned) argv.push_back("--allow-unsigned-weighings");
  const auto result = weighlink::testing::run(argv);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  return last_line(result.output);
}

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// Sends `request` as is over a plain socket and reads until the server closes, bounded by
// socket timeouts.
HttpAnswer http_raw(const std::string& address, const std::string& request) {
  const auto [host, port] = weighlink::testing::split_host_port(address);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return {};
  }
  (void)!::write(fd, request.data(), request.size());
  std::string response;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) response.append(buffer, n);
  ::close(fd);
  HttpAnswer answer;
  if (response.rfind("HTTP/1.1 ", 0) == 0) answer.status = std::stoi(response.substr(9, 3));
  if (auto split = response.find("\r\n\r\n"); split != std::string::npos) {
    answer.body = response.substr(split + 4);
  }
  return answer;
}

// A minimal HTTP/1.1 GET (Connection: close).
HttpAnswer http_get(const std::string& address, const std::string& path) {
  return http_raw(
      address, "GET " + path + " HTTP/1.1\r\nHost: " + address + "\r\nConnection: close\r\n\r\n");
}

// A running `weighlink-backend serve` on port 0 listeners.
class Backend {
 public:
  explicit Backend(const std::string& dsn, std::vector<std::string> extra = {})
      : dsn_(dsn), extra_(std::move(extra)) {
    start();
  }

  void start() {
    std::filesystem::remove(ready_file());  // a killed backend leaves its ready file behind
    std::vector<std::string> argv{kBackend,        "serve",
                                  "--dsn",         dsn_,
                                  "--grpc-listen", "127.0.0.1:0",
                                  "--http-listen", "127.0.0.1:0",
                                  "--ready-file",  ready_file().string(),
                                  "--workers",     "2"};
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    process_ = std::make_unique<Process>(argv, dir_ / "backend.log");
    auto ready = process_->wait_ready(ready_file());
    grpc_ = ready.at("grpc");
    http_ = ready.at("http");
  }

  Process& process() { return *process_; }
  [[nodiscard]] const std::string& grpc() const { return grpc_; }
  [[nodiscard]] const std::string& http() const { return http_; }
  [[nodiscard]] std::filesystem::path ready_file() const { return dir_ / "ready.json"; }
  [[nodiscard]] std::string log() const { return process_->log(); }

 private:
  std::string dsn_;
  std::vector<std::string> extra_;
  TempDir dir_{"wl-backend-test"};
  std::unique_ptr<Process> process_;
  std::string grpc_;
  std::string http_;
};

using Call = weighlink::testing::SyncCall;
using weighlink::testing::call_hello;
using weighlink::testing::call_replay;

// A weighing of `weight` kg as the agent would send it: the payload JSON, with the reading behind
// it (seq and raw frame), and the typed copy (which the backend ignores).
pb::Mutation weighing(const std::string& station, std::uint64_t seq, const std::string& key,
                      const std::string& weight) {
  const std::string raw(
      "\x02"
      "01 0 003254000000\r");
  pb::Mutation m;
  m.set_station_id(station);
  m.set_idempotency_key(key);
  m.set_seq(seq);
  m.set_kind("weighing.captured");
  boost::json::object payload{{"scale", "main"}, {"weight", weight}, {"unit", "kg"},
                              {"mode", "gross"}, {"tare", "0"},      {"reading_seq", 1000 + seq},
                              {"raw", raw},      {"type", "static"}};
  m.set_payload_json(boost::json::serialize(payload));
  m.set_created_at_unix_ms(1'800'000'000'000 + static_cast<std::int64_t>(seq));
  auto* w = m.mutable_weighing_captured();
  w->set_scale("main");
  w->set_weight(weight);
  w->set_unit("kg");
  w->set_mode("gross");
  w->set_tare("0");
  w->set_reading_seq(1000 + seq);
  w->set_raw(raw);
  return m;
}

pb::ReplayRequest batch(const std::string& station, std::vector<pb::Mutation> mutations) {
  pb::ReplayRequest request;
  request.set_station_id(station);
  for (auto& m : mutations) *request.add_mutations() = std::move(m);
  return request;
}

std::string rows_of(const PgCluster& pg, const std::string& station) {
  return pg.query_scalar("select count(*) from mutation_log where station_id='" + station + "'");
}

// grpc.health.v1.Health/Check through the generic stub (no generated health stubs here):
// HealthCheckRequest{service} is field 1 (string); HealthCheckResponse{status} is field 1
// (enum, SERVING = 1). Returns the raw response bytes.
std::string health_check(const std::string& address, const std::string& service) {
  grpc::GenericStub stub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  std::string request_bytes = "\x0a";
  request_bytes.push_back(static_cast<char>(service.size()));
  request_bytes += service;
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status status) { done.set_value(std::move(status)); });
  const grpc::Status status = done.get_future().get();
  REQUIRE_MESSAGE(status.ok(), status.error_message());
  std::vector<grpc::Slice> slices;
  REQUIRE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return bytes;
}

// grpc.reflection.v1alpha ServerReflectionInfo (a bidi stream) through the generic async stub:
// sends ServerReflectionRequest{list_services: ""} (field 7) and returns the raw response.
std::string reflection_list_services(const std::string& address) {
  grpc::GenericStub stub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
  // Each step is one tag; wait for it with a bounded AsyncNext.
  auto step = [&](auto&& start, std::intptr_t tag) {
    start(reinterpret_cast<void*>(tag));
    void* got = nullptr;
    bool ok = false;
    const auto status = queue.AsyncNext(&got, &ok, std::chrono::system_clock::now() + 10s);
    REQUIRE(status == grpc::CompletionQueue::GOT_EVENT);
    REQUIRE(got == reinterpret_cast<void*>(tag));
    return ok;
  };
  REQUIRE(step([&](void* t) { call->StartCall(t); }, 1));
  std::string request_bytes("\x3a\x00", 2);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  REQUIRE(step([&](void* t) { call->Write(request, t); }, 2));
  REQUIRE(step([&](void* t) { call->WritesDone(t); }, 3));
  grpc::ByteBuffer response;
  REQUIRE(step([&](void* t) { call->Read(&response, t); }, 4));
  grpc::Status status;
  step([&](void* t) { call->Finish(&status, t); }, 5);
  REQUIRE_MESSAGE(status.ok(), status.error_message());
  queue.Shutdown();
  void* ignored = nullptr;
  bool ignored_ok = false;
  while (queue.Next(&ignored, &ignored_ok)) {
  }
  std::vector<grpc::Slice> slices;
  REQUIRE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return bytes;
}

// A test-side connection that can hold a row lock to make a backend worker wait.
struct PgSession {
  explicit PgSession(const std::string& dsn) : conn(PQconnectdb(dsn.c_str())) {
    REQUIRE(PQstatus(conn) == CONNECTION_OK);
  }
  ~PgSession() { PQfinish(conn); }
  void exec(const std::string& sql) {
    PGresult* result = PQexec(conn, sql.c_str());
    const auto status = PQresultStatus(result);
    PQclear(result);
    REQUIRE((status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK));
  }
  PGconn* conn;
};

}  // namespace

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

TEST_CASE("backend: Hello answers the station's watermark, generation and version") {
  PgCluster pg;
  migrate(pg);
  const std::string token = add_station(pg, "st1");
  Backend backend(pg.dsn());
  pb::HelloResponse hello;
  const auto call = call_hello(backend.grpc(), token, "st1", &hello);
  REQUIRE_MESSAGE(call.status.ok(), call.status.error_message());
  CHECK(hello.watermark().high_water_seq() == 0);
  CHECK(hello.watermark().generation() ==
        pg.query_scalar("select value from backend_meta where key='generation'"));
  CHECK(hello.backend_version() == WEIGHLINK_VERSION);
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  CHECK(std::abs(hello.server_time_unix_ms() - now_ms) < 60'000);
}

TEST_CASE("backend: a re-sent mutation is a DUPLICATE and creates no row") {
  PgCluster pg;
  migrate(pg);
  const std::string token = add_station(pg, "st1");
  Backend backend(pg.dsn());

  const auto request =
      batch("st1", {weighing("st1", 1, "k1", "32540"), weighing("st1", 2, "k2", "12440.5"),
                    weighing("st1", 3, "k3", "-0.005")});
  pb::ReplayResponse first;
  auto call = call_replay(backend.grpc(), token, request, &first);
  REQUIRE_MESSAGE(call.status.ok(), call.status.error_message());
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

  pb::ReplayResponse again;
  call = call_replay(backend.grpc(), token, request, &again);
  REQUIRE_MESSAGE(call.status.ok(), call.status.error_message());
  REQUIRE(again.results_size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(again.results(i).outcome() == pb::DUPLICATE);
    CHECK(again.results(i).original_outcome() == pb::APPLIED);
    CHECK(again.results(i).applied_at_unix_ms() == first.results(i).applied_at_unix_ms());
  }
  CHECK(rows_of(pg, "st1") == "3");
  CHECK(pg.query_scalar("select count(*) from weighings") == "3");
}

TEST_CASE("backend: the same key with a different payload is REJECTED idempotency_key_reused") {
  PgCluster pg;
  migrate(pg);
  const std::string token = add_station(pg, "st1");
  Backend backend(pg.dsn());
  pb::ReplayResponse response;
  REQUIRE(
      call_replay(backend.grpc(), token, batch("st1", {weighing("st1", 1, "k1", "100")}), &response)
          .status.ok());
  pb::ReplayResponse reused;
  const auto call =
      call_replay(backend.grpc(), token, batch("st1", {weighing("st1", 1, "k1", "999")}), &reused);
  REQUIRE(call.status.ok());
  REQUIRE(reused.results_size() == 1);
  CHECK(reused.results(0).outcome() == pb::REJECTED);
  CHECK(reused.results(0).reason() == "idempotency_key_reused");
  CHECK(pg.query_scalar("select weight::text from weighings where idempotency_key='k1'") == "100");
  CHECK(rows_of(pg, "st1") == "1");
}

TEST_CASE("backend: an invalid weighing is REJECTED, recorded, and does not block later seqs") {
  PgCluster pg;
  migrate(pg);
  const std::string token = add_station(pg, "st1");
  Backend backend(pg.dsn());
  pb::ReplayResponse response;
  const auto call = call_replay(
      backend.grpc(), token,
      batch("st1", {weighing("st1", 1, "k1", "12,5"), weighing("st1", 2, "k2", "100")}), &response);
  REQUIRE(call.status.ok());
  REQUIRE(response.results_size() == 2);
  CHECK(response.results(0).outcome() == pb::REJECTED);
  CHECK(response.results(0).reason().rfind("invalid_weight: ", 0) == 0);
  CHECK(response.results(1).outcome() == pb::APPLIED);
  CHECK(response.watermark().high_water_seq() == 2);
  CHECK(pg.query_scalar("select outcome from mutation_log where idempotency_key='k1'") ==
        "rejected");
  CHECK(pg.query_scalar("select count(*) from weighings") == "1");

  // A mutation without an idempotency key is rejected alone, recorded under a substitute key.
  pb::ReplayResponse no_key;
  const auto answered =
      call_replay(backend.grpc(), token, batch("st1", {weighing("st1", 3, "", "1")}), &no_key);
  REQUIRE(answered.status.ok());
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

TEST_CASE("backend: a batch starting past a gap answers the expected seq and applies nothing") {
  PgCluster pg;
  migrate(pg);
  const std::string token = add_station(pg, "st1");
  Backend backend(pg.dsn());
  pb::ReplayResponse response;
  REQUIRE(
      call_replay(backend.grpc(), token, batch("st1", {weighing("st1", 1, "k1", "1")}), &response)
          .status.ok());
  pb::ReplayResponse gap;
  const auto call = call_replay(
      backend.grpc(), token,
      batch("st1", {weighing("st1", 4, "k4", "4"), weighing("st1", 5, "k5", "5")}), &gap);
  REQUIRE(call.status.ok());
  CHECK(gap.results_size() == 0);
  CHECK(gap.expected_seq() == 2);
  CHECK(gap.watermark().high_water_seq() == 1);
  CHECK(rows_of(pg, "st1") == "1");
}

TEST_CASE("backend: a wrong token is UNAUTHENTICATED, another station's id PERMISSION_DENIED") {
  PgCluster pg;
  migrate(pg);
  const std::string token = add_station(pg, "st1");
  const std::string other = add_station(pg, "st2");
  Backend backend(pg.dsn());
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

TEST_CASE(
    "backend: station rotate-token refuses the old token at once and enables a disabled one") {
  PgCluster pg;
  migrate(pg);
  const std::string old_token = add_station(pg, "st1");
  Backend backend(pg.dsn());
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
  pb::ReplayResponse response;
  REQUIRE(call_replay(backend.grpc(), token,
                      batch("st1", {weighing("st1", 1, "k1", "1"), weighing("st1", 2, "k2", "2")}),
                      &response)
              .status.ok());
  REQUIRE(
      call_replay(backend.grpc(), token, batch("st1", {weighing("st1", 1, "k1", "1")}), &response)
          .status.ok());

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
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  CHECK(seen_s <= now_s);
  CHECK(seen_s >= now_s - 30);

  // Reads are bounded: a declared body over the limit is refused before it is read. (No body
  // bytes are sent: unread data at close would make the server's kernel reset the connection.)
  const auto too_large = http_raw(
      backend.http(), "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
  CHECK(too_large.status == 413);

  const auto missing = http_get(backend.http(), "/nope");
  CHECK(missing.status == 404);
  CHECK(boost::json::parse(missing.body).at("error") == "not_found");
}

TEST_CASE("backend: SIGKILLed and restarted, the backend keeps exactly-once") {
  PgCluster pg;
  migrate(pg);
  const std::string token = add_station(pg, "st1");
  Backend backend(pg.dsn());
  pb::ReplayResponse response;
  REQUIRE(call_replay(backend.grpc(), token,
                      batch("st1", {weighing("st1", 1, "k1", "1"), weighing("st1", 2, "k2", "2")}),
                      &response)
              .status.ok());

  backend.process().kill();
  backend.start();

  pb::ReplayResponse after;
  const auto call =
      call_replay(backend.grpc(), token,
                  batch("st1", {weighing("st1", 1, "k1", "1"), weighing("st1", 2, "k2", "2"),
                                weighing("st1", 3, "k3", "3")}),
                  &after);
  REQUIRE_MESSAGE(call.status.ok(), call.status.error_message());
  REQUIRE(after.results_size() == 3);
  CHECK(after.results(0).outcome() == pb::DUPLICATE);
  CHECK(after.results(1).outcome() == pb::DUPLICATE);
  CHECK(after.results(2).outcome() == pb::APPLIED);
  CHECK(rows_of(pg, "st1") == "3");
}

TEST_CASE("backend: recovers with no operator step after PostgreSQL restarts") {
  PgCluster pg;
  migrate(pg);
  const std::string token = add_station(pg, "st1");
  Backend backend(pg.dsn());
  pb::ReplayResponse response;
  REQUIRE(
      call_replay(backend.grpc(), token, batch("st1", {weighing("st1", 1, "k1", "1")}), &response)
          .status.ok());

  pg.stop();
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

TEST_CASE("backend: two replicas replaying the same batch at once apply it exactly once") {
  PgCluster pg;
  migrate(pg);
  const std::string token = add_station(pg, "st1");
  Backend a(pg.dsn());
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

TEST_CASE("backend: SIGTERM stops it cleanly with exit 0 and removes the ready file") {
  PgCluster pg;
  migrate(pg);
  const std::string token = add_station(pg, "st1");
  Backend backend(pg.dsn());
  // Exercise every path once so shutdown runs with used connections, sessions and workers.
  pb::ReplayResponse response;
  REQUIRE(
      call_replay(backend.grpc(), token, batch("st1", {weighing("st1", 1, "k1", "1")}), &response)
          .status.ok());
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
  PgCluster pg;
  migrate(pg);
  const std::string token = add_station(pg, "st1");
  TempDir dir("wl-backend-test");
  Process backend({kBackend, "serve", "--dsn", pg.dsn(), "--grpc-listen", "127.0.0.1:0",
                   "--http-listen", "127.0.0.1:0", "--ready-file", (dir / "ready.json").string(),
                   "--workers", "1", "--max-queue", "1"},
                  dir / "backend.log");
  const auto ready = backend.wait_ready(dir / "ready.json");
  const std::string grpc_address = ready.at("grpc");
  const std::string http_address = ready.at("http");

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
  PgCluster pg;
  migrate(pg);
  const std::string token = add_station(pg, "st1");
  Backend backend(pg.dsn(), {"--max-batch", "3"});
  std::vector<pb::Mutation> four;
  for (std::uint64_t seq = 1; seq <= 4; ++seq) {
    four.push_back(weighing("st1", seq, "k" + std::to_string(seq), "100"));
  }
  pb::ReplayResponse response;
  const auto refused = call_replay(backend.grpc(), token, batch("st1", four), &response);
  CHECK(refused.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(refused.status.error_message().find("at most 3") != std::string::npos);
  CHECK(refused.trailers.at("x-weighlink-max-batch") == "3");
  CHECK(rows_of(pg, "st1") == "0");
  four.pop_back();
  REQUIRE(call_replay(backend.grpc(), token, batch("st1", four), &response).status.ok());
  CHECK(response.watermark().high_water_seq() == 3);
  CHECK(http_get(backend.http(), "/metrics").body.find("weighlink_backend_oversize_total 1\n") !=
        std::string::npos);
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

// --- Signatures: the station's key registered with `station set-key` / `station add --key-file`

namespace {

// A station key file as the agent writes it (hex, newline), from `bytes`.
std::filesystem::path write_key(const TempDir& dir, const std::string& name,
                                const std::vector<unsigned char>& bytes) {
  const auto path = dir / name;
  std::ofstream(path, std::ios::trunc) << weighlink::sync::to_hex(bytes) << "\n";
  return path;
}

// Signs `m` as the agent's outbox does, chained to `prev`; returns its record_hash.
std::string sign(pb::Mutation& m, const std::string& prev, const std::vector<unsigned char>& key) {
  m.set_prev_hash(prev);
  m.set_record_hash(
      weighlink::sync::chain_hash(prev, {m.station_id(), m.seq(), m.idempotency_key(), m.kind(),
                                         m.created_at_unix_ms(), m.payload_json()}));
  m.set_signature(weighlink::sync::sign_record(key, m.record_hash()));
  return m.record_hash();
}

// An axle weighing as the agent sends it: the JSON it signs and the typed copy.
pb::Mutation axle_weighing(const std::string& station, std::uint64_t seq, const std::string& key,
                           const std::string& first, const std::string& second,
                           const std::string& gvw) {
  pb::Mutation m;
  m.set_station_id(station);
  m.set_idempotency_key(key);
  m.set_seq(seq);
  m.set_kind("weighing.captured");
  m.set_created_at_unix_ms(1'800'000'000'000 + static_cast<std::int64_t>(seq));
  m.set_payload_json(
      R"({"type":"axle","scale":"main","weight":")" + gvw + R"(","gvw":")" + gvw +
      R"(","unit":"kg","mode":"gross","axles":[{"number":1,"weight":")" + first +
      R"(","reading":")" + first +
      R"(","reading_seq":11,"raw":"\u0002A1\r","captured_at":"2027-01-15T08:00:01.000Z"},)" +
      R"({"number":2,"weight":")" + second + R"(","reading":")" + second +
      R"(","reading_seq":12,"raw":"\u0002A2\u00b0\r",)" +
      R"("captured_at":"2027-01-15T08:00:05.000Z"}]})");
  auto* w = m.mutable_weighing_captured();
  w->set_scale("main");
  w->set_weight(gvw);
  w->set_unit("kg");
  w->set_mode("gross");
  return m;
}

std::string metric_line(const std::string& http, const std::string& prefix) {
  const auto body = http_get(http, "/metrics").body;
  const auto at = body.find("\n" + prefix);
  if (at == std::string::npos) return {};
  return body.substr(at + 1, body.find('\n', at + 1) - at - 1);
}

const std::vector<unsigned char> kStationKey(32, 0x5a);
const std::string kGenesis(weighlink::sync::kGenesisHash);

}  // namespace

TEST_CASE("backend: station set-key and add --key-file register the agent's key") {
  PgCluster pg;
  migrate(pg);
  TempDir dir("wl-backend-test");
  const auto key_file = write_key(dir, "station.key", kStationKey);
  auto added = weighlink::testing::run({kBackend, "station", "add", "--dsn", pg.dsn(), "--id",
                                        "st1", "--key-file", key_file.string()});
  INFO(added.output);
  REQUIRE(added.exit_code == 0);
  CHECK(last_line(added.output).rfind("wlst_", 0) == 0);  // the token is still the last line
  CHECK(pg.query_scalar("select encode(signing_key, 'hex') from stations where id='st1'") ==
        weighlink::sync::to_hex(kStationKey));

  add_station(pg, "st2");
  CHECK(pg.query_scalar("select signing_key is null from stations where id='st2'") == "t");
  const std::vector<unsigned char> longer(48, 0x21);  // 64+ hex digits: longer keys are fine
  auto set =
      weighlink::testing::run({kBackend, "station", "set-key", "--dsn", pg.dsn(), "--id", "st2",
                               "--key-file", write_key(dir, "long.key", longer).string()});
  INFO(set.output);
  CHECK(set.exit_code == 0);
  CHECK(pg.query_scalar("select encode(signing_key, 'hex') from stations where id='st2'") ==
        weighlink::sync::to_hex(longer));
  CHECK(pg.query_scalar("select signing_key_set_at is not null from stations where id='st2'") ==
        "t");

  // A file that is not a key, a missing file, an unknown station, no --key-file.
  std::ofstream(dir / "short.key") << "abcd\n";
  auto short_key =
      weighlink::testing::run({kBackend, "station", "set-key", "--dsn", pg.dsn(), "--id", "st2",
                               "--key-file", (dir / "short.key").string()});
  CHECK(short_key.exit_code == 2);
  CHECK(short_key.output.find("at least 64 hex digits") != std::string::npos);
  CHECK(weighlink::testing::run({kBackend, "station", "set-key", "--dsn", pg.dsn(), "--id", "st2",
                                 "--key-file", (dir / "none.key").string()})
            .exit_code == 2);
  const auto unknown = weighlink::testing::run({kBackend, "station", "set-key", "--dsn", pg.dsn(),
                                                "--id", "st9", "--key-file", key_file.string()});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.output.find("no such station") != std::string::npos);
  CHECK(weighlink::testing::run({kBackend, "station", "set-key", "--dsn", pg.dsn(), "--id", "st2"})
            .exit_code == 2);
  auto bad_add = weighlink::testing::run({kBackend, "station", "add", "--dsn", pg.dsn(), "--id",
                                          "st3", "--key-file", (dir / "short.key").string()});
  CHECK(bad_add.exit_code == 2);
  CHECK(pg.query_scalar("select count(*) from stations where id='st3'") == "0");
  // The key never reaches the output.
  CHECK(added.output.find(weighlink::sync::to_hex(kStationKey)) == std::string::npos);
  CHECK(set.output.find(weighlink::sync::to_hex(longer)) == std::string::npos);
}

TEST_CASE("backend: with a station key, every mutation's signature and chain is checked") {
  PgCluster pg;
  migrate(pg);
  TempDir dir("wl-backend-test");
  const std::string token = add_station(pg, "st1");
  const auto set =
      weighlink::testing::run({kBackend, "station", "set-key", "--dsn", pg.dsn(), "--id", "st1",
                               "--key-file", write_key(dir, "station.key", kStationKey).string()});
  REQUIRE_MESSAGE(set.exit_code == 0, set.output);
  Backend backend(pg.dsn());

  // A correctly signed chain is applied, with its evidence stored and verified.
  auto m1 = axle_weighing("st1", 1, "k1", "6100", "8200.5", "14300.5");
  m1.mutable_weighing_captured()->set_weight("99999");  // the unsigned typed copy, altered
  auto m2 = weighing("st1", 2, "k2", "32540");
  auto m3 = weighing("st1", 3, "k3", "12440.5");
  const auto h1 = sign(m1, kGenesis, kStationKey);
  const auto h2 = sign(m2, h1, kStationKey);
  const auto h3 = sign(m3, h2, kStationKey);
  pb::ReplayResponse response;
  auto call = call_replay(backend.grpc(), token, batch("st1", {m1, m2, m3}), &response);
  REQUIRE_MESSAGE(call.status.ok(), call.status.error_message());
  REQUIRE(response.results_size() == 3);
  for (const auto& r : response.results()) CHECK_MESSAGE(r.outcome() == pb::APPLIED, r.reason());
  CHECK(pg.query_scalar("select string_agg(record_hash, ',' order by seq) from mutation_log") ==
        h1 + "," + h2 + "," + h3);
  CHECK(pg.query_scalar("select prev_hash from mutation_log where seq=2") == h1);
  CHECK(pg.query_scalar("select signature from mutation_log where seq=3") == m3.signature());
  CHECK(pg.query_scalar("select bool_and(signature_verified) from mutation_log") == "t");
  // What is stored is what was signed: the weight and the axles from the signed JSON.
  CHECK(pg.query_scalar("select weight::text from weighings where idempotency_key='k1'") ==
        "14300.5");
  CHECK(pg.query_scalar("select gvw::text || ' ' || weighing_type from weighings where "
                        "idempotency_key='k1'") == "14300.5 axle");
  CHECK(pg.query_scalar("select string_agg(axle || ':' || weight::text || ':' || reading_seq || "
                        "':' || encode(raw, 'hex') || ':' || captured_ts, ' ' order by axle) "
                        "from weighing_axles where idempotency_key='k1'") ==
        "1:6100:11:0241310d:2027-01-15T08:00:01.000Z 2:8200.5:12:024132b00d:"
        "2027-01-15T08:00:05.000Z");
  CHECK(pg.query_scalar("select pg_typeof(weight)::text from weighing_axles limit 1") == "numeric");

  // A changed payload, a wrong key, a broken chain; a good one after each is applied.
  auto m4 = weighing("st1", 4, "k4", "100");
  const auto h4 = sign(m4, h3, kStationKey);
  m4.set_payload_json(R"({"scale":"main","weight":"900","unit":"kg"})");
  auto m5 = weighing("st1", 5, "k5", "500");
  const auto h5 = sign(m5, h4, kStationKey);
  auto m6 = weighing("st1", 6, "k6", "600");
  const auto h6 = sign(m6, h5, std::vector<unsigned char>(32, 0x11));
  auto m7 = weighing("st1", 7, "k7", "700");
  sign(m7, h5, kStationKey);  // skips seq 6
  auto m8 = weighing("st1", 8, "k8", "800");
  sign(m8, m7.record_hash(), kStationKey);
  pb::ReplayResponse second;
  call = call_replay(backend.grpc(), token, batch("st1", {m4, m5, m6, m7, m8}), &second);
  REQUIRE_MESSAGE(call.status.ok(), call.status.error_message());
  REQUIRE(second.results_size() == 5);
  CHECK(second.results(0).outcome() == pb::REJECTED);
  CHECK(second.results(0).reason().rfind("bad_signature", 0) == 0);
  CHECK(second.results(1).outcome() == pb::APPLIED);
  CHECK(second.results(2).outcome() == pb::REJECTED);
  CHECK(second.results(2).reason().rfind("bad_signature", 0) == 0);
  CHECK(second.results(3).outcome() == pb::REJECTED);
  CHECK(second.results(3).reason().rfind("chain_broken", 0) == 0);
  CHECK(second.results(4).outcome() == pb::APPLIED);
  CHECK(second.watermark().high_water_seq() == 8);
  CHECK(pg.query_scalar("select outcome || ' ' || reason from mutation_log where seq=4")
            .rfind("rejected bad_signature", 0) == 0);
  CHECK(pg.query_scalar("select record_hash from mutation_log where seq=6") == h6);  // as given
  CHECK(pg.query_scalar("select count(*) from weighings where idempotency_key in "
                        "('k4','k6','k7')") == "0");
  CHECK(pg.query_scalar("select count(*) from weighings") == "5");

  // Re-sent, a rejection stays a rejection (a DUPLICATE of it).
  pb::ReplayResponse again;
  REQUIRE(call_replay(backend.grpc(), token, batch("st1", {m4}), &again).status.ok());
  CHECK(again.results(0).outcome() == pb::DUPLICATE);
  CHECK(again.results(0).original_outcome() == pb::REJECTED);

  // A mutation without evidence is refused once the station has a key.
  pb::ReplayResponse bare;
  REQUIRE(call_replay(backend.grpc(), token, batch("st1", {weighing("st1", 9, "k9", "9")}), &bare)
              .status.ok());
  CHECK(bare.results(0).reason().rfind("bad_signature", 0) == 0);

  CHECK(metric_line(backend.http(),
                    "weighlink_backend_evidence_rejected_total{reason=\"bad_"
                    "signature\"}") ==
        "weighlink_backend_evidence_rejected_total{reason=\"bad_signature\"} 3");
  CHECK(metric_line(backend.http(),
                    "weighlink_backend_evidence_rejected_total{reason=\"chain_broken\"}") ==
        "weighlink_backend_evidence_rejected_total{reason=\"chain_broken\"} 1");
  CHECK(metric_line(backend.http(), "weighlink_backend_unsigned_mutations_total") ==
        "weighlink_backend_unsigned_mutations_total 0");
  CHECK(backend.log().find(weighlink::sync::to_hex(kStationKey)) == std::string::npos);
}

TEST_CASE(
    "backend: a station without a key accepts mutations, stores their evidence, counts them") {
  PgCluster pg;
  migrate(pg);
  const std::string token = add_station(pg, "st1");
  Backend backend(pg.dsn());
  auto signed_one = weighing("st1", 1, "k1", "100");
  const auto h1 = sign(signed_one, kGenesis, kStationKey);
  auto odd = weighing("st1", 2, "k2", "200");
  odd.set_prev_hash("whatever");
  odd.set_record_hash("not-checked");
  odd.set_signature("without-a-key");
  pb::ReplayResponse response;
  const auto call =
      call_replay(backend.grpc(), token,
                  batch("st1", {signed_one, odd, weighing("st1", 3, "k3", "300")}), &response);
  REQUIRE_MESSAGE(call.status.ok(), call.status.error_message());
  REQUIRE(response.results_size() == 3);
  for (const auto& r : response.results()) CHECK_MESSAGE(r.outcome() == pb::APPLIED, r.reason());
  CHECK(pg.query_scalar("select record_hash from mutation_log where seq=1") == h1);
  CHECK(pg.query_scalar("select signature from mutation_log where seq=2") == "without-a-key");
  CHECK(pg.query_scalar("select record_hash is null from mutation_log where seq=3") == "t");
  CHECK(pg.query_scalar("select bool_or(signature_verified) from mutation_log") == "f");
  CHECK(metric_line(backend.http(), "weighlink_backend_unsigned_mutations_total") ==
        "weighlink_backend_unsigned_mutations_total 3");
  // Evidence that could not be stored rejects that mutation alone.
  auto bad = weighing("st1", 4, "k4", "400");
  bad.set_signature(std::string(200, 'a'));
  pb::ReplayResponse rejected;
  REQUIRE(call_replay(backend.grpc(), token, batch("st1", {bad}), &rejected).status.ok());
  CHECK(rejected.results(0).reason().rfind("invalid_evidence: ", 0) == 0);
  CHECK(rejected.watermark().high_water_seq() == 4);
}

TEST_CASE("backend: migration 2 gives weighings recorded under v1 their deck and axle rows") {
  PgCluster pg;
  {
    // The schema as a v1 binary left it, with a multi-deck and an axle weighing.
    PgSession v1(pg.dsn());
    v1.exec(std::string(weighlink::backend::migrations()[0].sql));
    v1.exec(
        "CREATE TABLE schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL "
        "DEFAULT now()); INSERT INTO schema_migrations (version) VALUES (1)");
    v1.exec(
        "INSERT INTO stations (id, token_sha256) VALUES ('st1', 'x');"
        "INSERT INTO mutation_log (station_id, idempotency_key, seq, kind, payload, "
        "payload_sha256, outcome) VALUES "
        "('st1', 'd', 1, 'weighing.captured', '{}', 'h', 'applied'),"
        "('st1', 'a', 2, 'weighing.captured', '{}', 'h', 'applied'),"
        "('st1', 's', 3, 'weighing.captured', '{}', 'h', 'applied');"
        "INSERT INTO weighings (station_id, idempotency_key, scale, weight, unit, mode, decks, "
        "axles) VALUES "
        "('st1', 'd', 'main', 30100, 'kg', 'gross', '[{\"index\":1,\"weight\":\"12000\","
        "\"stable\":true},{\"index\":2,\"weight\":\"18100\",\"stable\":false}]', NULL),"
        "('st1', 'a', 'main', 14300.5, 'kg', 'gross', NULL, '[{\"index\":0,\"weight\":\"6100\"},"
        "{\"index\":0,\"weight\":\"8200.5\"}]'),"
        "('st1', 's', 'main', 500, 'kg', 'gross', NULL, NULL)");
  }
  migrate(pg);
  CHECK(pg.query_scalar("select max(version) from schema_migrations") ==
        std::to_string(weighlink::backend::latest_schema_version()));
  CHECK(pg.query_scalar("select string_agg(deck || ':' || weight::text || ':' || stable, ' ' "
                        "order by deck) from weighing_decks where idempotency_key='d'") ==
        "1:12000:true 2:18100:false");
  // v1 agents sent no axle numbers: the axles take their position.
  CHECK(pg.query_scalar("select string_agg(axle || ':' || weight::text, ' ' order by axle) from "
                        "weighing_axles where idempotency_key='a'") == "1:6100 2:8200.5");
  CHECK(pg.query_scalar("select string_agg(idempotency_key || ':' || coalesce(gvw::text, '-'), "
                        "' ' order by idempotency_key) from weighings") == "a:14300.5 d:30100 s:-");
  CHECK(pg.query_scalar("select count(*) from mutation_log where signature_verified") == "0");
}

TEST_CASE("backend: the DSN may come from WEIGHLINK_DSN instead of the command line") {
  // The systemd unit reads it from /etc/weighlink/backend.env: no secret in `ps`.
  PgCluster pg;
  const auto migrated =
      weighlink::testing::run({"/usr/bin/env", "WEIGHLINK_DSN=" + pg.dsn(), kBackend, "migrate"});
  INFO(migrated.output);
  CHECK(migrated.exit_code == 0);
  CHECK(pg.query_scalar("select count(*) from stations") == "0");  // the schema is there
  const auto added = weighlink::testing::run(
      {"/usr/bin/env", "WEIGHLINK_DSN=" + pg.dsn(), kBackend, "station", "add", "--id", "st-env"});
  CHECK(added.exit_code == 0);
  CHECK(last_line(added.output).rfind("wlst_", 0) == 0);
  // Neither given: a usage error that names both.
  const auto neither =
      weighlink::testing::run({"/usr/bin/env", "-u", "WEIGHLINK_DSN", kBackend, "migrate"});
  CHECK(neither.exit_code == 2);
  CHECK(neither.output.find("--dsn") != std::string::npos);
}
