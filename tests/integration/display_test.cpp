// Remote displays (docs/devices.md, "Remote display") on real parts: the real weighlink-agent
// reading a pty indicator and repeating its weight to a display on another pty or on a loopback
// TCP listener; what the display receives is decoded by weighlink's own parsers.
#include <doctest/doctest.h>
#include <fcntl.h>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "agent_fixture.hpp"
#include "weighlink/scale/parser.hpp"

namespace json = boost::json;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace weighlink::testing;
using weighlink::scale::Decimal;
using weighlink::scale::Reading;

namespace {

constexpr auto kWait = 10s;

Decimal dec(const char* text) { return *Decimal::parse(text); }

// The agent's configuration: scale `main` on `indicator`, then the `displays` YAML lines.
std::string display_config(const std::string& indicator, const std::string& displays) {
  return "scales:\n"
         "  - {id: main, source: 'serial:" +
         indicator +
         "', protocol: mt-continuous, stale_after_ms: 400}\n"
         "displays:\n" +
         displays;
}

// A display's entry in GET /v1/status "devices" (fails the test when it is not there).
json::object device(const std::string& http, const std::string& id) {
  const auto status = json::parse(http_request(http, "GET", "/v1/status").body).as_object();
  for (const auto& d : status.at("devices").as_array()) {
    if (d.at("id") == json::value(id)) return d.as_object();
  }
  FAIL("no device " << id << " in /v1/status");
  return {};
}

bool state_is(const std::string& http, const std::string& id, const char* state) {
  return device(http, id).at("state") == json::value(state);
}

// Decodes what a display receives with weighlink's own parser for its protocol.
class DisplayDecoder {
 public:
  explicit DisplayDecoder(const std::string& protocol)
      : parser_(weighlink::scale::make_parser(protocol)) {
    REQUIRE(parser_);
  }
  // Feeds bytes; true when a decoded reading satisfies `pred` (readings before it are dropped).
  bool feed(std::string_view bytes, const std::function<bool(const Reading&)>& pred) {
    parser_->put(bytes, pending_);
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (pred(*it)) {
        pending_.erase(pending_.begin(), it + 1);
        return true;
      }
    }
    pending_.clear();
    return false;
  }

 private:
  std::unique_ptr<weighlink::scale::Parser> parser_;
  std::vector<Reading> pending_;
};

// Reads the display pty until a decoded reading satisfies `pred`.
bool shows(PtyScale& display, DisplayDecoder& decoder,
           const std::function<bool(const Reading&)>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (decoder.feed(display.read(200ms), pred)) return true;
  }
  return false;
}

bool weight_is(const Reading& r, const char* weight, bool stable) {
  return r.weight == dec(weight) && r.stable == stable && !r.overload && !r.stale;
}

// A display's TCP listener on loopback: accepts the agent, reads what it sends, closes.
class TcpDisplay {
 public:
  explicit TcpDisplay(std::uint16_t port = 0) { listen(port); }
  void listen(std::uint16_t port) {
    acceptor_.open(asio::ip::tcp::v4());
    // Not inherited by the agent the test starts (Asio leaves FD_CLOEXEC off): the agent would
    // hold the port open after the display closed it.
    ::fcntl(acceptor_.native_handle(), F_SETFD, FD_CLOEXEC);
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), port});
    acceptor_.listen();
    acceptor_.non_blocking(true);
  }
  [[nodiscard]] std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  bool accept() {
    return eventually(
        [&] {
          boost::system::error_code ec;
          socket_ = acceptor_.accept(ec);
          if (!ec) socket_.non_blocking(true);
          return !ec;
        },
        kWait);
  }
  bool shows(DisplayDecoder& decoder, const std::function<bool(const Reading&)>& pred) {
    return eventually(
        [&] {
          char buf[512];
          boost::system::error_code ec;
          const auto n = socket_.read_some(asio::buffer(buf), ec);
          return n > 0 && decoder.feed(std::string_view(buf, n), pred);
        },
        kWait, 20ms);
  }
  // The display goes away: its connection and its listener closed.
  void close() {
    boost::system::error_code ec;
    socket_.close(ec);
    acceptor_.close(ec);
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_{io_};
  asio::ip::tcp::socket socket_{io_};
};

}  // namespace

