#pragma once
// What the configuration tests share: the message a file is refused with.

#include <fstream>
#include <stdexcept>
#include <string>

#include "weighlink/agent/config.hpp"
#include "weighlink/testing/process.hpp"

// The message load_config_file() refuses `yaml` with (written to DIR/c.yaml); empty when it loads.
inline std::string error_of(const weighlink::testing::TempDir& dir, const std::string& yaml) {
  std::ofstream(dir / "c.yaml", std::ios::trunc) << yaml;
  try {
    (void)weighlink::agent::load_config_file(dir / "c.yaml");
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}
