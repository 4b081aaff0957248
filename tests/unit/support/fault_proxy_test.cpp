// The loopback fault proxy (tests/support) against a plain echo server on loopback: each mode does
// what it says, the counters show it, and the proxy never reaches beyond loopback.
#include "weighlink/testing/fault_proxy.hpp"

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "weighlink/testing/process.hpp"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using weighlink::testing::FaultMode;
using weighlink::testing::FaultProxy;
using Clock = std::chrono::steady_clock;

// Echoes every byte back, on its own thread; counts connections and bytes.
class EchoServer {
 public:
  EchoServer() {
    const tcp::endpoint listen{asio::ip::make_address("127.0.0.1"), 0};
    acceptor_.open(listen.protocol());
    acceptor_.bind(listen);
    acceptor_.listen();
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~EchoServer() {
    ioc_.stop();
    thread_.join();
  }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  [[nodiscard]] std::string address() const {
    return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  [[nodiscard]] std::uint64_t accepted() const { return accepted_.load(); }
  [[nodiscard]] std::uint64_t received() const { return received_.load(); }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    Session(tcp::socket s, std::atomic<std::uint64_t>& r) : socket(std::move(s)), received(r) {}
    void read() {
      socket.async_read_some(asio::buffer(buf),
                             [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                               if (ec) return;
                               self->received += n;
                               asio::async_write(self->socket, asio::buffer(self->buf.data(), n),
                                                 [self](boost::system::error_code wec, size_t) {
                                                   if (!wec) self->read();
                                                 });
                             });
    }
    tcp::socket socket;
    std::atomic<std::uint64_t>& received;
    std::array<char, 4096> buf{};
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      ++accepted_;
      std::make_shared<Session>(std::move(s), received_)->read();
      accept();
    });
  }

  asio::io_context ioc_{1};
  tcp::acceptor acceptor_{ioc_};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> received_{0};
  std::thread thread_;
};

// A blocking loopback client with timed reads (plain POSIX, nothing shared with the proxy).
class Client {
 public:
  explicit Client(const std::string& address) {
    const auto [host, port] = weighlink::testing::split_host_port(address);
    const tcp::endpoint ep{asio::ip::make_address(host), port};
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    REQUIRE(::connect(fd_, ep.data(), static_cast<socklen_t>(ep.size())) == 0);
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // False when the connection is gone.
  bool send(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      const auto n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  struct Read {
    std::string data;
    bool closed = false;  // EOF or reset
  };
  // Reads until `want` bytes came, the connection closed, or `timeout` passed.
  Read read(std::size_t want, std::chrono::milliseconds timeout) {
    Read r;
    const auto deadline = Clock::now() + timeout;
    while (r.data.size() < want) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[8192];
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        r.closed = true;
        break;
      }
      r.data.append(buf, static_cast<std::size_t>(n));
    }
    return r;
  }

 private:
  int fd_ = -1;
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

}  // namespace

TEST_CASE("fault proxy: pass forwards both ways and counts the bytes") {
  EchoServer echo;
  FaultProxy proxy(echo.address());
  Client c(proxy.address());
  const auto data = pattern(std::size_t{200} * 1024);
  REQUIRE(c.send(data));
  const auto r = c.read(data.size(), 5s);
  CHECK_FALSE(r.closed);
  CHECK(r.data == data);
  // A write is counted when it completes, which may be just after the client read it.
  (void)weighlink::testing::eventually(
      [&] { return proxy.counters().bytes_to_client >= data.size(); }, 1s);
  const auto n = proxy.counters();
  CHECK(n.connections == 1);
  CHECK(n.live == 1);
  CHECK(n.bytes_to_target == data.size());
  CHECK(n.bytes_to_client == data.size());
  CHECK(n.dropped + n.cuts + n.blackholed + n.delayed_chunks == 0);
  CHECK(echo.accepted() == 1);
}

