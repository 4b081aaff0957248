// The reader over every transport, end to end: TCP (device server restart), UDP, polling, the
// in-process simulator, and a pty that disappears and comes back. Loopback only; every wait is
// for an event with a bounded timeout; every thread is joined.

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "reader_events.hpp"
#include "weighlink/scale/encode.hpp"
#include "weighlink/scale/reader.hpp"
#include "weighlink/testing/pty_scale.hpp"

using namespace weighlink::scale;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using weighlink::testing::PtyScale;
using Clock = std::chrono::steady_clock;

namespace {

std::string frame(std::int64_t kg, bool motion = false) {
  DisplayState s{Decimal{kg, 0}, Decimal{0, 0}};
  s.motion = motion;
  return encode_mt_continuous(s, true);
}

using Events = weighlink::scale::test::ReaderEvents;

// A serial device server on 127.0.0.1: streams a frame every 20 ms, or (polled) answers each
// request byte sequence with one frame; one connection at a time, as its one serial port. Asio on
// a thread of its own: every wait is an asynchronous operation, so the destructor closes
// everything on that thread and joins it once nothing is left to do.
class LoopbackIndicator {
 public:
  LoopbackIndicator(std::uint16_t port, std::string poll, std::int64_t weight)
      : poll_(std::move(poll)), weight_(weight) {
    acceptor_.open(asio::ip::tcp::v4());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), port});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    do_accept();
    if (poll_.empty()) do_tick();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~LoopbackIndicator() {
    try {
      asio::post(io_, [this] {
        stopping_ = true;
        acceptor_.close();
        timer_.cancel();
        if (peer_) peer_->close();
      });
      thread_.join();
    } catch (const std::exception& e) {
      std::cerr << "stopping the loopback indicator: " << e.what() << "\n";
    }
  }
  LoopbackIndicator(const LoopbackIndicator&) = delete;
  LoopbackIndicator& operator=(const LoopbackIndicator&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::size_t polls() const { return polls_; }

 private:
  using Socket = asio::ip::tcp::socket;

  void do_accept() {
    if (stopping_) return;
    acceptor_.async_accept([this](const boost::system::error_code& ec, Socket socket) {
      if (ec) return;
      peer_ = std::make_shared<Socket>(std::move(socket));
      got_.clear();
      pending_.clear();
      do_read(peer_);
    });
  }

  void do_read(const std::shared_ptr<Socket>& peer) {
    peer->async_read_some(
        asio::buffer(buf_), [this, peer](const boost::system::error_code& ec, std::size_t n) {
          if (ec) {  // the reader closed the connection: the port is free for the next one
            if (peer_ == peer) peer_.reset();
            do_accept();
            return;
          }
          got_.append(buf_.data(), n);
          if (poll_.empty()) return do_read(peer);
          for (auto at = got_.find(poll_); at != std::string::npos; at = got_.find(poll_)) {
            got_.erase(0, at + poll_.size());
            ++polls_;
            send(frame(weight_));
          }
          do_read(peer);
        });
  }

  // The device's own cadence when it streams; a frame due while the last one is still being
  // written is lost, as on a real line.
  void do_tick() {
    timer_.expires_after(20ms);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      if (!writing_) send(frame(weight_));
      do_tick();
    });
  }

  void send(const std::string& bytes) {
    if (!peer_) return;
    pending_ += bytes;
    if (writing_) return;
    out_ = std::exchange(pending_, {});
    writing_ = true;
    asio::async_write(*peer_, asio::buffer(out_),
                      [this, peer = peer_](const boost::system::error_code& ec, std::size_t) {
                        writing_ = false;
                        if (!ec && peer == peer_ && !pending_.empty()) send({});
                      });
  }

  asio::io_context io_;  // first: destroyed last, after everything that uses it
  asio::ip::tcp::acceptor acceptor_{io_};
  asio::steady_timer timer_{io_};
  std::shared_ptr<Socket> peer_;
  std::array<char, 64> buf_{};
  std::string got_;
  std::string pending_;  // frames waiting for the write under way
  std::string out_;      // the write under way
  bool writing_ = false;
  bool stopping_ = false;
  std::uint16_t port_ = 0;
  std::string poll_;
  std::int64_t weight_;
  std::atomic<std::size_t> polls_{0};
  std::thread thread_;
};

std::uint16_t free_udp_port() {
  asio::io_context io;
  asio::ip::udp::socket s(io, {asio::ip::make_address("127.0.0.1"), 0});
  return s.local_endpoint().port();
}

std::filesystem::path temp_link(const char* name) {
  return std::filesystem::temp_directory_path() /
         (std::string("wl-transport-") + name + "-" + std::to_string(::getpid()));
}

