// RtspServer (rtsp_server.hpp): the relay RTSP server the RTSP still is tested against.
//
// RTSP 1.0 (RFC 2326) over one TCP connection per client: requests are text headers ending in a
// blank line, with a body when Content-Length says so; interleaved data is '$', a channel byte, a
// 16-bit big-endian length and that many bytes of RTP or RTCP.

#include "weighlink/testing/rtsp_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

namespace weighlink::testing {
namespace {

constexpr int kPollMs = 50;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

struct Request {
  std::string method;
  std::string url;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// One request off the front of `in`, or nullopt while it is incomplete.
std::optional<Request> take_request(std::string& in) {
  const auto end = in.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  Request r;
  std::size_t pos = 0;
  bool first = true;
  while (pos < end) {
    auto eol = in.find("\r\n", pos);
    const auto line = in.substr(pos, eol - pos);
    pos = eol + 2;
    if (first) {
      const auto sp1 = line.find(' ');
      const auto sp2 = line.find(' ', sp1 + 1);
      r.method = line.substr(0, sp1);
      r.url = line.substr(sp1 + 1, sp2 - sp1 - 1);
      first = false;
      continue;
    }
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      r.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
    }
  }
  std::size_t length = 0;
  if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
    length = std::stoul(it->second);
  }
  if (in.size() < end + 4 + length) return std::nullopt;
  r.body = in.substr(end + 4, length);
  in.erase(0, end + 4 + length);
  return r;
}

struct Connection {
  int fd = -1;
  std::mutex write_mutex;
  bool publisher = false;
  bool recording = false;

  bool send_all(std::string_view bytes) {
    std::lock_guard lock(write_mutex);
    while (!bytes.empty()) {
      const auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
};

}  // namespace

struct RtspServer::Impl {
  Mode mode;
  int listen_fd = -1;
  std::uint16_t port = 0;
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> packets{0};
  std::atomic<std::size_t> accepted{0};
  std::mutex mutex;  // sdp, players, threads
  std::string sdp;
  std::vector<std::shared_ptr<Connection>> players;
  std::vector<std::thread> threads;

  void accept_loop() {
    while (!stop) {
      pollfd p{listen_fd, POLLIN, 0};
      if (::poll(&p, 1, kPollMs) <= 0) continue;
      const int fd = ::accept(listen_fd, nullptr, nullptr);
      if (fd < 0) continue;
      ++accepted;
      auto conn = std::make_shared<Connection>();
      conn->fd = fd;
      std::lock_guard lock(mutex);
      threads.emplace_back([this, conn] {
        serve(conn);
        {
          std::lock_guard players_lock(mutex);
          players.erase(std::remove(players.begin(), players.end(), conn), players.end());
        }
        ::close(conn->fd);
      });
    }
  }

