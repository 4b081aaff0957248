#include "weighlink/agent/config.hpp"

#include <doctest/doctest.h>

#include <fstream>

#include "weighlink/testing/process.hpp"

using weighlink::agent::load_config_file;
using weighlink::testing::TempDir;

namespace {

std::string error_of(const TempDir& dir, const std::string& yaml) {
  std::ofstream(dir / "c.yaml", std::ios::trunc) << yaml;
  try {
    (void)load_config_file(dir / "c.yaml");
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("config: a complete file loads") {
  TempDir dir;
  std::ofstream(dir / "c.yaml") << R"(listen: 127.0.0.1:9000
station_id: wb-07
backends: [10.0.0.5:50051]
scales:
  - id: deck
    source: serial:/dev/ttyUSB0?baud=4800&parity=even&bits=7
    protocol: mt-continuous
    unit: lb
)";
  auto cfg = load_config_file(dir / "c.yaml");
  CHECK(cfg.listen_port == 9000);
  CHECK(cfg.station_id == "wb-07");
  REQUIRE(cfg.scales.size() == 1);
  CHECK(cfg.scales[0].id == "deck");
  CHECK(cfg.scales[0].parser.unit == "lb");
}

TEST_CASE("config: each bad file gets an error naming the key") {
  TempDir dir;
  CHECK(error_of(dir, "listn: 1.2.3.4:5\n").find("listn: unknown key") != std::string::npos);
  CHECK(error_of(dir, "listen: nowhere\n").find("listen") != std::string::npos);
  CHECK(error_of(dir, "scales:\n  - source: serial:/dev/x\n").find("scales[0].protocol") !=
        std::string::npos);
  CHECK(error_of(dir, "scales:\n  - source: serial:/dev/x\n    protocol: nope\n")
            .find("unknown protocol 'nope'") != std::string::npos);
  CHECK(error_of(dir, "capture_timeout_ms: soon\n").find("capture_timeout_ms") !=
        std::string::npos);
  CHECK(error_of(dir, "listen: [\n").find("not valid YAML") != std::string::npos);
}