ScaleConfig base_config(SourceSpec source) {
  ScaleConfig c;
  c.protocol = "mt-continuous";
  c.source = std::move(source);
  c.reopen_backoff_initial = 20ms;
  c.reopen_backoff_max = 100ms;
  return c;
}

}  // namespace

TEST_CASE("tcp: readings arrive, and resume after the device server restarts") {
  std::uint16_t port = 0;
  Events events;
  auto server = std::make_unique<LoopbackIndicator>(0, "", 12340);
  port = server->port();
  ScaleReader reader(base_config(TcpSource{"127.0.0.1", port}), events.hooks());
  reader.start();
  REQUIRE(events.wait([&] { return events.fresh_readings() >= 3; }));
  {
    std::lock_guard lock(events.mutex);
    CHECK(events.connections.front().first);
    CHECK(events.connections.front().second == "tcp 127.0.0.1:" + std::to_string(port));
    CHECK(events.readings.front().weight.to_string() == "12340");
  }

  server.reset();  // the device server goes away: connection closed, port refusing
  REQUIRE(events.wait([&] { return events.connections.back().first == false; }));
  // The reader marks the scale stale from inside its reconnect loop (stale_after, 1 s, is ten
  // times the backoff's cap): by then it has met a refused port several times.
  REQUIRE(events.wait([&] { return events.readings.back().stale; }));
  std::size_t before = 0;
  {
    std::lock_guard lock(events.mutex);
    before = events.fresh_readings();
  }
  server = std::make_unique<LoopbackIndicator>(port, "", 12360);
  // How soon is the reopen schedule's business (next_reopen_backoff, tested below).
  REQUIRE(events.wait([&] {
    return events.fresh_readings() > before && events.readings.back().weight.units == 12360;
  }));
  reader.stop();
}

TEST_CASE("tcp: a server that is down at start is connected once it appears") {
  const auto port = [] {
    LoopbackIndicator probe(0, "", 1);
    return probe.port();
  }();
  Events events;
  ScaleReader reader(base_config(TcpSource{"127.0.0.1", port}), events.hooks());
  reader.start();
  REQUIRE(events.wait([&] { return !events.connections.empty(); }));
  {
    std::lock_guard lock(events.mutex);
    CHECK_FALSE(events.connections.front().first);
    CHECK(events.connections.front().second.find("cannot open tcp 127.0.0.1:") !=
          std::string::npos);
  }
  LoopbackIndicator server(port, "", 500);
  REQUIRE(events.wait([&] { return events.fresh_readings() >= 1; }));
  reader.stop();
}

TEST_CASE("tcp: a silent connection is reopened after reopen_after_silence") {
  LoopbackIndicator server(0, "NEVER", 1);  // accepts, never sends
  auto config = base_config(TcpSource{"127.0.0.1", server.port()});
  config.reopen_after_silence = 200ms;
  Events events;
  ScaleReader reader(config, events.hooks());
  reader.start();
  REQUIRE(events.wait([&] {
    for (const auto& [up, detail] : events.connections) {
      if (!up && detail.find("no byte from tcp") != std::string::npos) return true;
    }
    return false;
  }));
  REQUIRE(events.wait([&] { return events.connections.size() >= 3; }));  // and connected again
  reader.stop();
  std::lock_guard lock(events.mutex);
  CHECK(events.connections[2].first);
}

TEST_CASE("polling: over TCP the indicator answers only when asked, and readings arrive") {
  LoopbackIndicator server(0, "W\r", 777);
  auto config = base_config(TcpSource{"127.0.0.1", server.port()});
  config.poll_interval = 50ms;
  config.poll_command = "W\r";
  Events events;
  ScaleReader reader(config, events.hooks());
  reader.start();
  REQUIRE(events.wait([&] { return events.fresh_readings() >= 4; }));
  reader.stop();
  CHECK(server.polls() >= 4);
  std::lock_guard lock(events.mutex);
  CHECK(events.readings.front().weight.to_string() == "777");
}

TEST_CASE("polling: over a pty the request is written at the interval") {
  PtyScale pty(temp_link("poll"));
  auto config = base_config(SerialSource{pty.path(), {}});
  config.poll_interval = 100ms;
  config.poll_command = "\x05";
  Events events;
  ScaleReader reader(config, events.hooks());
  reader.start();
  int answered = 0;
  const auto deadline = Clock::now() + 5s;
  std::string got;
  while (answered < 3 && Clock::now() < deadline) {
    got += pty.read(200ms);
    for (auto at = got.find('\x05'); at != std::string::npos; at = got.find('\x05')) {
      got.erase(0, at + 1);
      pty.write(frame(4000 + answered));
      ++answered;
    }
  }
  REQUIRE(answered == 3);
  REQUIRE(events.wait([&] { return events.fresh_readings() >= 3; }));
  reader.stop();
  std::lock_guard lock(events.mutex);
  CHECK(events.readings[0].weight.to_string() == "4000");
  CHECK(events.readings[2].weight.to_string() == "4002");
}

