// bench_live's floor server: the least any server must do per message (one send() per client).
//
// One thread reads the pty and sends a preformatted frame of the agent's size to every client:
// one send per client over loopback TCP, whose receive path the sender's kernel time includes.
#include <fcntl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <cstdio>
#include <mutex>
#include <thread>

#include "live_bench.hpp"
#include "weighlink/base/ready_file.hpp"

namespace weighlink::bench::live {
namespace {

// A server WebSocket text frame (unmasked) holding `payload`.
std::string ws_text_frame(std::string_view payload) {
  std::string frame;
  frame.push_back('\x81');
  if (payload.size() < 126) {
    frame.push_back(static_cast<char>(payload.size()));
  } else {
    frame.push_back(static_cast<char>(126));
    frame.push_back(static_cast<char>((payload.size() >> 8) & 0xFF));
    frame.push_back(static_cast<char>(payload.size() & 0xFF));
  }
  frame.append(payload);
  return frame;
}

// The agent's reading message for a Toledo frame, fields in the agent's order, so the floor
// sends as many bytes as the agent does. nullopt for a malformed frame.
std::optional<std::string> floor_message(std::string_view frame, std::uint64_t seq) {
  const auto stx = frame.find('\x02');
  if (stx == std::string_view::npos || frame.size() - stx < 16) return std::nullopt;
  frame.remove_prefix(stx);
  std::int64_t weight = 0;
  for (std::size_t i = 4; i < 10; ++i) {
    if (frame[i] < '0' || frame[i] > '9') return std::nullopt;
    weight = weight * 10 + (frame[i] - '0');
  }
  std::string raw;
  for (const char c : frame.substr(0, 16)) {
    char escaped[8];
    if (static_cast<unsigned char>(c) < 0x20) {
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(c));
      raw += escaped;
    } else if (c == '"' || c == '\\') {
      raw += '\\';
      raw += c;
    } else {
      raw += c;
    }
  }
  raw += "\\r";
  char text[1024];
  std::snprintf(text, sizeof text,
                R"({"type":"reading","scale":"main","seq":%llu,"ts":"2026-11-21T08:15:02.113Z",)"
                R"("protocol":"mt-continuous","weight":"%lld","decimals":0,"unit":"kg",)"
                R"("mode":"gross","tare":"0","stable":true,"stable_source":"indicator",)"
                R"("overload":false,"underload":false,"center_zero":false,"stale":false,)"
                R"("raw":"%s"})",
                static_cast<unsigned long long>(seq), static_cast<long long>(weight), raw.c_str());
  return std::string(text);
}

}  // namespace

int serve_floor(int argc, char** argv) {
  std::string device;
  std::string ready_file;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::string_view(argv[i]) == "--device") device = argv[i + 1];
    if (std::string_view(argv[i]) == "--ready-file") ready_file = argv[i + 1];
  }
  const int fd = ::open(device.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "floor: cannot open %s\n", device.c_str());
    return 1;
  }
  termios tio{};
  if (::tcgetattr(fd, &tio) == 0) {
    ::cfmakeraw(&tio);
    ::tcsetattr(fd, TCSANOW, &tio);
  }
  asio::io_context ioc(1);
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::mutex mu;
  std::vector<int> clients;  // raw descriptors after the handshake
  std::thread accepting([&] {
    while (true) {
      beast::error_code ec;
      tcp::socket socket(ioc);
      acceptor.accept(socket, ec);
      if (ec) return;
      websocket::stream<tcp::socket> ws(std::move(socket));
      ws.accept(ec);
      if (ec) continue;
      ws.next_layer().set_option(tcp::no_delay(true), ec);
      const int client = ws.next_layer().release(ec);
      if (ec) continue;
      const std::lock_guard lock(mu);
      clients.push_back(client);
    }
  });
  accepting.detach();  // the process ends by SIGTERM
  const auto port = std::to_string(acceptor.local_endpoint().port());
  if (const auto written =
          base::write_ready_file(ready_file, boost::json::object{{"http", "127.0.0.1:" + port}});
      !written) {
    std::fprintf(stderr, "floor: %s\n", written.error().message.c_str());
    return 1;
  }
  std::string pending;
  std::vector<int> targets;
  std::uint64_t seq = 0;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return 0;
    pending.append(buffer, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (auto cr = pending.find('\r'); cr != std::string::npos; cr = pending.find('\r', start)) {
      const auto text = floor_message(std::string_view(pending).substr(start, cr - start), ++seq);
      start = cr + 1;
      if (!text) continue;
      const auto frame = ws_text_frame(*text);
      {
        const std::lock_guard lock(mu);
        targets = clients;
      }
      for (const int client : targets) {
        (void)::send(client, frame.data(), frame.size(), MSG_NOSIGNAL);
      }
    }
    pending.erase(0, start);
  }
}

}  // namespace weighlink::bench::live