TEST_CASE("fault proxy: delay holds each chunk in both directions") {
  EchoServer echo;
  FaultProxy proxy(echo.address());
  proxy.set_delay(150ms);
  proxy.set_mode(FaultMode::delay);
  Client c(proxy.address());
  REQUIRE(c.send("ping"));
  const auto r = c.read(4, 5s);
  CHECK(r.data == "ping");
  // Held in both directions: the proxy counts each chunk it held, out and back (how long it held
  // them is the delay it was given, not measured here).
  CHECK(proxy.counters().delayed_chunks >= 2);

  // Back to pass: the same connection answers again, and nothing more is held.
  proxy.set_mode(FaultMode::pass);
  const auto held = proxy.counters().delayed_chunks;
  REQUIRE(c.send("pong"));
  CHECK(c.read(4, 5s).data == "pong");
  CHECK(proxy.counters().delayed_chunks == held);
}

TEST_CASE("fault proxy: drop closes new connections at once and live ones at their next chunk") {
  EchoServer echo;
  FaultProxy proxy(echo.address(), 7);
  Client live(proxy.address());
  REQUIRE(live.send("x"));
  REQUIRE(live.read(1, 5s).data == "x");

  proxy.set_mode(FaultMode::drop);
  for (int i = 0; i < 4; ++i) {
    Client c(proxy.address());  // the kernel accepts; the proxy closes
    (void)c.send("hello");
    const auto r = c.read(1, 2s);
    CHECK(r.closed);
    CHECK(r.data.empty());
  }
  (void)live.send("y");
  CHECK(live.read(1, 2s).closed);
  const auto n = proxy.counters();
  CHECK(n.dropped == 5);
  CHECK(n.live == 0);
  CHECK(echo.accepted() == 1);  // only the connection made in pass mode reached the target
}

TEST_CASE("fault proxy: cut closes both sides mid-stream once the byte budget is spent") {
  EchoServer echo;
  FaultProxy proxy(echo.address(), 11);
  proxy.set_mode(FaultMode::cut);

  SUBCASE("within the first chunk towards the target") {
    proxy.set_cut_range(10, 10);
    Client c(proxy.address());
    REQUIRE(c.send(pattern(100)));
    const auto r = c.read(100, 3s);
    CHECK(r.closed);
    CHECK(r.data.empty());
    // Exactly the budget was forwarded, then both sides were closed (a reset may lose what
    // was still in flight, never add to it).
    CHECK(proxy.counters().bytes_to_target == 10);
    CHECK(proxy.counters().bytes_to_client == 0);
    CHECK(echo.received() <= 10);
  }
  SUBCASE("in the answer, counting both directions") {
    proxy.set_cut_range(150, 150);
    Client c(proxy.address());
    REQUIRE(c.send(pattern(100)));
    const auto r = c.read(100, 3s);
    CHECK(r.closed);
    CHECK(proxy.counters().bytes_to_target == 100);
    CHECK(proxy.counters().bytes_to_client == 50);  // 100 out + 50 back = 150
    CHECK(r.data.size() <= 50);
    CHECK(r.data == pattern(100).substr(0, r.data.size()));
  }
  const auto n = proxy.counters();
  CHECK(n.cuts == 1);
  CHECK(n.live == 0);
}