TEST_CASE("polling: a polled scale with nothing to send is reported, not left silent") {
  auto config = base_config(SimSource{"static"});
  config.protocol = "mt-continuous";  // streams: no usual request
  config.poll_interval = 100ms;
  Events events;
  ScaleReader reader(config, events.hooks());
  const auto first = events.first_connection(reader);
  REQUIRE(first);
  CHECK_FALSE(first->first);
  CHECK(first->second.find("set poll_command") != std::string::npos);
}

TEST_CASE("udp: datagrams on loopback are decoded, split across datagrams too") {
  const auto port = free_udp_port();
  auto config = base_config(UdpSource{"127.0.0.1", port});
  Events events;
  ScaleReader reader(config, events.hooks());
  reader.start();
  REQUIRE(events.wait([&] { return !events.connections.empty(); }));
  {
    std::lock_guard lock(events.mutex);
    REQUIRE_MESSAGE(events.connections[0].first, events.connections[0].second);
    CHECK(events.connections[0].second == "udp 127.0.0.1:" + std::to_string(port));
  }
  asio::io_context io;
  asio::ip::udp::socket sender(io, asio::ip::udp::v4());
  const asio::ip::udp::endpoint to(asio::ip::make_address("127.0.0.1"), port);
  const std::string a = frame(5550);
  const std::string b = frame(5560);
  sender.send_to(asio::buffer(a), to);
  sender.send_to(asio::buffer(b.substr(0, 7)), to);
  sender.send_to(asio::buffer(b.substr(7)), to);
  REQUIRE(events.wait([&] { return events.fresh_readings() >= 2; }));
  reader.stop();
  std::lock_guard lock(events.mutex);
  CHECK(events.readings[0].weight.to_string() == "5550");
  CHECK(events.readings[1].weight.to_string() == "5560");
}

TEST_CASE("sim: the in-process indicator streams real frames through the parser") {
  auto config = base_config(*parse_source("sim:static?rate=100"));
  Events events;
  ScaleReader reader(config, events.hooks());
  reader.start();
  REQUIRE(events.wait([&] { return events.fresh_readings() >= 5; }));
  reader.stop();
  std::lock_guard lock(events.mutex);
  CHECK(events.connections[0].second.find("sim static mt-continuous") != std::string::npos);
  CHECK(events.readings[0].weight.to_string() == "32540");
  CHECK(events.readings[0].stable);
  CHECK(reader.stats().bad_frames == 0);

  // A multi-deck indicator: per-deck weights in one reading per frame.
  auto decks = base_config(*parse_source("sim:static?rate=100&decks=2&weight=30000"));
  decks.protocol = "zm";
  Events deck_events;
  ScaleReader deck_reader(decks, deck_events.hooks());
  deck_reader.start();
  REQUIRE(deck_events.wait([&] { return deck_events.fresh_readings() >= 3; }));
  deck_reader.stop();
  {
    std::lock_guard deck_lock(deck_events.mutex);
    const auto& r = deck_events.readings.back();
    CHECK(r.weight.to_string() == "30000");
    CHECK(r.decks.size() == 2);
  }

  ScaleConfig bad = base_config(SimSource{"no-such-profile"});
  Events bad_events;
  ScaleReader bad_reader(bad, bad_events.hooks());
  const auto first = bad_events.first_connection(bad_reader);
  REQUIRE(first);
  CHECK_FALSE(first->first);
  CHECK(first->second.find("unknown sim profile 'no-such-profile'") != std::string::npos);
}

TEST_CASE("reopen backoff: doubles from the initial wait and never exceeds the maximum") {
  ScaleConfig config;
  config.reopen_backoff_initial = 250ms;
  config.reopen_backoff_max = 1000ms;
  auto wait = config.reopen_backoff_initial;
  std::vector<std::chrono::milliseconds> waits;
  for (int i = 0; i < 6; ++i) {
    wait = next_reopen_backoff(wait, config);
    waits.push_back(wait);
  }
  CHECK(waits ==
        std::vector<std::chrono::milliseconds>{500ms, 1000ms, 1000ms, 1000ms, 1000ms, 1000ms});
}

