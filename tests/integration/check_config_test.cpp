// `weighlink-agent --check-config` on a catalogue of bad configuration files, as a station
// technician would run it before restarting the service: each is refused with exit 2 and one
// message that names the file and the key; a good file passes with a summary; nothing is created.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "weighlink/testing/process.hpp"

using weighlink::testing::bin;
using weighlink::testing::run;
using weighlink::testing::TempDir;

namespace {

struct BadFile {
  const char* what;
  const char* yaml;
  const char* expected;  // in the message: the key and what is wrong
};

const std::vector<BadFile> kCatalogue = {
    {"misspelt key", "listn: 127.0.0.1:8420\n", "listn: unknown key"},
    {"listen without a port", "listen: 127.0.0.1\n", "listen"},
    {"listen with a port out of range", "listen: 127.0.0.1:70000\n", "listen"},
    {"station_id as a list", "station_id: [a, b]\n", "station_id"},
    {"backends as a number", "backends: 5\n", "backends"},
    {"a scale without a source", "scales:\n  - id: main\n    protocol: mt-continuous\n",
     "scales[0].source"},
    {"a scale without a protocol", "scales:\n  - source: serial:/dev/ttyUSB0\n",
     "scales[0].protocol"},
    {"an unknown protocol", "scales:\n  - source: serial:/dev/ttyUSB0\n    protocol: mettler\n",
     "unknown protocol 'mettler'"},
    {"an unknown key in a scale",
     "scales:\n  - source: serial:/dev/ttyUSB0\n    protocol: mt-continuous\n    baud: 9600\n",
     "scales[0].baud: unknown key"},
    {"a source with an unknown scheme", "scales:\n  - source: com3\n    protocol: mt-continuous\n",
     "scales[0].source"},
    {"two scales with one id",
     "scales:\n  - id: a\n    source: serial:/dev/ttyUSB0\n    protocol: mt-continuous\n"
     "  - id: a\n    source: serial:/dev/ttyUSB1\n    protocol: mt-continuous\n",
     "scales[1].id"},
    {"capture_timeout_ms as words", "capture_timeout_ms: three seconds\n", "capture_timeout_ms"},
    {"outbox.max_rows 0", "outbox:\n  max_rows: 0\n", "outbox.max_rows: must be at least 1"},
    {"outbox.min_retention_days too long", "outbox:\n  min_retention_days: 5000\n",
     "outbox.min_retention_days"},
    {"outbox as a number", "outbox: 10\n", "outbox: expected a mapping"},
    {"replay_backoff_max_ms too short", "replay_backoff_max_ms: 10\n", "replay_backoff_max_ms"},
    {"replay_batch_size negative", "replay_batch_size: -1\n", "replay_batch_size"},
    {"live.ping_interval_ms out of range", "live:\n  ping_interval_ms: 1\n",
     "live.ping_interval_ms"},
    {"backend_tls cert without key", "backend_tls:\n  cert_file: /etc/weighlink/station.pem\n",
     "backend_tls"},
    {"compat.truconnect with an unknown key", "compat:\n  truconnect:\n    enable: true\n",
     "compat.truconnect.enable: unknown key"},
    {"a list at the top", "- listen: 127.0.0.1:8420\n", "expected a mapping of keys"},
    {"broken YAML", "listen: [127.0.0.1:8420\n", "not valid YAML"},
    {"tabs for indentation", "outbox:\n\tmax_rows: 5\n", "not valid YAML"},
    {"an HTML page saved as the file", "<html><body>502 Bad Gateway</body></html>\n",
     "expected a mapping of keys"},
};

}  // namespace

TEST_CASE("check-config: each file of the catalogue is refused with exit 2, naming the key") {
  TempDir dir("wl-check-config");
  for (const auto& bad : kCatalogue) {
    const std::string what = bad.what;
    CAPTURE(what);
    const auto file = dir / "agent.yaml";
    std::ofstream(file, std::ios::trunc) << bad.yaml;
    const auto r = run({bin("weighlink-agent"), "--config", file.string(), "--check-config",
                        "--data-dir", (dir / "data").string()});
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(file.string()) != std::string::npos);
    CHECK(r.output.find(bad.expected) != std::string::npos);
    CHECK(r.output.find("configuration OK") == std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(dir / "data"));  // a check creates nothing
}

TEST_CASE("check-config: a missing file, a directory and an empty file") {
  TempDir dir("wl-check-config");
  const auto missing =
      run({bin("weighlink-agent"), "--config", (dir / "none.yaml").string(), "--check-config"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.output.find("none.yaml") != std::string::npos);

  const auto directory =
      run({bin("weighlink-agent"), "--config", dir.path().string(), "--check-config"});
  CHECK(directory.exit_code == 2);
  CHECK(directory.output.find("cannot read the configuration file") != std::string::npos);

  std::ofstream(dir / "empty.yaml") << "";
  const auto empty =
      run({bin("weighlink-agent"), "--config", (dir / "empty.yaml").string(), "--check-config"});
  CHECK(empty.exit_code == 0);  // every key has a default
  CHECK(empty.output.find("configuration OK: 0 scale(s), listen 127.0.0.1:8420") !=
        std::string::npos);
}

TEST_CASE("check-config: the file may follow --check-config, or come from --config") {
  TempDir dir("wl-check-config");
  std::ofstream(dir / "a.yaml") << "listen: 127.0.0.1:9001\n";
  std::ofstream(dir / "b.yaml") << "listn: 127.0.0.1:9001\n";
  const auto a = (dir / "a.yaml").string();
  const auto b = (dir / "b.yaml").string();
  const auto given = run({bin("weighlink-agent"), "--check-config", a});
  CHECK(given.exit_code == 0);
  CHECK(given.output.find("listen 127.0.0.1:9001") != std::string::npos);
  CHECK(run({bin("weighlink-agent"), "--check-config", b}).exit_code == 2);
  CHECK(run({bin("weighlink-agent"), "--config", a, "--check-config"}).exit_code == 0);
  const auto both = run({bin("weighlink-agent"), "--config", a, "--check-config", b});
  CHECK(both.exit_code == 2);
  CHECK(both.output.find("name two files") != std::string::npos);
}

TEST_CASE("check-config: the packaged default configuration passes") {
  const auto packaged = std::filesystem::path(WEIGHLINK_SOURCE_DIR) / "installers/linux/agent.yaml";
  const auto r = run({bin("weighlink-agent"), "--check-config", packaged.string()});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("configuration OK: 1 scale(s)") != std::string::npos);
  // The Windows example too (its paths are only text here).
  const auto windows =
      std::filesystem::path(WEIGHLINK_SOURCE_DIR) / "installers/windows/agent.example.yaml";
  const auto w = run({bin("weighlink-agent"), "--check-config", windows.string()});
  INFO(w.output);
  CHECK(w.exit_code == 0);
}
