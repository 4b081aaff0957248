#include "weighlink/testing/camera_sim.hpp"

#include <fcntl.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <cstdio>
#include <list>
#include <map>
#include <mutex>
#include <thread>

#include "weighlink/base/base64.hpp"
#include "weighlink/base/hash.hpp"

namespace weighlink::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// The parameters of a Digest Authorization value: name=value or name="value", comma-separated.
std::map<std::string, std::string> digest_params(std::string_view v) {
  std::map<std::string, std::string> out;
  std::size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && (v[i] == ' ' || v[i] == ',')) ++i;
    const auto eq = v.find('=', i);
    if (eq == std::string_view::npos) break;
    auto name = std::string(v.substr(i, eq - i));
    i = eq + 1;
    std::string value;
    if (i < v.size() && v[i] == '"') {
      for (++i; i < v.size() && v[i] != '"'; ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        value += v[i];
      }
      ++i;
    } else {
      while (i < v.size() && v[i] != ',') value += v[i++];
    }
    out[name] = value;
  }
  return out;
}

}  // namespace

struct CameraSim::Impl {
  CameraSimOptions options;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::string address;
  std::thread accept_thread;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::string jpeg = test_jpeg(1);
  bool holding = false;
  bool stopping = false;
  std::size_t held = 0, served = 0, refused = 0;
  std::string nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093";
  std::list<std::thread> connections;
  std::list<std::shared_ptr<tcp::socket>> sockets;

  std::string hash(const std::string& data) const {
    return options.algorithm == "SHA-256" ? base::sha256_hex(data) : base::md5_hex(data);
  }

  bool authorized(const http::request<http::string_body>& req) const {
    if (options.auth == "none") return true;
    const std::string value(req[http::field::authorization]);
    if (options.auth == "basic") {
      return value ==
             "Basic " + base::base64(std::string_view(options.user + ":" + options.password));
    }
    if (!value.starts_with("Digest ")) return false;
    auto p = digest_params(std::string_view(value).substr(7));
    const auto ha1 = hash(options.user + ":" + options.realm + ":" + options.password);
    const auto ha2 = hash(std::string(req.method_string()) + ":" + p["uri"]);
    const auto expected =
        hash(ha1 + ":" + nonce + ":" + p["nc"] + ":" + p["cnonce"] + ":" + p["qop"] + ":" + ha2);
    return p["username"] == options.user && p["realm"] == options.realm && p["nonce"] == nonce &&
           p["qop"] == "auth" && p["uri"] == std::string(req.target()) && p["response"] == expected;
  }

  void serve(const std::shared_ptr<tcp::socket>& socket) {
    beast::error_code ec;
    beast::flat_buffer buffer;
    while (true) {
      http::request<http::string_body> req;
      http::read(*socket, buffer, req, ec);
      if (ec) return;
      http::response<http::string_body> res{http::status::ok, req.version()};
      res.keep_alive(req.keep_alive());
      if (!authorized(req)) {
        const bool answered = req.count(http::field::authorization) > 0;
        res.result(http::status::unauthorized);
        res.set(http::field::content_type, "text/html");
        if (options.auth == "basic") {
          res.set(http::field::www_authenticate, "Basic realm=\"" + options.realm + "\"");
        } else {
          res.set(http::field::www_authenticate,
                  "Digest qop=\"auth\", realm=\"" + options.realm + "\", nonce=\"" + nonce +
                      "\", algorithm=" + options.algorithm + ", stale=FALSE");
        }
        res.body() = "<html><body>401 Unauthorized</body></html>";
        std::lock_guard lock(mu);
        if (answered) ++refused;
      } else {
        std::unique_lock lock(mu);
        ++held;
        cv.wait(lock, [&] { return !holding || stopping; });
        --held;
        if (stopping) return;
        res.set(http::field::content_type, "image/jpeg");
        res.body() = jpeg;
        ++served;
      }
      res.prepare_payload();
      http::write(*socket, res, ec);
      if (ec || !res.keep_alive()) return;
    }
  }

