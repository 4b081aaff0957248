// The `io:` section of the configuration (config_io.cpp): what loads, and each mistake named.
#include <doctest/doctest.h>

#include <fstream>

#include "weighlink/agent/config.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::agent::load_config_file;
using weighlink::testing::TempDir;

namespace {

const std::string kScales =
    "scales:\n  - {id: main, source: 'sim:truck', protocol: mt-continuous}\n";

// The message load_config_file() refuses `io` with (empty when it loads).
std::string io_error(const TempDir& dir, const std::string& io) {
  std::ofstream(dir / "io.yaml", std::ios::trunc) << kScales << io;
  try {
    (void)load_config_file(dir / "io.yaml");
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("io config: modules, a lane and the policy load") {
  TempDir dir("wl-io-config");
  std::ofstream(dir / "c.yaml") << kScales
                                << "io:\n"
                                   "  modules:\n"
                                   "    - {id: io-1, address: '192.168.1.50:502', unit_id: 3, "
                                   "poll_ms: 50}\n"
                                   "  lanes:\n"
                                   "    - outputs: {entry_red: {coil: 0}, entry_green: {coil: 1}, "
                                   "exit_barrier: {module: io-1, coil: 5}}\n"
                                   "      inputs: {exit_barrier_open: {input: 3}}\n"
                                   "      sensors: [{id: front, input: 0, active_low: true}, "
                                   "{id: on, kind: on_deck, input: 1}]\n"
                                   "  policy: {require_sensors: false, exit_delay_ms: 1500}\n";
  const auto cfg = load_config_file(dir / "c.yaml");
  REQUIRE(cfg.io.modules.size() == 1);
  CHECK(cfg.io.modules[0].host == "192.168.1.50");
  CHECK(cfg.io.modules[0].port == 502);
  CHECK(cfg.io.modules[0].unit_id == 3);
  CHECK(cfg.io.modules[0].poll == std::chrono::milliseconds(50));
  REQUIRE(cfg.io.lanes.size() == 1);
  const auto& lane = cfg.io.lanes[0];
  CHECK(lane.scale == "main");
  REQUIRE(lane.entry_green);
  CHECK(lane.entry_green->module == "io-1");
  CHECK(lane.entry_green->number == 1);
  CHECK_FALSE(lane.exit_red);
  REQUIRE(lane.exit_barrier_open);
  CHECK(lane.exit_barrier_open->number == 3);
  REQUIRE(lane.sensors.size() == 2);
  CHECK(lane.sensors[0].input.active_low);
  CHECK(lane.sensors[0].kind == "end_clear");
  CHECK(lane.sensors[1].kind == "on_deck");
  CHECK_FALSE(cfg.io.policy.require_sensors);
  CHECK(cfg.io.policy.exit_delay == std::chrono::milliseconds(1500));
  CHECK(cfg.io.policy.open_entry_when_idle);
}

TEST_CASE("io config: no io section configures nothing") {
  TempDir dir("wl-io-config");
  CHECK(io_error(dir, "") == "");
  std::ofstream(dir / "c.yaml") << kScales;
  CHECK_FALSE(load_config_file(dir / "c.yaml").io.configured());
}

TEST_CASE("io config: each mistake names its key") {
  TempDir dir("wl-io-config");
  const std::string m = "io:\n  modules: [{id: io-1, address: '127.0.0.1:502'}]\n";
  const std::pair<std::string, std::string> cases[] = {
      {"io: [1]\n", "io: expected a mapping"},
      {"io: {lanes: []}\n", "io.modules: expected a list"},
      {"io:\n  modules: [{id: 'a b', address: '127.0.0.1:502'}]\n", "io.modules[0].id"},
      {"io:\n  modules: [{id: io-1, address: 'nowhere'}]\n", "io.modules[0].address"},
      {"io:\n  modules: [{id: io-1, address: '127.0.0.1:502', unit_id: 300}]\n",
       "io.modules[0].unit_id: expected 0..247"},
      {"io:\n  modules: [{id: io-1, address: '127.0.0.1:502', poll: 5}]\n",
       "io.modules[0].poll: unknown key"},
      {m + "  lanes: [{scale: other}]\n", "io.lanes[0].scale: no scale with id 'other'"},
      {m + "  lanes: [{outputs: {entry_red: {module: io-2, coil: 0}}}]\n",
       "io.lanes[0].outputs.entry_red.module: no module with id 'io-2'"},
      {m + "  lanes: [{outputs: {entry_red: {coil: 0}, exit_red: {coil: 0}}}]\n",
       "io.lanes[0].outputs.exit_red: coil 0 of module 'io-1' is already"},
      {m + "  lanes: [{outputs: {side_red: {coil: 0}}}]\n", "io.lanes[0].outputs.side_red"},
      {m + "  lanes: [{sensors: [{id: s, kind: beam, input: 0}]}]\n",
       "io.lanes[0].sensors[0].kind: 'beam': expected end_clear or on_deck"},
      {m + "  lanes: [{sensors: [{id: s}]}]\n", "io.lanes[0].sensors[0].input: missing"},
      {m + "  lanes: [{}, {}]\n", "io.lanes[1].scale: scale 'main' already has a lane"},
      {m + "  policy: {require_sensors: maybe}\n", "io.policy.require_sensors: expected true"},
  };
  for (const auto& item : cases) {
    const auto error = io_error(dir, item.first);
    CHECK_MESSAGE(error.find(item.second) != std::string::npos, item.first, " -> ", error);
  }
}
