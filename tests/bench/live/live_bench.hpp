#pragma once
// bench_live's parts (clients, floor server, Node relay, report) and what they share.

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../bench_util.hpp"
#include "weighlink/testing/process.hpp"

namespace weighlink::bench::live {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// Warm-up frames carry weights from kWarmBase up, measured frames from kBase up: a message whose
// weight is below kBase is never counted, so the reading a client gets on connect, the
// auto-detection of the checksum (the agent's first frame waits for the next byte) and connection
// set-up stay out of the figures. Six digits of mt-continuous bound the measured frames.
constexpr std::int64_t kWarmBase = 1000;
constexpr std::int64_t kBase = 100000;
constexpr std::int64_t kMaxFrames = 999999 - kBase;

struct Options {
  double seconds = 20;
  double rate = 50;
  std::vector<int> clients{1, 10, 100};
  int repeat = 1;
  std::string json_path;
  std::string agent = testing::bin("weighlink-agent");
  std::string relay_dir = std::string(WEIGHLINK_BUILD_DIR) + "/bench/node-relay";
  bool agent_enabled = true;
  bool relay_enabled = true;
  bool floor_enabled = true;
};

// Returns the frame weight a server message carries, or nullopt for other messages.
using Extract = std::optional<std::int64_t> (*)(std::string_view);
// weighlink-agent's reading message (and the floor's, which copies it); a stale repeat is none.
std::optional<std::int64_t> agent_weight(std::string_view text);
// The relay's weights event.
std::optional<std::int64_t> relay_weight(std::string_view text);

// A server under test: how to start it on a pty, and where its live socket is.
struct Server {
  std::string name;
  std::string target;  // the WebSocket path
  Extract extract;
  std::function<std::vector<std::string>(const std::string& device,
                                         const std::filesystem::path& ready,
                                         const std::filesystem::path& tmp)>
      argv;
};

// One run of one server at one client count (client.cpp).
struct Measurement {
  std::vector<std::int64_t> latencies_ns;
  std::uint64_t expected = 0;
  double cpu_s = 0;
  double cpu_user_s = 0;
  double peak_rss_mb = 0;
};

Measurement run_point(const Server& server, int clients, const Options& options);

// `bench_live --serve-floor --device D --ready-file F` (floor_server.cpp).
int serve_floor(int argc, char** argv);

// Copies the relay into `dir` (a build directory, never the source tree) and installs its locked
// dependencies there with `npm ci` unless that lock is already installed. Returns the node
// binary, or nullopt with the reason the relay is skipped (node_relay.cpp).
std::optional<std::string> prepare_relay(const std::filesystem::path& dir, std::string* why);

}  // namespace weighlink::bench::live
