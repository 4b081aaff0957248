// Bounded resources (issue 15, item 6; docs/security.md, "Resources"): floods of connections,
// of slow request bodies, and an agent out of file descriptors, against the real agent on
// loopback. What is asserted is behaviour (who gets which answer, what the log says, how much
// memory), never how long anything took.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "agent_fixture.hpp"

using namespace weighlink::testing;

namespace {

// A raw TCP connection, for requests that never finish.
class RawConn {
 public:
  explicit RawConn(const std::string& address) {
    const auto [host, port] = split_host_port(address);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~RawConn() { ::close(fd_); }
  [[nodiscard]] int fd() const { return fd_; }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  void send(const std::string& bytes) const {
    (void)::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }
  // Something arrived, or the peer closed, within `timeout`.
  [[nodiscard]] bool readable(std::chrono::milliseconds timeout) const {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
  }
  // One HTTP answer (its header and Content-Length bytes of body), or what arrived before the
  // peer closed or `timeout` passed without a byte.
  [[nodiscard]] std::string read_answer(std::chrono::milliseconds timeout) const {
    std::string out;
    char buf[4096];
    while (readable(timeout)) {
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
      const auto end = out.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      std::smatch m;
      const std::string head = out.substr(0, end);
      const std::size_t length =
          std::regex_search(head, m, std::regex("Content-Length: ([0-9]+)")) ? std::stoul(m[1]) : 0;
      if (out.size() >= end + 4 + length) break;
    }
    return out;
  }

 private:
  int fd_ = -1;
};

struct RawAnswer {
  int status = 0;
  std::string correlation_header;
  std::string retry_after;
  boost::json::object body;
};

RawAnswer parse_answer(const std::string& text) {
  RawAnswer a;
  if (text.rfind("HTTP/1.1 ", 0) != 0) return a;
  a.status = std::stoi(text.substr(9, 3));
  std::smatch m;
  if (std::regex_search(text, m, std::regex("X-Correlation-Id: ([0-9a-f]+)\r\n"))) {
    a.correlation_header = m[1];
  }
  if (std::regex_search(text, m, std::regex("Retry-After: ([0-9]+)\r\n"))) a.retry_after = m[1];
  const auto body_at = text.find("\r\n\r\n");
  boost::system::error_code ec;
  auto v = boost::json::parse(text.substr(body_at + 4), ec);
  if (!ec && v.is_object()) a.body = v.as_object();
  return a;
}

// An error answer of the agent's HTTP layer: JSON with `code` and a real correlation id, the same
// in the body, the X-Correlation-Id header and a line of the agent's log.
void check_error(const RawAnswer& a, int status, const std::string& code, const std::string& log,
                 bool logged = true) {
  CHECK(a.status == status);
  REQUIRE(a.body.contains("error"));
  CHECK(a.body.at("error").as_string() == code);
  const std::string id(a.body.at("correlation_id").as_string());
  CHECK(std::regex_match(id, std::regex("[0-9a-f]{16}")));
  CHECK(a.correlation_header == id);
  if (logged) CHECK(log.find("[" + id + "]") != std::string::npos);
}

std::string post_head(std::size_t content_length) {
  return "POST /v1/mutations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
         "Idempotency-Key: slow\r\nContent-Length: " +
         std::to_string(content_length) + "\r\n\r\n";
}

// /proc/PID/status VmRSS in KiB.
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// utime + stime from /proc/PID/stat, in clock ticks.
long cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string f;
  long utime = 0;
  long stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stol(f);
    if (i == 15) stime = std::stol(f);
  }
  return utime + stime;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("limits: at the connection cap a new connection gets 503 when every slot is busy") {
  TempDir dir("wl-limits-cap");
  AgentProcess agent(dir, {}, "limits:\n  max_connections: 16\n");
  // 16 connections whose request body never finishes: busy, they keep their slots.
  auto open_busy = [&] {
    auto c = std::make_unique<RawConn>(agent.http);
    c->send(post_head(1000) + "{");
    return c;
  };
  std::vector<std::unique_ptr<RawConn>> busy;
  busy.reserve(16);
  for (int i = 0; i < 16; ++i) busy.push_back(open_busy());
  // A probe that reached the agent before one of their headers found that connection idle and
  // took its slot (it is closed): open it again, and probe again, until the cap answers.
  std::optional<RawAnswer> refused;
  for (int attempt = 0; attempt < 100 && !refused; ++attempt) {
    RawConn probe(agent.http);
    probe.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    auto a = parse_answer(probe.read_answer(std::chrono::seconds(10)));
    REQUIRE((a.status == 503 || a.status == 200));  // never a hang
    if (a.status == 503) refused = a;
    for (auto& c : busy) {
      if (c->readable(std::chrono::milliseconds(0))) c = open_busy();  // closed to make room
    }
  }
  REQUIRE(refused.has_value());
  check_error(*refused, 503, "too_many_connections", agent.process->log());
  CHECK(refused->retry_after == "1");
  CHECK(refused->body.at("message").as_string().find("16 connections") != std::string::npos);

  // The slots come back when the bodies end.
  busy.clear();
  CHECK(eventually([&] { return http_request(agent.http, "GET", "/healthz").status == 200; },
                   std::chrono::seconds(10)));
}

TEST_CASE("limits: 300 idle connections cannot lock /healthz out (the longest idle makes room)") {
  TempDir dir("wl-limits-idle");
  AgentProcess agent(dir, {}, "limits:\n  max_connections: 16\n");
  std::vector<std::unique_ptr<RawConn>> idle;
  for (int i = 0; i < 300; ++i) {
    idle.push_back(std::make_unique<RawConn>(agent.http));
    // A slowloris: half a header, never finished.
    if (i % 2 == 0) idle.back()->send("GET /healthz HTTP/1.1\r\nHost: 12");
    if (i % 50 == 49) CHECK(http_request(agent.http, "GET", "/healthz").status == 200);
  }
  CHECK(http_request(agent.http, "GET", "/healthz").status == 200);
  // At most 16 of the 300 are still open at the agent: the others were closed for newer ones.
  std::size_t open = 0;
  for (const auto& c : idle) open += c->readable(std::chrono::milliseconds(0)) ? 0 : 1;
  CHECK(open <= 16);
}

TEST_CASE("limits: 300 slow 1 MiB bodies: 16 MiB are taken, the rest get 503, memory stays low") {
  TempDir dir("wl-limits-bodies");
  AgentProcess agent(dir, {});  // the defaults: 1 MiB per body, 16 MiB in flight
  const long rss_before = rss_kib(agent.process->pid());
  std::vector<std::unique_ptr<RawConn>> slow;
  const std::string some(1024, ' ');
  for (int i = 0; i < 300; ++i) {
    slow.push_back(std::make_unique<RawConn>(agent.http));
    slow.back()->send(post_head(1 << 20) + "{\"kind\":\"note\",\"payload\":{\"t\":\"" + some);
    if (i % 50 == 49) CHECK(http_request(agent.http, "GET", "/healthz").status == 200);
  }
  // Every body beyond the 16 that fit the budget is answered 503 at its header.
  std::size_t refused = 0;
  std::vector<bool> answered(slow.size(), false);
  std::size_t answers = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (answers < 300 - 16 && std::chrono::steady_clock::now() < deadline) {
    std::vector<pollfd> waiting;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < slow.size(); ++i) {
      if (answered[i]) continue;
      waiting.push_back({slow[i]->fd(), POLLIN, 0});
      index.push_back(i);
    }
    if (::poll(waiting.data(), waiting.size(), 1000) <= 0) continue;
    for (std::size_t k = 0; k < waiting.size(); ++k) {
      if ((waiting[k].revents & (POLLIN | POLLHUP)) == 0) continue;
      const auto i = index[k];
      const auto a = parse_answer(slow[i]->read_answer(std::chrono::seconds(5)));
      answered[i] = true;
      ++answers;
      if (a.status == 503 && a.body.contains("error") &&
          a.body.at("error").as_string() == "server_busy") {
        ++refused;
        CHECK(a.retry_after == "1");
      }
    }
  }
  CHECK(refused == 300 - 16);
  // The 16 that fit are still being received: no answer, no close.
  for (std::size_t i = 0; i < slow.size(); ++i) {
    if (!answered[i]) CHECK_FALSE(slow[i]->readable(std::chrono::milliseconds(0)));
  }
  CHECK(http_request(agent.http, "GET", "/healthz").status == 200);
  const long rss_after = rss_kib(agent.process->pid());
  MESSAGE("agent RSS " << rss_before << " KiB before, " << rss_after
                       << " KiB with 300 slow 1 MiB bodies (" << (rss_after - rss_before)
                       << " KiB more)");
  CHECK(rss_after - rss_before < 64 * 1024);  // the bound in docs/security.md

