// The agent and the backend under a service manager: the real binaries tell a notify socket (as
// systemd gives one to a Type=notify unit) that they are ready, feed the watchdog while they run,
// and say they are stopping on SIGTERM (installers/linux/*.service).
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "weighlink/testing/notify_socket.hpp"
#include "weighlink/testing/process.hpp"

using namespace std::chrono_literals;
using weighlink::testing::bin;
using weighlink::testing::NotifySocket;
using weighlink::testing::Process;
using weighlink::testing::TempDir;

namespace {

// Reads datagrams until one starts with `prefix`; "" when none does within `timeout`.
std::string next_starting(NotifySocket& socket, const std::string& prefix,
                          std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto message = socket.next(200ms);
    if (message.rfind(prefix, 0) == 0) return message;
  }
  return {};
}

// How many WATCHDOG=1 arrive within `window`.
// Waits for `n` WATCHDOG=1 notifications (the event itself); false when they did not come
// before `guard`, which only bounds a broken run.
bool watchdogs(NotifySocket& socket, int n, std::chrono::seconds guard = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + guard;
  int seen = 0;
  while (seen < n && std::chrono::steady_clock::now() < deadline) {
    if (socket.next(50ms) == "WATCHDOG=1") ++seen;
  }
  return seen >= n;
}

// Starts `argv` as systemd would start a Type=notify unit with WatchdogSec=0.3s, checks the
// notifications through its life, and stops it with SIGTERM.
void check_service(const TempDir& dir, std::vector<std::string> argv,
                   const std::string& ready_status) {
  NotifySocket socket((dir / "notify").string());
  argv.insert(argv.begin(),
              {"/usr/bin/env", "NOTIFY_SOCKET=" + socket.name(), "WATCHDOG_USEC=300000"});
  Process process(argv, dir / "service.log");
  const auto ready = next_starting(socket, "READY=1");
  INFO(process.log());
  REQUIRE_FALSE(ready.empty());
  CHECK(ready.find("STATUS=" + ready_status) != std::string::npos);

  // Fed again and again while it runs (every half WatchdogSec; the rate is the agent's timer,
  // not asserted here)...
  CHECK(watchdogs(socket, 4));
  // ...and again after it was frozen and thawed (systemd would have restarted it meanwhile).
  process.freeze();
  process.thaw();
  CHECK(watchdogs(socket, 2));

  CHECK(process.terminate() == 0);
  CHECK_FALSE(next_starting(socket, "STOPPING=1", 2s).empty());
}

}  // namespace

TEST_CASE("service: the agent says READY, feeds the watchdog from its event loop, and STOPPING") {
  TempDir dir("wl-service");
  check_service(dir,
                {bin("weighlink-agent"), "--listen", "127.0.0.1:0", "--data-dir",
                 (dir / "data").string(), "--station-id", "st-1"},
                "serving http://127.0.0.1:");
}

TEST_CASE("service: the backend says READY, feeds the watchdog, and STOPPING") {
  TempDir dir("wl-service");
  // No database is needed to serve (/readyz answers 503 until there is one).
  check_service(dir,
                {bin("weighlink-backend"), "serve", "--dsn",
                 "postgresql://weighlink@127.0.0.1:1/none?connect_timeout=1", "--grpc-listen",
                 "127.0.0.1:0", "--http-listen", "127.0.0.1:0"},
                "serving gRPC on 127.0.0.1:");
}
