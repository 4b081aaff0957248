// gRPC over TLS between the real agent and the real backend, with a throwaway CA: the agent
// reaches a TLS backend only with the right CA, and a backend that requires client certificates
// only with one; nothing is applied over a refused handshake.
#include <doctest/doctest.h>

#include "agent_fixture.hpp"
#include "weighlink/testing/tls_ca.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using weighlink::testing::agent_status;
using weighlink::testing::AgentProcess;
using weighlink::testing::bin;
using weighlink::testing::eventually;
using weighlink::testing::post_json;
using weighlink::testing::StationBackend;
using weighlink::testing::TempDir;
using weighlink::testing::TlsCa;

namespace {

std::string tls_config(const TlsCa::Issued* client, const std::filesystem::path& ca) {
  std::string c = "hello_interval_ms: 1000\nbackend_tls:\n  ca_file: " + ca.string() + "\n";
  if (client) {
    c += "  cert_file: " + client->cert.string() + "\n  key_file: " + client->key.string() + "\n";
  }
  return c;
}

std::string applied(const StationBackend& backend) {
  return backend.pg().query_scalar("select count(*) from mutation_log where station_id='st-1'");
}

// The agent stays offline with its mutation pending: the handshake is refused.
void check_refused(const AgentProcess& agent, const StationBackend& backend,
                   const std::string& expected_applied) {
  REQUIRE(eventually(
      [&] {
        auto s = agent_status(agent.http);
        return s.at("uplink").at("state") == "offline" &&
               s.at("uplink").at("consecutive_failures").as_int64() >= 2;
      },
      20s));
  CHECK(applied(backend) == expected_applied);
}

}  // namespace

TEST_CASE("tls: the agent replays over TLS only to a backend its CA vouches for") {
  TempDir dir("wl-tls");
  TlsCa ca(dir.path(), "good");
  TlsCa other(dir.path(), "other");
  const auto server = ca.server("backend");
  StationBackend backend(dir, "st-1",
                         {"--tls-cert", server.cert.string(), "--tls-key", server.key.string()});
  const auto args = backend.agent_args();
  {
    AgentProcess plain(dir, args, "hello_interval_ms: 1000\n");  // no TLS: refused
    REQUIRE(post_json(plain.http, "/v1/mutations", "m-1", R"({"kind":"note.added","payload":{}})")
                .status == 202);
    check_refused(plain, backend, "0");
  }
  {
    AgentProcess wrong_ca(dir, args, tls_config(nullptr, other.cert()));
    check_refused(wrong_ca, backend, "0");
  }
  AgentProcess agent(dir, args, tls_config(nullptr, ca.cert()));
  REQUIRE_MESSAGE(eventually([&] { return applied(backend) == "1"; }, 20s), agent.process->log());
  CHECK(agent_status(agent.http).at("uplink").at("state") == "online");
}

TEST_CASE("tls: a backend that requires client certificates takes only those its CA issued") {
  TempDir dir("wl-mtls");
  TlsCa ca(dir.path(), "good");
  TlsCa other(dir.path(), "other");
  const auto server = ca.server("backend");
  StationBackend backend(dir, "st-1",
                         {"--tls-cert", server.cert.string(), "--tls-key", server.key.string(),
                          "--tls-client-ca", ca.cert().string()});
  const auto args = backend.agent_args();
  {
    AgentProcess no_cert(dir, args, tls_config(nullptr, ca.cert()));
    REQUIRE(post_json(no_cert.http, "/v1/mutations", "m-1", R"({"kind":"note.added","payload":{}})")
                .status == 202);
    check_refused(no_cert, backend, "0");
  }
  {
    const auto foreign = other.client("st-1");
    AgentProcess foreign_cert(dir, args, tls_config(&foreign, ca.cert()));
    check_refused(foreign_cert, backend, "0");
  }
  const auto client = ca.client("st-1");
  AgentProcess agent(dir, args, tls_config(&client, ca.cert()));
  REQUIRE_MESSAGE(eventually([&] { return applied(backend) == "1"; }, 20s), agent.process->log());
}

TEST_CASE("tls: bad TLS settings are refused at start with the flag or key named") {
  TempDir dir("wl-tls-bad");
  TlsCa ca(dir.path(), "good");
  const auto server = ca.server("backend");
  const auto backend = bin("weighlink-backend");
  auto only_cert = weighlink::testing::run(
      {backend, "serve", "--dsn", "host=127.0.0.1 port=1", "--tls-cert", server.cert.string()});
  CHECK(only_cert.exit_code == 2);
  CHECK(only_cert.output.find("--tls-key") != std::string::npos);
  std::ofstream(dir / "html.pem") << "<html>502</html>";
  auto not_pem =
      weighlink::testing::run({backend, "serve", "--dsn", "host=127.0.0.1 port=1", "--tls-cert",
                               (dir / "html.pem").string(), "--tls-key", server.key.string()});
  CHECK(not_pem.exit_code == 2);
  CHECK(not_pem.output.find("--tls-cert") != std::string::npos);

  std::ofstream(dir / "agent.yaml")
      << "backend_tls:\n  cert_file: " << server.cert.string() << "\n";
  auto agent = weighlink::testing::run(
      {bin("weighlink-agent"), "--config", (dir / "agent.yaml").string(), "--check-config"});
  CHECK(agent.exit_code == 2);
  CHECK(agent.output.find("backend_tls.key_file") != std::string::npos);
  std::ofstream(dir / "agent2.yaml") << "backend_tls:\n  ca_file: /nonexistent/ca.pem\n";
  auto missing = weighlink::testing::run(
      {bin("weighlink-agent"), "--config", (dir / "agent2.yaml").string(), "--check-config"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.output.find("backend_tls.ca_file") != std::string::npos);
}
