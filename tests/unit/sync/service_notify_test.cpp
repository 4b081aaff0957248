// systemd notifications: what ServiceNotifier sends to a real AF_UNIX datagram socket, as systemd
// would receive it, and how it reads the watchdog settings.
#include "weighlink/base/service_notify.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "weighlink/testing/notify_socket.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::base::ServiceNotifier;

namespace {

// The notifier reads NOTIFY_SOCKET when it is made: set while this lives.
struct Listening {
  weighlink::testing::NotifySocket socket;
  explicit Listening(const std::string& name) : socket(name) {
    ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  }
  ~Listening() { ::unsetenv("NOTIFY_SOCKET"); }
  std::string next() { return socket.next(); }
};

}  // namespace

TEST_CASE("service notify: READY, STATUS, WATCHDOG and STOPPING reach the socket") {
  weighlink::testing::TempDir dir;
  Listening socket((dir / "notify").string());
  ServiceNotifier notifier;
  CHECK(notifier.enabled());
  CHECK(notifier.ready("serving on 127.0.0.1:8080"));
  CHECK(socket.next() == "READY=1\nSTATUS=serving on 127.0.0.1:8080");
  CHECK(notifier.watchdog());
  CHECK(socket.next() == "WATCHDOG=1");
  CHECK(notifier.status("backend unreachable"));
  CHECK(socket.next() == "STATUS=backend unreachable");
  CHECK(notifier.stopping());
  CHECK(socket.next() == "STOPPING=1");
}

TEST_CASE("service notify: an abstract socket name (@...) works too") {
  const std::string name = "@weighlink-notify-test-" + std::to_string(::getpid());
  Listening socket(name);
  ServiceNotifier notifier;
  CHECK(notifier.ready());
  CHECK(socket.next() == "READY=1");
}

TEST_CASE("service notify: without NOTIFY_SOCKET nothing is sent and nothing fails") {
  weighlink::testing::TempDir dir;
  weighlink::testing::NotifySocket socket((dir / "notify").string());  // listening, not named
  ::unsetenv("NOTIFY_SOCKET");
  ServiceNotifier notifier;
  CHECK_FALSE(notifier.enabled());
  CHECK(notifier.ready());
  CHECK(notifier.watchdog());
  CHECK(socket.next(std::chrono::milliseconds(200)).empty());
}

TEST_CASE("service notify: a socket that is gone is reported, not thrown") {
  weighlink::testing::TempDir dir;
  ::setenv("NOTIFY_SOCKET", (dir / "nobody").string().c_str(), 1);
  ServiceNotifier notifier;
  CHECK(notifier.enabled());
  CHECK_FALSE(notifier.ready());
  ::unsetenv("NOTIFY_SOCKET");
}

TEST_CASE("service notify: the watchdog period is half of WATCHDOG_USEC, for this process only") {
  ::setenv("WATCHDOG_USEC", "3000000", 1);
  ::unsetenv("WATCHDOG_PID");
  CHECK(ServiceNotifier().watchdog_period() == std::chrono::milliseconds(1500));
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  CHECK(ServiceNotifier().watchdog_period() == std::chrono::milliseconds(1500));
  ::setenv("WATCHDOG_PID", "1", 1);  // meant for another process
  CHECK_FALSE(ServiceNotifier().watchdog_period());
  ::setenv("WATCHDOG_USEC", "soon", 1);
  ::unsetenv("WATCHDOG_PID");
  CHECK_FALSE(ServiceNotifier().watchdog_period());
  ::unsetenv("WATCHDOG_USEC");
  CHECK_FALSE(ServiceNotifier().watchdog_period());
}