TEST_CASE(
    "display: a display on a pty repeats the indicator's exact weights and motion, in its "
    "own protocol, and shows stale when the indicator stops") {
  TempDir dir;
  PtyScale indicator;
  PtyScale toledo;
  PtyScale sma;
  StreamingScale stream(indicator, mt_frame("18.25"));
  AgentProcess agent(
      dir, {},
      display_config(indicator.path(),
                     "  - {id: yard, transport: serial, port: '" + toledo.path() +
                         "', protocol: mt-continuous, scale: main, interval_ms: 100}\n"
                         "  - {id: gate, transport: serial, port: '" +
                         sma.path() + "', baud: 9600, format: 8N1, protocol: sma}\n"));

  DisplayDecoder toledo_frames("mt-continuous");
  DisplayDecoder sma_frames("sma");
  CHECK(shows(toledo, toledo_frames, [](const Reading& r) { return weight_is(r, "18.25", true); }));
  CHECK(shows(sma, sma_frames, [](const Reading& r) { return weight_is(r, "18.25", true); }));

  stream.set(mt_frame("18.40", /*motion=*/true));
  CHECK(
      shows(toledo, toledo_frames, [](const Reading& r) { return weight_is(r, "18.40", false); }));
  CHECK(shows(sma, sma_frames, [](const Reading& r) { return weight_is(r, "18.40", false); }));

  // The indicator falls silent: Toledo's status bits say out of range with motion, never a
  // weight to take; SMA's frame is dashes with its over-range status.
  stream.pause();
  CHECK(shows(toledo, toledo_frames, [](const Reading& r) { return r.overload && !r.stable; }));
  CHECK(shows(sma, sma_frames, [](const Reading& r) { return r.overload && !r.stable; }));
  const auto yard = device(agent.http, "yard");
  CHECK(yard.at("state") == "ok");
  CHECK(yard.at("kind") == "display");
  CHECK(yard.at("stale_shown_by") == "status_frame");
  CHECK(yard.at("frames").as_int64() > 0);
  // And the weight comes back when the indicator does.
  stream.set(mt_frame("18.25"));
  CHECK(shows(toledo, toledo_frames, [](const Reading& r) { return weight_is(r, "18.25", true); }));
  const auto metrics = http_request(agent.http, "GET", "/metrics").body;
  CHECK(metrics.find("weighlink_device_up{device=\"yard\",kind=\"display\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("weighlink_display_frames_total{device=\"gate\"}") != std::string::npos);
}

TEST_CASE(
    "display: absent at start it is offline with the error, and comes up with frames once "
    "its port appears") {
  TempDir dir;
  PtyScale indicator;
  StreamingScale stream(indicator, mt_frame("5120"));
  const auto port = dir / "display";
  AgentProcess agent(
      dir, {},
      display_config(indicator.path(),
                     "  - {id: yard, transport: serial, port: '" + port.string() +
                         "', protocol: mt-continuous, reopen_backoff_max_ms: 300}\n"));
  // Offline from the start ("not opened yet"), then offline with the open's error naming the port.
  CHECK(eventually(
      [&] {
        const auto offline = device(agent.http, "yard");
        return offline.at("state").as_string() == "offline" &&
               offline.at("detail").as_string().find(port.string()) != json::string::npos;
      },
      kWait));
  // Captures go on without the display.
  CHECK(post_json(agent.http, "/v1/captures", "k-absent", R"({"operator":"op-1"})").status == 202);

  PtyScale display(port);  // plugged in
  CHECK(eventually([&] { return state_is(agent.http, "yard", "ok"); }, kWait));
  DisplayDecoder frames("mt-continuous");
  CHECK(shows(display, frames, [](const Reading& r) { return weight_is(r, "5120", true); }));
}

TEST_CASE("display: a TCP display that closes is offline, and reconnected when it listens again") {
  TempDir dir;
  PtyScale indicator;
  StreamingScale stream(indicator, mt_frame("7400"));
  auto display = std::make_unique<TcpDisplay>();
  const auto port = display->port();
  AgentProcess agent(
      dir, {},
      display_config(indicator.path(),
                     "  - {id: board, transport: tcp, address: '127.0.0.1:" + std::to_string(port) +
                         "', protocol: mt-continuous, reopen_backoff_max_ms: 300}\n"));
  REQUIRE(display->accept());
  DisplayDecoder frames("mt-continuous");
  CHECK(display->shows(frames, [](const Reading& r) { return weight_is(r, "7400", true); }));

  display->close();
  display.reset();
  CHECK(eventually([&] { return state_is(agent.http, "board", "offline"); }, kWait));

  stream.set(mt_frame("7460", /*motion=*/true));
  display = std::make_unique<TcpDisplay>(port);
  REQUIRE(display->accept());
  CHECK(eventually([&] { return state_is(agent.http, "board", "ok"); }, kWait));
  DisplayDecoder again("mt-continuous");
  CHECK(display->shows(again, [](const Reading& r) { return weight_is(r, "7460", false); }));
}
