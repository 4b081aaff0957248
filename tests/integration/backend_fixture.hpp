#pragma once
// What the weighlink-backend end-to-end tests share (backend_test.cpp, backend_ops_test.cpp,
// backend_signature_test.cpp): the real binary, a throwaway PostgreSQL cluster, a real gRPC client
// over loopback and plain HTTP GETs.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
#include "weighlink/testing/http_client.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"

namespace pb = weighlink::sync::v1;
using namespace std::chrono_literals;
using weighlink::testing::last_line;
using weighlink::testing::PgCluster;
using weighlink::testing::Process;
using weighlink::testing::TempDir;

namespace backend_fixture {

inline const std::string kBackend = weighlink::testing::bin("weighlink-backend");

inline void migrate(const PgCluster& pg) {
  const auto result = weighlink::testing::run({kBackend, "migrate", "--dsn", pg.dsn()});
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
}

// A station whose weighings are recorded without a key (--allow-unsigned-weighings), as every
// station's were before the setting; `allow_unsigned` false: a new station as the default makes it.
inline std::string add_station(const PgCluster& pg, const std::string& id,
                               bool allow_unsigned = true) {
  std::vector<std::string> argv{kBackend, "station", "add", "--dsn", pg.dsn(), "--id", id};
  if (allow_unsigned) argv.emplace_back("--allow-unsigned-weighings");
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
// socket timeouts: for requests no HTTP client would write (a declared body never sent).
inline HttpAnswer http_raw(const std::string& address, const std::string& request) {
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

// A GET through the tests' HTTP client.
inline weighlink::testing::HttpResult http_get(const std::string& address,
                                               const std::string& path) {
  return weighlink::testing::http_request(address, "GET", path);
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
    std::vector<std::string> argv{
        kBackend,      "serve",         "--dsn",       dsn_,           "--grpc-listen",
        "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--ready-file", ready_file().string()};
    // Two workers unless the test names its own number.
    if (std::find(extra_.begin(), extra_.end(), "--workers") == extra_.end()) {
      argv.insert(argv.end(), {"--workers", "2"});
    }
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
inline pb::Mutation weighing(const std::string& station, std::uint64_t seq, const std::string& key,
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

inline pb::ReplayRequest batch(const std::string& station, std::vector<pb::Mutation> mutations) {
  pb::ReplayRequest request;
  request.set_station_id(station);
  for (auto& m : mutations) *request.add_mutations() = std::move(m);
  return request;
}

// Replays `request` and requires the call to succeed; the answer.
inline pb::ReplayResponse replay_ok(const std::string& grpc, const std::string& token,
                                    const pb::ReplayRequest& request) {
  pb::ReplayResponse response;
  const auto call = call_replay(grpc, token, request, &response);
  REQUIRE_MESSAGE(call.status.ok(), call.status.error_message());
  return response;
}

// Where most cases start: a migrated cluster, station st1 registered (`token`) and a backend
// serving it (with `serve_args`). A doctest fixture: TEST_CASE_FIXTURE(ServedStation, ...).
struct ServedStation {
  explicit ServedStation(std::vector<std::string> serve_args = {})
      : token(registered(pg)), backend(pg.dsn(), std::move(serve_args)) {}

  // Replays `mutations` as st1 and requires the call to succeed; the answer.
  pb::ReplayResponse replay(std::vector<pb::Mutation> mutations) {
    return replay_ok(backend.grpc(), token, batch("st1", std::move(mutations)));
  }

  PgCluster pg;
  std::string token;
  Backend backend;

 private:
  static std::string registered(const PgCluster& pg) {
    migrate(pg);
    return add_station(pg, "st1");
  }
};

inline std::string rows_of(const PgCluster& pg, const std::string& station) {
  return pg.query_scalar("select count(*) from mutation_log where station_id='" + station + "'");
}

// grpc.health.v1.Health/Check through the generic stub (no generated health stubs here):
// HealthCheckRequest{service} is field 1 (string); HealthCheckResponse{status} is field 1
// (enum, SERVING = 1). Returns the raw response bytes.
inline std::string health_check(const std::string& address, const std::string& service) {
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
inline std::string reflection_list_services(const std::string& address) {
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

}  // namespace backend_fixture

using namespace backend_fixture;  // NOLINT(google-build-using-namespace): the tests' vocabulary