TEST_CASE("serial: a device that disappears and comes back is read again") {
  const auto link = temp_link("replug");
  ScaleConfig config;  // default backoff: what a site gets
  config.protocol = "mt-continuous";
  config.source = SerialSource{link.string(), {}};
  config.stale_after = 300ms;
  Events events;
  auto pty = std::make_unique<PtyScale>(link);
  ScaleReader reader(config, events.hooks());
  reader.start();
  pty->write(frame(1000));
  REQUIRE(events.wait([&] { return events.fresh_readings() >= 1; }));

  pty.reset();  // unplugged: the device and its link are gone
  // Stale: the reader is in its reopen loop (how its waits grow to the cap is
  // next_reopen_backoff's, tested above; nothing here waits for time to pass).
  REQUIRE(events.wait([&] { return events.readings.back().stale; }));

  pty = std::make_unique<PtyScale>(link);  // plugged back in (a new device behind the link)
  const auto back = Clock::now();
  // Keep sending like a streaming indicator until the reader picks it up.
  bool resumed = false;
  while (!resumed && Clock::now() - back < 5s) {
    pty->write(frame(1020));
    resumed = events.wait(
        [&] {
          return !events.readings.back().stale && events.readings.back().weight.units == 1020;
        },
        50ms);
  }
  REQUIRE(resumed);
  reader.stop();
}

TEST_CASE("serial: the indicator's motion flag is kept by the reader") {
  // Never stable in motion, stable at once when the indicator says so (no software window).
  PtyScale pty(temp_link("flag"));
  auto config = base_config(SerialSource{pty.path(), {}});
  Events events;
  ScaleReader reader(config, events.hooks());
  reader.start();
  pty.write(frame(3000, true) + frame(3000, false));
  REQUIRE(events.wait([&] { return events.fresh_readings() >= 2; }));
  reader.stop();
  std::lock_guard lock(events.mutex);
  CHECK_FALSE(events.readings[0].stable);
  CHECK(events.readings[1].stable);
  CHECK(events.readings[1].stable_source == StableSource::indicator);
}

TEST_CASE("reader: software stability for a format with no motion flag, end to end") {
  // xk3190-tf0 frames carry no motion flag: the reader's window decides.
  PtyScale pty(temp_link("software"));
  auto config = base_config(SerialSource{pty.path(), {}});
  config.protocol = "xk3190-tf0";
  config.stability.time = 300ms;
  Events events;
  ScaleReader reader(config, events.hooks());
  reader.start();
  REQUIRE(events.wait([&] { return !events.connections.empty(); }));
  DisplayState s{Decimal{4560, 0}, Decimal{0, 0}};
  const auto frame_bytes = *encode_frame("xk3190-tf0", s);
  const auto started = Clock::now();
  bool stable = false;
  while (!stable && Clock::now() - started < 5s) {
    pty.write(frame_bytes);
    stable = events.wait([&] { return !events.readings.empty() && events.readings.back().stable; },
                         40ms);
  }
  REQUIRE(stable);
  {
    // Never before the window was watched for `time`, by the readings' own timestamps.
    std::lock_guard lock(events.mutex);
    const auto first_stable = std::find_if(events.readings.begin(), events.readings.end(),
                                           [](const auto& r) { return r.stable; });
    REQUIRE(first_stable != events.readings.end());
    CHECK(first_stable->ts - events.readings.front().ts >= 300ms);
  }
  // A jump of two divisions is motion at once.
  s.weight = Decimal{4562, 0};
  pty.write(*encode_frame("xk3190-tf0", s));
  REQUIRE(events.wait([&] { return events.readings.back().weight.units == 4562; }));
  reader.stop();
  std::lock_guard lock(events.mutex);
  CHECK_FALSE(events.readings.front().stable);
  CHECK(events.readings.front().stable_source == StableSource::software);
  CHECK_FALSE(events.readings.back().stable);
}

TEST_CASE("serial: the symlink removed and pointed at a new device is followed on reopen") {
  const auto link = temp_link("relink");
  auto first = std::make_unique<PtyScale>(link);
  auto config = base_config(SerialSource{link.string(), {}});
  Events events;
  ScaleReader reader(config, events.hooks());
  reader.start();
  first->write(frame(100));
  REQUIRE(events.wait([&] { return events.fresh_readings() >= 1; }));
  // udev removes the by-id link and the device, then makes a new device with the same link.
  std::filesystem::remove(link);
  first.reset();
  PtyScale second(link);
  bool resumed = false;
  const auto back = Clock::now();
  while (!resumed && Clock::now() - back < 5s) {
    second.write(frame(200));
    resumed = events.wait([&] { return events.readings.back().weight.units == 200; }, 50ms);
  }
  reader.stop();
  CHECK(resumed);
}
