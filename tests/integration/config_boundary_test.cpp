// The agent's configuration boundary (issue 15, item 8): the daemon itself, started with each bad
// flag or file, refuses to run with exit 2 and one line on stderr that names the flag, key or
// file and what to do, and prints nothing on stdout. Then what it allows with a warning.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "agent_fixture.hpp"

using namespace weighlink::testing;

namespace {

struct BadStart {
  const char* what;
  std::vector<std::string> flags;
  const char* yaml;      // written to agent.yaml and passed with --config when not empty
  const char* expected;  // in the message: the flag, key or file and what is wrong
};

std::string one_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

TEST_CASE("config boundary: each bad flag or file stops the daemon with exit 2 and one line") {
  TempDir dir("wl-config-boundary");
  const auto token = dir / "token";
  write_secret_file(token, "tok\n");
  const std::vector<BadStart> catalogue = {
      {"a log level spdlog would read as off", {"--log-level", "warnings"}, "", "--log-level"},
      {"an upper-case log level", {"--log-level", "INFO"}, "", "--log-level"},
      {"an unknown flag", {"--listne", "127.0.0.1:0"}, "", "--listne"},
      {"a scale protocol without a source",
       {"--scale-protocol", "mt-sics"},
       "",
       "--scale-protocol mt-sics is the protocol of --scale-source"},
      {"an unknown scale protocol",
       {"--scale-source", "udp:127.0.0.1:9", "--scale-protocol", "mettler"},
       "",
       "unknown protocol 'mettler'"},
      {"--listen on every interface", {"--listen", "0.0.0.0:0"}, "", "allow_remote: true"},
      {"--listen on a LAN address", {"--listen", "10.1.2.3:0"}, "", "listen (or --listen)"},
      {"listen in the file on every IPv6 interface",
       {},
       "listen: '[::]:0'\n",
       "listen (or --listen): [::]:0"},
      {"TruConnect's socket on every interface",
       {"--scale-source", "udp:127.0.0.1:9", "--truconnect"},
       "compat:\n  truconnect:\n    ws_listen: 0.0.0.0:0\n",
       "compat.truconnect.ws_listen: 0.0.0.0:0"},
      {"allow_remote as words", {}, "allow_remote: yes please\n", "allow_remote"},
      {"hello_interval_ms 0 (it spun)",
       {},
       "hello_interval_ms: 0\n",
       "hello_interval_ms: 0 is out of range 1000..600000 ms"},
      {"hello_interval_ms negative", {}, "hello_interval_ms: -5\n", "hello_interval_ms"},
      {"capture_timeout_ms 0",
       {},
       "capture_timeout_ms: 0\n",
       "capture_timeout_ms: 0 is out of range"},
      {"replay_batch_size 0", {}, "replay_batch_size: 0\n", "replay_batch_size: 0 is out of range"},
      {"replay_backoff_max_ms 0", {}, "replay_backoff_max_ms: 0\n", "replay_backoff_max_ms"},
      {"limits.max_connections 0",
       {},
       "limits:\n  max_connections: 0\n",
       "limits.max_connections: 0 is out of range 8..100000 connections"},
      {"limits.max_request_body_bytes negative",
       {},
       "limits:\n  max_request_body_bytes: -1\n",
       "limits.max_request_body_bytes"},
      {"limits.max_body_bytes_in_flight below one body",
       {},
       "limits:\n  max_body_bytes_in_flight: 4096\n",
       "limits.max_body_bytes_in_flight: 4096 is below"},
      {"limits.accept_pause_ms 0 (it would spin)",
       {},
       "limits:\n  accept_pause_ms: 0\n",
       "limits.accept_pause_ms: 0 is out of range 10..10000 ms"},
      {"a misspelt limits key",
       {},
       "limits:\n  max_conections: 64\n",
       "limits.max_conections: unknown key"},
      {"live.max_clients 0", {}, "live:\n  max_clients: 0\n", "live.max_clients"},
      {"live.write_stall_ms 0", {}, "live:\n  write_stall_ms: 0\n", "live.write_stall_ms"},
      {"a scale's stale_after_ms 0",
       {},
       "scales:\n  - source: udp:127.0.0.1:9\n    protocol: mt-continuous\n    stale_after_ms: 0\n",
       "scales[0].stale_after_ms: 0 is out of range"},
      {"a udp source on every interface without its sender",
       {"--scale-source", "udp:0.0.0.0:5000"},
       "",
       "add ?from=SENDER_IP"},
      {"a udp sender that is a name",
       {},
       "scales:\n  - source: udp:5000?from=scale.local\n"
       "    protocol: mt-continuous\n",
       "scales[0].source"},
  };
  for (const auto& bad : catalogue) {
    const std::string what = bad.what;
    CAPTURE(what);
    // No --listen unless the case gives one: a file's listen must count.
    std::vector<std::string> argv = {bin("weighlink-agent"), "--data-dir", (dir / "data").string()};
    argv.insert(argv.end(), bad.flags.begin(), bad.flags.end());
    if (*bad.yaml != '\0') {
      std::ofstream(dir / "agent.yaml", std::ios::trunc) << bad.yaml;
      argv.emplace_back("--config");
      argv.push_back((dir / "agent.yaml").string());
    }
    const auto r = run_split(argv, std::chrono::seconds(20));
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.rfind("weighlink-agent: ", 0) == 0);
    CHECK(one_line(r.err).find(bad.expected) != std::string::npos);
  }
}

