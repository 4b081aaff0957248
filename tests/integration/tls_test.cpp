// gRPC over TLS between the real agent and the real backend, with a throwaway CA: the agent
// reaches a TLS backend only with the right CA, and a backend that requires client certificates
// only with one; nothing is applied over a refused handshake.
#include <doctest/doctest.h>

#include "agent_fixture.hpp"
#include "weighlink/testing/tls_ca.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;  // NOLINT(google-build-using-namespace)

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

// A backend serving TLS with a certificate from `ca`, requiring client certificates from `ca` too
// when `require_client_cert`; `other` is a CA it knows nothing of.
struct TlsBackend {
  TlsBackend(const char* name, bool require_client_cert) : dir(name) {
    const auto server = ca.server("backend");
    std::vector<std::string> args{"--tls-cert", server.cert.string(), "--tls-key",
                                  server.key.string()};
    if (require_client_cert) args.insert(args.end(), {"--tls-client-ca", ca.cert().string()});
    backend.emplace(dir, "st-1", args);
  }

  // Agents started one after another with each of the `refused` configurations stay offline,
  // the handshake refused, with the mutation the first took pending; then one with `accepted`
  // replays it.
  void check_only_accepted(const std::vector<std::string>& refused, const std::string& accepted) {
    const auto args = backend->agent_args();
    for (std::size_t i = 0; i < refused.size(); ++i) {
      INFO("refused configuration " << i << ":\n" << refused[i]);
      AgentProcess agent(dir, args, refused[i]);
      if (i == 0) {
        REQUIRE(
            post_json(agent.http, "/v1/mutations", "m-1", R"({"kind":"note.added","payload":{}})")
                .status == 202);
      }
      REQUIRE(eventually(
          [&] {
            auto s = agent_status(agent.http);
            return s.at("uplink").at("state") == "offline" &&
                   s.at("uplink").at("consecutive_failures").as_int64() >= 2;
          },
          20s));
      CHECK(applied(*backend) == "0");
    }
    AgentProcess agent(dir, args, accepted);
    REQUIRE_MESSAGE(eventually([&] { return applied(*backend) == "1"; }, 20s),
                    agent.process->log());
    CHECK(agent_status(agent.http).at("uplink").at("state") == "online");
  }

  TempDir dir;
  TlsCa ca{dir.path(), "good"};
  TlsCa other{dir.path(), "other"};
  std::optional<StationBackend> backend;
};

}  // namespace

TEST_CASE("tls: the agent replays over TLS only to a backend its CA vouches for") {
  TlsBackend tls("wl-tls", /*require_client_cert=*/false);
  tls.check_only_accepted({"hello_interval_ms: 1000\n",  // no TLS
                           tls_config(nullptr, tls.other.cert())},
                          tls_config(nullptr, tls.ca.cert()));
}

TEST_CASE("tls: a backend that requires client certificates takes only those its CA issued") {
  TlsBackend tls("wl-mtls", /*require_client_cert=*/true);
  const auto foreign = tls.other.client("st-1");
  const auto client = tls.ca.client("st-1");
  tls.check_only_accepted({tls_config(nullptr, tls.ca.cert()),  // no client certificate
                           tls_config(&foreign, tls.ca.cert())},
                          tls_config(&client, tls.ca.cert()));
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
