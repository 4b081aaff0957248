#pragma once
// `weighlink-scale simulate`: an indicator that sends real protocol frames, at a fixed rate or
// when polled, into a pseudo-terminal, a serial port or to TCP clients; or replays a capture with
// its original timing. Runs on the caller's thread until `stop` is set.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "weighlink/scale/decimal.hpp"
#include "weighlink/scale/encode.hpp"
#include "weighlink/scale/source.hpp"

namespace weighlink::scale {

struct SimulateConfig {
  std::string protocol;
  // Exactly one output.
  std::filesystem::path pty_link;  // create a pty, symlink it here
  std::string port;                // a serial device (a null-modem cable to the agent's port)
  SerialSettings serial;           // for `port`
  std::string tcp_listen;          // HOST:PORT, port 0 for any; every client gets the stream

  double rate_hz = 10.0;
  std::string profile = "static";
  Decimal static_weight{32540, 0};
  std::uint64_t seed = 1;
  bool checksum = true;     // mt-continuous: append the checksum byte
  int decks = -1;           // -1: 3 for multi-deck protocols, else none; 0/1: none; N: N decks
  bool cumulative = false;  // "axles": show the running total (MCGS)
  // "auto": the protocols the agent polls by default (poll.hpp, polled_by_default()) answer only
  // when polled, the others stream; "always": answer only when polled (e.g. a Cardinal with its
  // continuous output off); "never": stream even polled protocols.
  std::string poll = "auto";
  std::filesystem::path replay;  // a capture file: send its bytes with its timing, then stop
};

// The frame encoder for a protocol id; empty when this build cannot encode it. `checksum` only
// matters for mt-continuous (the one format whose checksum byte is optional).
[[nodiscard]] std::function<std::string(const DisplayState&)> make_encoder(
    std::string_view protocol, bool checksum);

// Whether the protocol's encoder writes deck weights (a multi-deck indicator): found by encoding
// the same total with and without decks, so new encoders need no table entry here.
[[nodiscard]] bool encoder_has_decks(std::string_view protocol);

// The request a polled protocol's indicator waits for (ENQ, "SI\r\n", ...); empty when the
// protocol streams.
[[nodiscard]] std::string poll_command(std::string_view protocol);

struct SimulateResult {
  int exit_code = 0;    // 0 stopped cleanly (or replay done), 1 operational failure, 2 bad usage
  std::string message;  // one line for stderr when exit_code != 0
};

// `on_ready` gets what a reader needs, once the output is up: {"device": "/dev/pts/3"} for a pty,
// {"tcp": "127.0.0.1:41234"} for a listener, {"port": DEV} for a serial port.
[[nodiscard]] SimulateResult run_simulate(
    const SimulateConfig& config, const std::atomic<bool>& stop,
    const std::function<void(const std::map<std::string, std::string>&)>& on_ready);

}  // namespace weighlink::scale
