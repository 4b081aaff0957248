// ScaleReader on an io_context's thread (issue 21): a serial port read by the io_context itself,
// on a real pseudo-terminal. Every wait is for an event, bounded by a generous timeout.

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <future>
#include <thread>

#include "reader_events.hpp"
#include "weighlink/scale/encode.hpp"
#include "weighlink/scale/reader.hpp"
#include "weighlink/testing/pty_scale.hpp"

using namespace weighlink::scale;
using namespace std::chrono_literals;
using weighlink::testing::PtyScale;

namespace {

using Events = weighlink::scale::test::ReaderEvents;

std::filesystem::path temp_link(const char* name) {
  return std::filesystem::temp_directory_path() /
         (std::string("wl-scale-io-") + name + "-" + std::to_string(::getpid()));
}

// An io_context run by a thread of its own, as the agent's io thread runs it.
struct IoThread {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread{[this] { io.run(); }};
  ~IoThread() {
    work.reset();
    io.stop();
    thread.join();
  }
};

ScaleConfig serial_config(const std::string& path, const char* protocol) {
  ScaleConfig config;
  config.id = "deck-a";
  config.protocol = protocol;
  config.source = SerialSource{path, {}};
  config.reopen_backoff_initial = 10ms;
  config.reopen_backoff_max = 20ms;
  return config;
}

std::string mt_frame(std::int64_t weight, bool motion = false) {
  DisplayState s{Decimal{weight, 0}, Decimal{0, 0}};
  s.motion = motion;
  return encode_mt_continuous(s, true);
}

}  // namespace

TEST_CASE(
    "reader: serial ports are read on the io thread, other sources on a thread of their own") {
  CHECK(reads_on_io_thread(SerialSource{"/dev/ttyUSB0", {}}));
  CHECK_FALSE(reads_on_io_thread(TcpSource{"127.0.0.1", 4001}));
  CHECK_FALSE(reads_on_io_thread(UdpSource{}));
  CHECK_FALSE(reads_on_io_thread(SimSource{"static"}));
  boost::asio::io_context io;
  Events events;
  CHECK(ScaleReader(serial_config("/dev/ttyUSB0", "sma"), events.hooks(), io).on_io_thread());
  ScaleConfig tcp;
  tcp.source = TcpSource{"127.0.0.1", 4001};
  CHECK_FALSE(ScaleReader(tcp, events.hooks(), io).on_io_thread());
  CHECK_FALSE(ScaleReader(serial_config("/dev/ttyUSB0", "sma"), events.hooks()).on_io_thread());
}

TEST_CASE("reader on the io thread: readings stamped in order on that thread, then stale once") {
  PtyScale pty(temp_link("order"));
  auto config = serial_config(pty.path(), "mt-continuous");
  config.stale_after = 300ms;
  Events events;
  IoThread io;
  std::atomic<bool> off_thread{false};
  auto hooks = events.hooks();
  auto on_reading = hooks.on_reading;
  hooks.on_reading = [&](const Reading& r) {
    if (std::this_thread::get_id() != io.thread.get_id()) off_thread = true;
    on_reading(r);
  };
  ScaleReader reader(config, hooks, io.io);
  REQUIRE(reader.on_io_thread());
  reader.start();
  REQUIRE(events.wait([&] { return !events.connections.empty(); }));
  CHECK(events.connections.front().first);

  pty.write(mt_frame(32540) + mt_frame(32560, true));
  REQUIRE(events.wait([&] { return events.readings.size() >= 3; }));
  reader.stop();

  std::lock_guard lock(events.mutex);
  REQUIRE(events.readings.size() == 3);
  CHECK_FALSE(off_thread);
  CHECK(events.readings[0].seq == 1);
  CHECK(events.readings[0].weight.to_string() == "32540");
  CHECK(events.readings[0].stable);
  CHECK(events.readings[1].seq == 2);
  CHECK_FALSE(events.readings[1].stable);
  const auto& stale = events.readings[2];
  CHECK(stale.seq == 3);
  CHECK(stale.stale);
  CHECK_FALSE(stale.stable);
  CHECK(stale.weight.to_string() == "32560");
  CHECK(reader.stats().frames == 2);
  // A port with nothing to read is not a lost port: one connection event, no reopening.
  CHECK(events.connections.size() == 1);
}