  // The budget comes back when they end: a real mutation goes through.
  slow.clear();
  CHECK(eventually(
      [&] {
        return post_json(agent.http, "/v1/mutations", "after-flood",
                         R"({"kind":"note","payload":{"t":"x"}})")
                   .status == 202;
      },
      std::chrono::seconds(10)));
}

TEST_CASE("limits: out of file descriptors the agent pauses accepting, answers 503, recovers") {
  TempDir dir("wl-limits-emfile");
  // 64 descriptors: the agent needs about 20 of its own; 100 idle connections exhaust the rest.
  Process agent({"/usr/bin/prlimit", "--nofile=64:64", "--", bin("weighlink-agent"), "--listen",
                 "127.0.0.1:0", "--ready-file", (dir / "ready").string(), "--data-dir",
                 (dir / "data").string()},
                dir / "agent.log");
  const auto http = agent.wait_ready(dir / "ready").at("http");
  const long ticks_before = cpu_ticks(agent.pid());
  std::vector<std::unique_ptr<RawConn>> flood;
  flood.reserve(100);
  for (int i = 0; i < 100; ++i) flood.push_back(std::make_unique<RawConn>(http));
  // A health probe on a new connection gets an answer, not a hang: 503 while out of descriptors.
  RawConn probe(http);
  probe.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const auto a = parse_answer(probe.read_answer(std::chrono::seconds(10)));
  // (One line per episode is logged, with the id of the first answer; this one may be later.)
  check_error(a, 503, "too_many_open_files", agent.log(), /*logged=*/false);
  CHECK(a.retry_after == "1");
  // Connections it had accepted before keep working... and when the flood ends, it recovers.
  flood.clear();
  CHECK(eventually([&] { return http_request(http, "GET", "/healthz").status == 200; },
                   std::chrono::seconds(10)));
  const long ticks_after = cpu_ticks(agent.pid());
  const auto log = agent.log();
  INFO(log);
  CHECK(count_of(log, "accept paused") == 1);
  std::smatch m;
  REQUIRE(std::regex_search(log, m, std::regex("accepting connections again \\(([0-9]+) accept")));
  // A spinning accept loop fails millions of times; a paused one a few times per second.
  CHECK(std::stol(m[1]) < 1000);
  MESSAGE("out of descriptors: " << m[1] << " failed accepts, " << (ticks_after - ticks_before)
                                 << " CPU ticks over the whole flood");
  CHECK(agent.terminate() == 0);
}

TEST_CASE("limits: the HTTP layer's own errors carry a real correlation id") {
  TempDir dir("wl-limits-ids");
  AgentProcess agent(dir, {}, "limits:\n  max_request_body_bytes: 4096\n");
  auto exchange = [&](const std::string& request) {
    RawConn c(agent.http);
    c.send(request);
    return parse_answer(c.read_answer(std::chrono::seconds(10)));
  };
  const auto too_big = exchange(post_head(5000));
  const auto huge_header = exchange(
      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  const auto no_socket = exchange(
      "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  const auto garbage = exchange("GET /healthz HTTP/1.1\r\nHo st: x\r\n\r\n");
  const auto foreign = exchange(
      "GET /v1/live HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n"
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  const auto log = agent.process->log();
  INFO(log);
  check_error(too_big, 413, "body_too_large", log);
  CHECK(too_big.body.at("message").as_string().find("4096 bytes") != std::string::npos);
  check_error(huge_header, 431, "headers_too_large", log);
  check_error(no_socket, 404, "not_found", log);
  check_error(garbage, 400, "bad_request", log);
  check_error(foreign, 403, "origin_not_allowed", log);
  CHECK(log.find("[" + foreign.correlation_header + "] live socket refused (403)") !=
        std::string::npos);
}
