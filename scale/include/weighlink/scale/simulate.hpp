#pragma once
// `weighlink-scale simulate`: an indicator that streams real protocol frames into a
// pseudo-terminal at a fixed rate. Runs on the caller's thread until `stop` is set.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "weighlink/scale/decimal.hpp"
#include "weighlink/scale/encode.hpp"

namespace weighlink::scale {

struct SimulateConfig {
  std::string protocol;
  std::filesystem::path pty_link;
  double rate_hz = 10.0;
  std::string profile = "static";
  Decimal static_weight{32540, 0};
  std::uint64_t seed = 1;
  bool checksum = false;  // mt-continuous only
};

// The frame encoder for a protocol id; empty when this build cannot encode it.
[[nodiscard]] std::function<std::string(const DisplayState&)> make_encoder(
    std::string_view protocol, bool checksum);

struct SimulateResult {
  int exit_code = 0;    // 0 stopped cleanly, 1 operational failure, 2 bad usage
  std::string message;  // one line for stderr when exit_code != 0
};

// `on_ready` gets the device path once the link exists.
[[nodiscard]] SimulateResult run_simulate(const SimulateConfig& config,
                                          const std::atomic<bool>& stop,
                                          const std::function<void(const std::string&)>& on_ready);

}  // namespace weighlink::scale