  void serve(const std::shared_ptr<Connection>& conn) {
    std::string in;
    char buf[16384];
    while (!stop) {
      pollfd p{conn->fd, POLLIN, 0};
      if (::poll(&p, 1, kPollMs) <= 0) continue;
      const auto n = ::recv(conn->fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      if (mode == Mode::silent) continue;  // read, never answer
      in.append(buf, static_cast<std::size_t>(n));
      if (!process(conn, in)) return;
    }
  }

  // Handles what is complete in `in`; false when the connection is to be closed.
  bool process(const std::shared_ptr<Connection>& conn, std::string& in) {
    while (!in.empty()) {
      if (in[0] == '$') {
        if (in.size() < 4) return true;
        const std::size_t len =
            (static_cast<unsigned char>(in[2]) << 8) | static_cast<unsigned char>(in[3]);
        if (in.size() < 4 + len) return true;
        if (conn->publisher && conn->recording) {
          if ((in[1] & 1) == 0) ++packets;  // even channels carry RTP
          forward(std::string_view(in).substr(0, 4 + len));
        }
        in.erase(0, 4 + len);
        continue;
      }
      auto request = take_request(in);
      if (!request) return in.size() < 65536;
      if (!answer(conn, *request)) return false;
    }
    return true;
  }

  void forward(std::string_view frame) {
    std::vector<std::shared_ptr<Connection>> to;
    {
      std::lock_guard lock(mutex);
      to = players;
    }
    for (const auto& p : to) {
      if (!p->send_all(frame)) ::shutdown(p->fd, SHUT_RDWR);  // its thread ends and drops it
    }
  }

  bool answer(const std::shared_ptr<Connection>& conn, const Request& r) {
    const auto cseq = r.headers.contains("cseq") ? r.headers.at("cseq") : std::string("0");
    auto reply = [&](const std::string& status, const std::string& headers,
                     const std::string& body = {}) {
      std::string out = "RTSP/1.0 " + status + "\r\nCSeq: " + cseq + "\r\n" + headers;
      if (!body.empty()) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
      out += "\r\n" + body;
      return conn->send_all(out);
    };
    const std::string session = "Session: 20261207\r\n";
    if (r.method == "OPTIONS") {
      return reply("200 OK",
                   "Public: OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, RECORD, TEARDOWN, "
                   "GET_PARAMETER\r\n");
    }
    if (r.method == "ANNOUNCE") {
      conn->publisher = true;
      std::lock_guard lock(mutex);
      sdp = r.body;
      return reply("200 OK", "");
    }
    if (r.method == "DESCRIBE") {
      std::string description;
      {
        std::lock_guard lock(mutex);
        description = sdp;
      }
      if (description.empty()) return reply("404 Not Found", "");
      return reply("200 OK", "Content-Base: " + r.url + "/\r\nContent-Type: application/sdp\r\n",
                   description);
    }
    if (r.method == "SETUP") {
      const auto transport = r.headers.contains("transport") ? r.headers.at("transport") : "";
      if (transport.find("interleaved=") == std::string::npos) {
        return reply("461 Unsupported Transport", "");  // TCP only
      }
      return reply("200 OK", "Transport: " + transport + "\r\n" + session);
    }
    if (r.method == "RECORD") {
      conn->recording = true;
      return reply("200 OK", session);
    }
    if (r.method == "PLAY") {
      const bool ok = reply("200 OK", session + "Range: npt=0.000-\r\n");
      std::lock_guard lock(mutex);
      players.push_back(conn);
      return ok;
    }
    if (r.method == "TEARDOWN") {
      reply("200 OK", session);
      return false;
    }
    if (r.method == "GET_PARAMETER" || r.method == "SET_PARAMETER") {
      return reply("200 OK", session);
    }
    return reply("501 Not Implemented", "");
  }
};

RtspServer::RtspServer(Mode mode) : impl_(std::make_unique<Impl>()) {
  impl_->mode = mode;
  impl_->listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (impl_->listen_fd < 0) throw std::runtime_error("rtsp server: socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(impl_->listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(impl_->listen_fd, 16) != 0 ||
      ::getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(impl_->listen_fd);
    throw std::runtime_error("rtsp server: cannot listen on 127.0.0.1");
  }
  impl_->port = ntohs(addr.sin_port);
  impl_->threads.emplace_back([this] { impl_->accept_loop(); });
}

RtspServer::~RtspServer() {
  impl_->stop = true;
  std::vector<std::thread> threads;
  {
    // The accept loop adds no thread once it has seen `stop`; join it first, then the rest.
    std::unique_lock lock(impl_->mutex);
    auto accept_thread = std::move(impl_->threads.front());
    lock.unlock();
    accept_thread.join();
    lock.lock();
    threads = std::move(impl_->threads);
  }
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  ::close(impl_->listen_fd);
}

std::string RtspServer::address() const { return "127.0.0.1:" + std::to_string(impl_->port); }

std::string RtspServer::url(const std::string& path) const {
  return "rtsp://" + address() + "/" + path;
}

std::size_t RtspServer::published_packets() const { return impl_->packets; }

std::size_t RtspServer::connections() const { return impl_->accepted; }

}  // namespace weighlink::testing
