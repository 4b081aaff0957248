#include "weighlink/testing/scripted_http.hpp"

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

namespace weighlink::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct ScriptedHttpServer::Impl {
  explicit Impl(std::vector<ScriptedResponse> s) : script(std::move(s)) {
    if (script.empty()) throw std::invalid_argument("ScriptedHttpServer: empty script");
  }

  // Declared before the io_context: sessions (destroyed with it) use the TLS context.
  std::optional<ssl::context> tls;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::thread thread;

  mutable std::mutex mutex;
  std::vector<ScriptedResponse> script;
  std::size_t next = 0;
  std::vector<ReceivedRequest> received;
  std::size_t accepted = 0;
  std::size_t answered = 0;

  ScriptedResponse take(ReceivedRequest request) {
    std::lock_guard lock(mutex);
    received.push_back(std::move(request));
    return script[std::min(next++, script.size() - 1)];
  }

  void start() {
    acceptor.open(tcp::v4());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor.listen();
    do_accept();
    thread = std::thread([this] { ioc.run(); });
  }

  void do_accept();
};

namespace {

// One connection: (TLS handshake), one request, the scripted answer after its delay, close.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  using Take = std::function<ScriptedResponse(ReceivedRequest)>;
  using Answered = std::function<void()>;
  template <class... Args>
  Session(asio::io_context& ioc, Take take, Answered answered, Args&&... args)
      : take_(std::move(take)),
        answered_(std::move(answered)),
        stream_(std::forward<Args>(args)...),
        timer_(ioc) {}

  void start() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      do_read();
    } else {
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->do_read();
                              });
    }
  }

 private:
  void do_read() {
    parser_.body_limit(1 << 20);
    http::async_read(stream_, buffer_, parser_,
                     beast::bind_front_handler(&Session::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return;
    const auto& req = parser_.get();
    ReceivedRequest request{std::string(req.method_string()),
                            std::string(req.target()),
                            {},
                            req.body(),
                            std::chrono::steady_clock::now()};
    for (const auto& field : req) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      request.headers[name] = std::string(field.value());
    }
    answer_ = take_(std::move(request));
    timer_.expires_after(answer_.delay);
    timer_.async_wait(beast::bind_front_handler(&Session::on_delay, this->shared_from_this()));
  }

  void on_delay(beast::error_code ec) {
    if (ec) return;
    response_.result(static_cast<unsigned>(answer_.status));
    response_.version(11);
    response_.set(http::field::content_type, answer_.content_type);
    response_.keep_alive(false);
    response_.body() = answer_.body;
    response_.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    http::async_write(stream_, response_,
                      beast::bind_front_handler(&Session::on_write, this->shared_from_this()));
  }

  void on_write(beast::error_code, std::size_t) {
    answered_();
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  Take take_;
  Answered answered_;
  Stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  ScriptedResponse answer_;
  http::response<http::string_body> response_;
};

}  // namespace

void ScriptedHttpServer::Impl::do_accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) return;
    {
      std::lock_guard lock(mutex);
      ++accepted;
    }
    auto take = [this](ReceivedRequest request) { return this->take(std::move(request)); };
    auto answer = [this] {
      std::lock_guard lock(mutex);
      ++answered;
    };
    if (tls) {
      std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(ioc, take, answer,
                                                                      std::move(socket), *tls)
          ->start();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(ioc, take, answer, std::move(socket))->start();
    }
    do_accept();
  });
}

ScriptedHttpServer::ScriptedHttpServer(std::vector<ScriptedResponse> script)
    : impl_(std::make_unique<Impl>(std::move(script))) {
  impl_->start();
}

ScriptedHttpServer::ScriptedHttpServer(std::vector<ScriptedResponse> script,
                                       const std::filesystem::path& cert,
                                       const std::filesystem::path& key)
    : impl_(std::make_unique<Impl>(std::move(script))) {
  impl_->tls.emplace(ssl::context::tls_server);
  impl_->tls->use_certificate_chain_file(cert.string());
  impl_->tls->use_private_key_file(key.string(), ssl::context::pem);
  impl_->start();
}

ScriptedHttpServer::~ScriptedHttpServer() {
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string ScriptedHttpServer::address() const {
  return "127.0.0.1:" + std::to_string(impl_->acceptor.local_endpoint().port());
}

std::vector<ReceivedRequest> ScriptedHttpServer::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
}

std::size_t ScriptedHttpServer::connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->accepted;
}

std::size_t ScriptedHttpServer::answered() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->answered;
}

}  // namespace weighlink::testing