  void do_accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket s) {
      std::lock_guard lock(mu);
      if (ec || stopping) return;
      auto socket = std::make_shared<tcp::socket>(std::move(s));
      sockets.push_back(socket);
      connections.emplace_back([this, socket] { serve(socket); });
      do_accept();
    });
  }

  void stop() {
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      stopping = true;
      beast::error_code ec;
      for (auto& s : sockets) s->shutdown(tcp::socket::shutdown_both, ec);
    }
    cv.notify_all();
    // The acceptor is closed on its own thread; from then on the port refuses connections.
    asio::post(ioc, [this] {
      beast::error_code ec;
      acceptor.close(ec);
    });
    if (accept_thread.joinable()) accept_thread.join();
    std::list<std::thread> threads;
    {
      std::lock_guard lock(mu);
      threads.swap(connections);
    }
    for (auto& t : threads) t.join();
  }
};

CameraSim::CameraSim(CameraSimOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  auto& a = impl_->acceptor;
  a.open(tcp::v4());
  a.set_option(asio::socket_base::reuse_address(true));
  a.bind({asio::ip::make_address("127.0.0.1"), 0});
  a.listen();
  // Not inherited by the processes the test starts (the agent): a copy of the listening socket
  // there would keep the port accepting after stop().
  ::fcntl(a.native_handle(), F_SETFD, FD_CLOEXEC);
  impl_->address = "127.0.0.1:" + std::to_string(a.local_endpoint().port());
  impl_->do_accept();
  impl_->accept_thread = std::thread([this] { impl_->ioc.run(); });
}

CameraSim::~CameraSim() {
  try {
    impl_->stop();
  } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): a destructor must not throw
  }
}

std::string CameraSim::address() const { return impl_->address; }

void CameraSim::set_image(std::string jpeg) {
  std::lock_guard lock(impl_->mu);
  impl_->jpeg = std::move(jpeg);
}

std::string CameraSim::image() const {
  std::lock_guard lock(impl_->mu);
  return impl_->jpeg;
}

void CameraSim::hold() {
  std::lock_guard lock(impl_->mu);
  impl_->holding = true;
}

void CameraSim::release() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->holding = false;
  }
  impl_->cv.notify_all();
}

std::size_t CameraSim::held() const {
  std::lock_guard lock(impl_->mu);
  return impl_->held;
}

std::size_t CameraSim::served() const {
  std::lock_guard lock(impl_->mu);
  return impl_->served;
}

std::size_t CameraSim::refused() const {
  std::lock_guard lock(impl_->mu);
  return impl_->refused;
}

void CameraSim::stop() { impl_->stop(); }

std::string test_jpeg(std::uint32_t seed) {
  std::string out = {'\xFF', '\xD8', '\xFF', '\xE0', '\x00', '\x10', 'J',
                     'F',    'I',    'F',    '\x00', '\x01', '\x01', '\x00',
                     '\x00', '\x01', '\x00', '\x01', '\x00', '\x00'};
  // A baseline frame header (SOF0: 3x2 pixels, 3 components), what a PDF reader needs to place it.
  out += {'\xFF', '\xC0', '\x00', '\x11', '\x08', '\x00', '\x02', '\x00', '\x03', '\x03',
          '\x01', '\x11', '\x00', '\x02', '\x11', '\x00', '\x03', '\x11', '\x00'};
  // A comment segment that makes the bytes (and so the SHA-256) differ with the seed.
  std::array<char, 16> text{};
  const int n = std::snprintf(text.data(), text.size(), "weighlink %u", seed);
  out += {'\xFF', '\xFE', '\x00', static_cast<char>(n + 2)};
  out.append(text.data(), static_cast<std::size_t>(n));
  out += std::string(200 + seed % 50, '\x11');  // some body
  out += {'\xFF', '\xD9'};
  return out;
}

std::string closed_address() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = a.local_endpoint().port();
  a.close();
  return "127.0.0.1:" + std::to_string(port);
}

}  // namespace weighlink::testing
