#pragma once
// The `displays:` section of the agent's configuration (docs/devices.md, "Remote display"): remote
// displays (scoreboards) that repeat one scale's live weight. Plain values, read at start.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "weighlink/scale/source.hpp"

namespace weighlink::agent {

struct DisplayConfig {
  std::string id;                // a device id (config_checks::check_device_id)
  std::string transport;         // serial | tcp
  std::string port;              // serial: /dev/ttyUSB1, COM4, a pty or a symlink to one
  scale::SerialSettings serial;  // serial: baud and format ("8N1")
  std::string host;              // tcp: the display's (or its serial server's) address
  std::uint16_t tcp_port = 0;    //
  std::string protocol;          // an encoder of scale/ (encode_frame): mt-continuous, sma, ...
  std::string scale;             // the scale it repeats (a scales[] id)
  // A frame at least this often (the last one repeated) and at most this often (latest wins).
  std::chrono::milliseconds interval{200};
  // Reopening an absent or lost display: capped exponential backoff with full jitter.
  std::chrono::milliseconds reopen_backoff_max{5000};
};

using DisplaysConfig = std::vector<DisplayConfig>;

}  // namespace weighlink::agent