TEST_CASE("config boundary: key and token files open to others are refused, naming the chmod") {
  TempDir dir("wl-config-secrets");
  struct Case {
    const char* what;
    std::filesystem::path file;
    mode_t mode;
    std::vector<std::string> flags;
    std::string yaml;
  };
  const auto key = dir / "station.key";
  const auto token = dir / "station.token";
  const auto data_key = dir / "data" / "station.key";
  std::filesystem::create_directories(dir / "data");
  const std::vector<Case> cases = {
      {"a world-readable token file",
       token,
       0644,
       {"--station-token-file", token.string(), "--backend", "127.0.0.1:9"},
       ""},
      {"a group-readable token file from the config file",
       token,
       0640,
       {},
       "station_token_file: " + token.string() + "\nbackends: ['127.0.0.1:9']\n"},
      {"a group-readable station key file", key, 0640, {"--station-key-file", key.string()}, ""},
      {"a world-writable station key file", key, 0602, {"--station-key-file", key.string()}, ""},
      {"the default key in the data directory, world-readable", data_key, 0644, {}, ""},
  };
  for (const auto& c : cases) {
    const std::string what = c.what;
    CAPTURE(what);
    for (const auto& f : {key, token, data_key}) std::filesystem::remove(f);
    write_secret_file(c.file, c.file == token ? "tok\n" : std::string(64, 'a') + "\n");
    REQUIRE(::chmod(c.file.c_str(), c.mode) == 0);
    std::vector<std::string> argv = {bin("weighlink-agent"), "--listen", "127.0.0.1:0",
                                     "--data-dir", (dir / "data").string()};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    if (!c.yaml.empty()) {
      std::ofstream(dir / "agent.yaml", std::ios::trunc) << c.yaml;
      argv.emplace_back("--config");
      argv.push_back((dir / "agent.yaml").string());
    }
    for (const bool check_only : {false, true}) {
      auto args = argv;
      if (check_only) args.emplace_back("--check-config");
      const auto r = run_split(args);
      INFO("stderr: " << r.err);
      CHECK(r.exit_code == 2);
      CHECK(r.out.empty());
      CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
      CHECK(r.err.find(c.file.string() + ": ") != std::string::npos);
      CHECK(r.err.find("run: chmod 600 " + c.file.string()) != std::string::npos);
    }
  }
  // With mode 0600 the same files are taken.
  for (const auto& f : {key, token, data_key}) std::filesystem::remove(f);
  write_secret_file(token, "tok\n");
  write_secret_file(key, std::string(64, 'a') + "\n");
  const auto r = run_split({bin("weighlink-agent"), "--data-dir", (dir / "data").string(),
                            "--station-token-file", token.string(), "--station-key-file",
                            key.string(), "--backend", "127.0.0.1:9", "--check-config"});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
}

TEST_CASE("config boundary: the agent makes its own station key with mode 0600 and starts") {
  TempDir dir("wl-config-newkey");
  AgentProcess agent(dir, {});
  struct stat st {};
  REQUIRE(::stat((dir / "data" / "station.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(http_request(agent.http, "GET", "/healthz").status == 200);
  // It restarts with the key it made.
  agent.process->terminate();
  AgentProcess again(dir, {});
  CHECK(http_request(again.http, "GET", "/healthz").status == 200);
}

TEST_CASE("config boundary: allow_remote lets the agent listen beyond loopback, with a warning") {
  TempDir dir("wl-config-remote");
  std::ofstream(dir / "agent.yaml") << "allow_remote: true\nlisten: 0.0.0.0:0\n";
  Process agent({bin("weighlink-agent"), "--config", (dir / "agent.yaml").string(), "--data-dir",
                 (dir / "data").string(), "--ready-file", (dir / "ready").string()},
                dir / "agent.log");
  const auto ready = agent.wait_ready(dir / "ready");
  const auto port = split_host_port(ready.at("http")).second;
  CHECK(http_request("127.0.0.1:" + std::to_string(port), "GET", "/healthz").status == 200);
  const auto log = agent.log();
  CHECK(log.find("allow_remote: true: the local API listens beyond this machine (0.0.0.0:0)") !=
        std::string::npos);
}

TEST_CASE("config boundary: plaintext gRPC to another machine warns once and shows in status") {
  TempDir dir("wl-config-plaintext");
  write_secret_file(dir / "token", "tok\n");
  // 192.0.2.1 (TEST-NET-1) is never a real host: the link stays down, which does not matter here.
  AgentProcess agent(
      dir, {"--backend", "192.0.2.1:50051", "--station-token-file", (dir / "token").string()});
  const auto uplink = agent_status(agent.http).at("uplink").as_object();
  CHECK(uplink.at("transport").as_string() == "plaintext");
  CHECK(uplink.at("plaintext_remote").as_bool());
  const auto log = agent.process->log();
  const std::string line =
      "the backend 192.0.2.1:50051 is another machine and the link is plaintext";
  CHECK(log.find(line) != std::string::npos);
  CHECK(log.find(line) == log.rfind(line));

  TempDir local_dir("wl-config-plaintext-local");
  write_secret_file(local_dir / "token", "tok\n");
  AgentProcess local(local_dir, {"--backend", free_loopback_address(), "--station-token-file",
                                 (local_dir / "token").string()});
  const auto local_uplink = agent_status(local.http).at("uplink").as_object();
  CHECK(local_uplink.at("transport").as_string() == "plaintext");
  CHECK_FALSE(local_uplink.at("plaintext_remote").as_bool());
  CHECK(local.process->log().find("is another machine") == std::string::npos);
}

TEST_CASE("config boundary: the daemon's log goes to stderr, nothing to stdout") {
  TempDir dir("wl-config-stderr");
  // A port taken by another listener: the agent logs its error and exits 1.
  AgentProcess first(dir, {});
  TempDir second_dir("wl-config-stderr-2");
  const auto r = run_split({bin("weighlink-agent"), "--listen", first.http, "--data-dir",
                            (second_dir / "data").string()});
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(r.err.find("cannot listen on " + first.http) != std::string::npos);
}
