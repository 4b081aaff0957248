// A udp scale source takes datagrams from its configured sender only (issue 15, item 8): frames
// from another address (127.0.0.2 and 127.0.0.3, which Linux routes on loopback) are dropped and
// counted with one log line per sender, and never become readings.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_fixture.hpp"

using namespace weighlink::testing;

namespace {

// A UDP socket bound to `from` (port 0) sending to 127.0.0.1:`port`.
class UdpSender {
 public:
  UdpSender(const std::string& from, unsigned short port) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, from.c_str(), &local.sin_addr);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
    to_.sin_family = AF_INET;
    to_.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &to_.sin_addr);
  }
  ~UdpSender() { ::close(fd_); }
  UdpSender(const UdpSender&) = delete;
  UdpSender& operator=(const UdpSender&) = delete;
  void send(const std::string& bytes) const {
    REQUIRE(::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to_),
                     sizeof to_) == static_cast<ssize_t>(bytes.size()));
  }

 private:
  int fd_ = -1;
  sockaddr_in to_{};
};

}  // namespace

TEST_CASE("udp source: datagrams from the configured sender only; others dropped and counted") {
  TempDir dir("wl-udp-source");
  const auto port = split_host_port(free_loopback_address()).second;
  const std::string source = "udp:127.0.0.1:" + std::to_string(port) + "?from=127.0.0.1";
  AgentProcess agent(dir, {"--scale-source", source});
  WsClient ws(agent.http, "/v1/live");
  read_until(ws, [](const auto& m) { return m.at("type").as_string() == "hello"; });

  UdpSender stranger(std::string("127.0.0.2"), port);
  UdpSender other(std::string("127.0.0.3"), port);
  UdpSender indicator(std::string("127.0.0.1"), port);
  for (int i = 0; i < 5; ++i) stranger.send(mt_frame("1111"));
  other.send(mt_frame("3333"));
  // The second stranger's line counts every datagram dropped before it: the first one's five.
  REQUIRE(eventually(
      [&] {
        return agent.process->log().find("dropped a datagram from 127.0.0.3") != std::string::npos;
      },
      std::chrono::seconds(10)));
  const auto log = agent.process->log();
  INFO(log);
  CHECK(log.find("dropped a datagram from 127.0.0.2, not the configured sender 127.0.0.1 "
                 "(1 dropped so far)") != std::string::npos);
  CHECK(log.find("dropped a datagram from 127.0.0.3, not the configured sender 127.0.0.1 "
                 "(6 dropped so far)") != std::string::npos);
  // One line per sender, not one per datagram.
  CHECK(log.find("from 127.0.0.2,") == log.rfind("from 127.0.0.2,"));

  // The indicator's frames are decoded; none of the strangers' weights ever shows.
  bool saw_stranger = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::optional<boost::json::object> reading;
  while (!reading && std::chrono::steady_clock::now() < deadline) {
    indicator.send(mt_frame("2222"));
    auto msg = ws.read(std::chrono::milliseconds(200));
    if (!msg) continue;
    auto v = boost::json::parse(*msg).as_object();
    if (v.at("type").as_string() != "reading") continue;
    const std::string weight(v.at("weight").as_string());
    saw_stranger = saw_stranger || weight == "1111" || weight == "3333";
    if (weight == "2222") reading = v;
  }
  REQUIRE(reading.has_value());
  CHECK_FALSE(saw_stranger);
}

TEST_CASE("udp source: udp:PORT binds loopback only") {
  TempDir dir("wl-udp-loopback");
  const auto port = split_host_port(free_loopback_address()).second;
  AgentProcess agent(dir, {"--scale-source", "udp:" + std::to_string(port)});
  CHECK(eventually(
      [&] {
        return agent.process->log().find("connected to udp 127.0.0.1:" + std::to_string(port)) !=
               std::string::npos;
      },
      std::chrono::seconds(10)));
}