TEST_CASE(
    "reader on the io thread: an unplugged pty goes lost and stale, and is read again when "
    "it comes back") {
  const auto link = temp_link("replug");
  auto config = serial_config(link.string(), "mt-continuous");
  config.stale_after = 200ms;
  auto pty = std::make_unique<PtyScale>(link);
  Events events;
  IoThread io;
  ScaleReader reader(config, events.hooks(), io.io);
  reader.start();
  REQUIRE(events.wait([&] { return !events.connections.empty(); }));
  pty->write(mt_frame(1000) + mt_frame(1020));
  REQUIRE(events.wait([&] { return events.fresh_readings() >= 2; }));

  pty.reset();  // unplug: both ends close, the device disappears
  REQUIRE(events.wait([&] {
    return events.connections.size() >= 2 && !events.connections[1].first &&
           !events.readings.empty() && events.readings.back().stale;
  }));
  {
    std::lock_guard lock(events.mutex);
    CHECK(events.readings.back().weight.to_string() == "1020");
    CHECK(events.connections[1].second.find("lost") != std::string::npos);
  }

  pty = std::make_unique<PtyScale>(link);  // replugged under the same name
  REQUIRE(events.wait([&] { return events.connections.back().first; }));
  pty->write(mt_frame(2040));
  REQUIRE(events.wait([&] {
    return !events.readings.empty() && !events.readings.back().stale &&
           events.readings.back().weight.to_string() == "2040";
  }));
  reader.stop();
  std::lock_guard lock(events.mutex);
  CHECK(events.readings.back().seq == events.readings.size());  // one sequence across reopens
}

TEST_CASE("reader on the io thread: a polled indicator is asked at its interval and answered") {
  PtyScale pty(temp_link("poll"));
  auto config = serial_config(pty.path(), "sma");
  config.poll_interval = std::chrono::milliseconds(20);
  Events events;
  IoThread io;
  ScaleReader reader(config, events.hooks(), io.io);
  reader.start();
  // The first request goes out on connect, the next ones from the timer.
  std::string asked;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (asked.size() < 3 * 3 && std::chrono::steady_clock::now() < deadline) {
    asked += pty.read(1s);
  }
  REQUIRE(asked.size() >= 9);
  CHECK(asked.substr(0, 9) == "\nW\r\nW\r\nW\r");
  pty.write("\n 1G       7.650kg \r");
  REQUIRE(events.wait([&] { return events.fresh_readings() >= 1; }));
  reader.stop();
  std::lock_guard lock(events.mutex);
  CHECK(events.readings.front().weight.to_string() == "7.650");
  CHECK(events.connections.front().first);
}

TEST_CASE(
    "reader on the io thread: a poll request the port does not take never holds up the readings") {
  PtyScale pty(temp_link("stuck"));
  auto config = serial_config(pty.path(), "sma");
  config.poll_interval = std::chrono::milliseconds(20);
  // Far more than the pseudo-terminal buffers while nobody reads its other end: the port takes
  // the request no faster than a port held by flow control would.
  config.poll_command = std::string(1 << 20, 'W');
  Events events;
  IoThread io;
  ScaleReader reader(config, events.hooks(), io.io);
  reader.start();
  REQUIRE(events.wait([&] { return !events.connections.empty(); }));
  pty.write("\n 1G       7.650kg \r");
  REQUIRE(events.wait([&] { return events.fresh_readings() >= 1; }));
  // The request still not taken: the connection is dropped and opened again, as a blocking write
  // that timed out would.
  REQUIRE(events.wait([&] {
    for (const auto& [connected, detail] : events.connections) {
      if (!connected && detail.find("sending the poll request") != std::string::npos) return true;
    }
    return false;
  }));
  reader.stop();
  std::lock_guard lock(events.mutex);
  CHECK(events.readings.front().weight.to_string() == "7.650");
}

TEST_CASE("reader on the io thread: stop() from another thread ends the callbacks") {
  PtyScale pty(temp_link("stop"));
  Events events;
  IoThread io;
  auto reader = std::make_unique<ScaleReader>(serial_config(pty.path(), "mt-continuous"),
                                              events.hooks(), io.io);
  reader->start();
  pty.write(mt_frame(500));
  REQUIRE(events.wait([&] { return events.fresh_readings() >= 1; }));
  reader.reset();  // stops (waiting for the io thread) and is gone
  // The io thread carries on; anything the reader left behind runs without it.
  pty.write(mt_frame(600));
  std::promise<void> ran;
  boost::asio::post(io.io, [&] { ran.set_value(); });
  CHECK(ran.get_future().wait_for(5s) == std::future_status::ready);
  std::lock_guard lock(events.mutex);
  CHECK(events.fresh_readings() == 1);
}