TEST_CASE("fault proxy: blackhole swallows everything and closes nothing, cut_all does") {
  EchoServer echo;
  FaultProxy proxy(echo.address());
  Client before(proxy.address());  // accepted in pass mode, swallowed at its next chunk
  REQUIRE(before.send("a"));
  REQUIRE(before.read(1, 5s).data == "a");

  proxy.set_mode(FaultMode::blackhole);
  Client fresh(proxy.address());
  REQUIRE(fresh.send(pattern(1000)));
  REQUIRE(before.send(pattern(500)));
  // Every byte read and thrown away, none sent on: nothing can come back.
  const auto discarded = [&](std::uint64_t n) {
    return weighlink::testing::eventually([&] { return proxy.counters().discarded_bytes == n; }, 5s,
                                          5ms);
  };
  REQUIRE(discarded(1500));
  CHECK(proxy.counters().bytes_to_target == 1);  // before's "a", in pass mode
  CHECK(echo.received() == 1);

  // A blackholed connection stays so when the mode changes (still open: its bytes are read and
  // thrown away); new ones pass again.
  proxy.set_mode(FaultMode::pass);
  REQUIRE(fresh.send("more"));
  REQUIRE(discarded(1504));
  CHECK(proxy.counters().bytes_to_target == 1);
  Client after(proxy.address());
  REQUIRE(after.send("b"));
  CHECK(after.read(1, 5s).data == "b");

  auto n = proxy.counters();
  CHECK(n.blackholed == 2);
  CHECK(n.discarded_bytes == 1504);
  CHECK(n.live == 3);
  CHECK(echo.accepted() == 2);  // `fresh` never reached the target

  CHECK(proxy.cut_all() == 3);
  CHECK(fresh.read(1, 2s).closed);
  CHECK(before.read(1, 2s).closed);
  CHECK(after.read(1, 2s).closed);
  n = proxy.counters();
  CHECK(n.closed_by_cut_all == 3);
  CHECK(n.live == 0);
}

TEST_CASE("fault proxy: a target that refuses is a closed connection for the client") {
  FaultProxy proxy(weighlink::testing::free_loopback_address());
  Client c(proxy.address());
  CHECK(c.read(1, 2s).closed);
  CHECK(proxy.counters().connect_failures == 1);
}

TEST_CASE("fault proxy: refuses targets that are not on loopback") {
  CHECK_THROWS_AS(FaultProxy("10.0.0.1:5432"), std::invalid_argument);
  CHECK_THROWS_AS(FaultProxy("192.168.1.10:50051"), std::invalid_argument);
  CHECK_THROWS_AS(FaultProxy("0.0.0.0:50051"), std::invalid_argument);
  CHECK_THROWS_AS(FaultProxy("example.org:443"), std::invalid_argument);
  CHECK_THROWS_AS(FaultProxy("[2001:db8::1]:443"), std::invalid_argument);
  CHECK_THROWS_AS(FaultProxy("127.0.0.1"), std::invalid_argument);
  CHECK_THROWS_AS(FaultProxy("127.0.0.1:0"), std::invalid_argument);
  CHECK_THROWS_AS(FaultProxy("127.0.0.1:70000"), std::invalid_argument);
  CHECK_NOTHROW(FaultProxy("127.0.0.1:9"));
  CHECK_NOTHROW(FaultProxy("127.9.9.9:9"));
  CHECK_NOTHROW(FaultProxy("localhost:9"));
  CHECK_NOTHROW(FaultProxy("[::1]:9"));
}

TEST_CASE("fault proxy: destroyed with live, delayed and blackholed connections, it returns") {
  EchoServer echo;
  auto proxy = std::make_unique<FaultProxy>(echo.address());
  Client a(proxy->address());
  REQUIRE(a.send("a"));
  REQUIRE(a.read(1, 5s).data == "a");
  proxy->set_delay(10s);
  proxy->set_mode(FaultMode::delay);
  REQUIRE(a.send(pattern(3000)));
  proxy->set_mode(FaultMode::blackhole);
  Client b(proxy->address());
  REQUIRE(b.send("b"));
  // Wait until the proxy holds b's bytes in the blackhole, as it would at shutdown in the field.
  CHECK(weighlink::testing::eventually([&] { return proxy->counters().blackholed >= 1; }, 2s));
  // Destroyed now: the chunk held for 10 s is dropped, not delivered, and both clients see the
  // connection closed.
  proxy.reset();
  const auto ra = a.read(1, 2s);
  CHECK(ra.closed);
  CHECK(ra.data.empty());
  CHECK(b.read(1, 2s).closed);
}
