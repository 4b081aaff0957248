// Transport tests on a real pseudo-terminal: the termios path through a symlink, and the reader
// thread end to end. Kept fast: every wait is for an event, bounded by a generous timeout.

#include <doctest/doctest.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "reader_events.hpp"
#include "weighlink/scale/encode.hpp"
#include "weighlink/scale/reader.hpp"
#include "weighlink/scale/source.hpp"
#include "weighlink/testing/pty_scale.hpp"

using namespace weighlink::scale;
using namespace std::chrono_literals;
using weighlink::testing::PtyScale;

namespace {

std::filesystem::path temp_link(const char* name) {
  return std::filesystem::temp_directory_path() /
         (std::string("wl-scale-") + name + "-" + std::to_string(::getpid()));
}

std::string read_at_least(ByteSource& source, std::size_t n) {
  std::string got;
  std::array<char, 256> buf{};
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
    const auto r = source.read(buf, 50ms);
    REQUIRE(r.has_value());
    got.append(buf.data(), *r);
  }
  return got;
}

using Events = weighlink::scale::test::ReaderEvents;

}  // namespace

TEST_CASE("serial: a pty behind a symlink opens through termios and carries bytes both ways") {
  PtyScale pty(temp_link("link"));
  CHECK(std::filesystem::is_symlink(pty.path()));
  auto opened = open_serial(SerialSource{pty.path(), {}});
  REQUIRE_MESSAGE(opened.has_value(), opened.error().message());
  auto& source = **opened;
  CHECK(source.describe().find("9600 8N1") != std::string::npos);

  // Every byte value, CR and LF included, must arrive untouched (raw mode, no line discipline).
  std::string frame = encode_mt_continuous(DisplayState{Decimal{32540, 0}, Decimal{0, 0}}, true);
  for (int b = 0; b < 256; ++b) frame.push_back(static_cast<char>(b));
  pty.write(frame);
  CHECK(read_at_least(source, frame.size()) == frame);

  REQUIRE(source.write("W\r").has_value());
  CHECK(pty.read(2s) == "W\r");

  std::array<char, 16> buf{};
  const auto idle = source.read(buf, 10ms);
  REQUIRE(idle.has_value());
  CHECK(*idle == 0);
}

TEST_CASE("serial: opening a missing device fails with ENOENT") {
  auto opened = open_serial(SerialSource{"/dev/wl-no-such-port", {}});
  REQUIRE_FALSE(opened.has_value());
  CHECK(opened.error() == boost::system::errc::no_such_file_or_directory);
}

TEST_CASE("serial: settings that termios cannot express are refused") {
  PtyScale pty;
  SerialSource s{pty.path(), {}};
  s.settings.baud = 12345;
  CHECK_FALSE(open_serial(s).has_value());
  s.settings = SerialSettings{19200, Parity::even, 7, 2, FlowControl::xonxoff};
  CHECK(open_serial(s).has_value());
}

TEST_CASE("reader: readings are stamped in order, then repeated once as stale") {
  PtyScale pty(temp_link("reader"));
  ScaleConfig config;
  config.id = "deck-a";
  config.protocol = "mt-continuous";
  config.source = SerialSource{pty.path(), {}};
  config.stale_after = 300ms;
  Events events;
  ScaleReader reader(config, events.hooks());
  reader.start();
  REQUIRE(events.wait([&] { return !events.connections.empty(); }));
  CHECK(events.connections.front().first);

  DisplayState s{Decimal{32540, 0}, Decimal{0, 0}};
  std::string bytes = encode_mt_continuous(s, true);
  s.weight = Decimal{32560, 0};
  s.motion = true;
  bytes += encode_mt_continuous(s, true);
  pty.write(bytes);
  REQUIRE(events.wait([&] { return events.readings.size() >= 3; }));
  reader.stop();

  std::lock_guard lock(events.mutex);
  REQUIRE(events.readings.size() == 3);
  const auto& a = events.readings[0];
  const auto& b = events.readings[1];
  const auto& stale = events.readings[2];
  CHECK(a.scale == "deck-a");
  CHECK(a.seq == 1);
  CHECK(a.weight.to_string() == "32540");
  CHECK(a.stable);
  CHECK(b.seq == 2);
  CHECK(b.weight.to_string() == "32560");
  CHECK_FALSE(b.stable);
  CHECK(stale.seq == 3);
  CHECK(stale.stale);
  CHECK_FALSE(stale.stable);
  CHECK(stale.weight.to_string() == "32560");
  CHECK(stale.ts >= b.ts);
  CHECK(a.ts.time_since_epoch().count() != 0);
  CHECK(reader.stats().frames == 2);
  CHECK(reader.stats().bad_frames == 0);
}

TEST_CASE("reader: a missing port is reported, retried, and picked up when it appears") {
  const auto link = temp_link("late");
  std::filesystem::remove(link);
  ScaleConfig config;
  config.protocol = "sma";
  config.source = SerialSource{link.string(), {}};
  config.reopen_backoff_initial = 10ms;
  config.reopen_backoff_max = 40ms;
  Events events;
  ScaleReader reader(config, events.hooks());
  reader.start();
  REQUIRE(events.wait([&] { return !events.connections.empty(); }));
  {
    std::lock_guard lock(events.mutex);
    CHECK_FALSE(events.connections.front().first);
    CHECK(events.connections.front().second.find(link.string()) != std::string::npos);
  }
  PtyScale pty(link);
  REQUIRE(events.wait([&] { return events.connections.back().first; }));
  pty.write("\n 1G       7.650kg \r");
  REQUIRE(events.wait([&] { return !events.readings.empty(); }));
  reader.stop();
  std::lock_guard lock(events.mutex);
  CHECK(events.readings[0].weight.to_string() == "7.650");
  CHECK(events.readings[0].scale == "main");
}

TEST_CASE("reader: an unknown protocol is reported, not faked") {
  ScaleConfig config;
  config.protocol = "no-such-protocol";
  config.source = TcpSource{"127.0.0.1", 4196};
  Events events;
  ScaleReader reader(config, events.hooks());
  const auto first = events.first_connection(reader);
  REQUIRE(first);
  CHECK_FALSE(first->first);
  CHECK(first->second.find("unknown protocol 'no-such-protocol'") != std::string::npos);
  std::lock_guard lock(events.mutex);
  CHECK(events.readings.empty());
}

TEST_CASE("reader: an unplugged port is reported lost and the scale goes stale") {
  ScaleConfig config;
  config.protocol = "mt-continuous";
  config.stale_after = 200ms;
  config.reopen_backoff_initial = 10ms;
  config.reopen_backoff_max = 20ms;
  Events events;
  auto pty = std::make_unique<PtyScale>(temp_link("unplug"));
  config.source = SerialSource{pty->path(), {}};
  ScaleReader reader(config, events.hooks());
  reader.start();
  REQUIRE(events.wait([&] { return !events.connections.empty(); }));
  pty->write(encode_mt_continuous(DisplayState{Decimal{1000, 0}, Decimal{0, 0}}, false));
  pty->write(encode_mt_continuous(DisplayState{Decimal{1020, 0}, Decimal{0, 0}}, false));
  REQUIRE(events.wait([&] { return !events.readings.empty(); }));
  pty.reset();  // unplug: both ends close, the device disappears
  REQUIRE(events.wait([&] {
    return events.connections.size() >= 2 && !events.connections[1].first &&
           !events.readings.empty() && events.readings.back().stale;
  }));
  reader.stop();
  std::lock_guard lock(events.mutex);
  CHECK(events.readings.back().weight.to_string() == "1020");
  CHECK_FALSE(events.readings.back().stable);
}
