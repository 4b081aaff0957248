#pragma once
// The stream under a connection, plain TCP or TLS (docs/decisions/0006-local-tls.md).

#include "http/server_impl.hpp"

namespace weighlink::agent {

// The stream under a connection, plain TCP or TLS: the sessions are written once, against these
// two interfaces, and the listener picks the implementation (docs/decisions/0006-local-tls.md).
// Handlers run on the connection's strand, like Beast's own.

// A WebSocket connection (the live socket, TruConnect's socket).
class LiveTransport {
 public:
  virtual ~LiveTransport() = default;
  virtual void configure(const websocket::stream_base::timeout& timeout,
                         std::size_t read_message_max) = 0;
  virtual void async_accept(const Request& req, DoneHandler handler) = 0;
  virtual void async_read(beast::flat_buffer& buffer, IoHandler handler) = 0;
  virtual void async_write_text(asio::const_buffer text, IoHandler handler) = 0;
  virtual void async_close(const websocket::close_reason& reason, DoneHandler handler) = 0;
  // Closes the TCP socket at once (no closing handshake).
  virtual void close_socket() = 0;
};

template <class Next>  // beast::tcp_stream or TlsStream
class LiveTransportOn final : public LiveTransport {
 public:
  // `keep` lives as long as the stream (the TLS context it uses).
  LiveTransportOn(Next&& next, std::shared_ptr<void> keep)
      : keep_(std::move(keep)), ws_(std::move(next)) {}
  void configure(const websocket::stream_base::timeout& timeout,
                 std::size_t read_message_max) override {
    ws_.set_option(timeout);
    ws_.read_message_max(read_message_max);
    // A small kernel send buffer keeps latest-wins meaningful: a slow client's backlog of stale
    // readings is at most this much, not the megabytes TCP autotuning would allow, so what it
    // does receive is recent.
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(
        asio::socket_base::send_buffer_size(static_cast<int>(kLiveSendBuffer)), ignored);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "weighlink-agent"); }));
  }
  void async_accept(const Request& req, DoneHandler handler) override {
    ws_.async_accept(req, std::move(handler));
  }
  void async_read(beast::flat_buffer& buffer, IoHandler handler) override {
    ws_.async_read(buffer, std::move(handler));
  }
  void async_write_text(asio::const_buffer text, IoHandler handler) override {
    ws_.text(true);
    ws_.async_write(text, std::move(handler));
  }
  void async_close(const websocket::close_reason& reason, DoneHandler handler) override {
    ws_.async_close(reason, std::move(handler));
  }
  void close_socket() override {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

 private:
  std::shared_ptr<void> keep_;
  websocket::stream<Next> ws_;
};

// An HTTP connection, until it upgrades to a WebSocket.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // The TLS handshake (bounded by the expiry set before); a plain connection is ready at once.
  virtual void async_start(DoneHandler handler) = 0;
  virtual void expires_after(std::chrono::steady_clock::duration d) = 0;
  virtual void expires_never() = 0;
  virtual void async_read_header(beast::flat_buffer& buffer, RequestParser& parser,
                                 IoHandler handler) = 0;
  virtual void async_read(beast::flat_buffer& buffer, RequestParser& parser, IoHandler handler) = 0;
  virtual void async_write(Response& res, IoHandler handler) = 0;
  virtual void async_write_bytes(asio::const_buffer bytes, IoHandler handler) = 0;
  // After the last answer: plain sends FIN, then reads and drops what the client still sends
  // until it closes or `linger` passes, so the close does not reset the connection under its
  // answer; TLS sends close_notify and waits as long for the client's. `owner` is kept alive
  // meanwhile.
  virtual void shutdown(std::chrono::steady_clock::duration linger,
                        std::shared_ptr<void> owner) = 0;
  virtual void close() = 0;
  // The stream, moved into a WebSocket stream (the upgrade).
  virtual std::unique_ptr<LiveTransport> into_live() = 0;
  // TLS: the page that connected is served over https, and is told the wss/https addresses.
  [[nodiscard]] virtual bool secure() const = 0;
};

template <class Stream>  // beast::tcp_stream or TlsStream
class HttpTransportOn final : public HttpTransport {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  [[nodiscard]] bool secure() const override { return kTls; }
  // `context`: the TLS context (null for plain), kept as long as the stream that uses it.
  HttpTransportOn(tcp::socket socket, std::shared_ptr<ssl::context> context)
      : context_(std::move(context)), stream_(make_stream(std::move(socket), context_.get())) {}
  void async_start(DoneHandler handler) override {
    if constexpr (kTls) {
      stream_.async_handshake(ssl::stream_base::server, std::move(handler));
    } else {
      handler({});
    }
  }
  void expires_after(std::chrono::steady_clock::duration d) override {
    beast::get_lowest_layer(stream_).expires_after(d);
  }
  void expires_never() override { beast::get_lowest_layer(stream_).expires_never(); }
  void async_read_header(beast::flat_buffer& buffer, RequestParser& parser,
                         IoHandler handler) override {
    http::async_read_header(stream_, buffer, parser, std::move(handler));
  }
  void async_read(beast::flat_buffer& buffer, RequestParser& parser, IoHandler handler) override {
    http::async_read(stream_, buffer, parser, std::move(handler));
  }
  void async_write(Response& res, IoHandler handler) override {
    http::async_write(stream_, res, std::move(handler));
  }
  void async_write_bytes(asio::const_buffer bytes, IoHandler handler) override {
    asio::async_write(stream_, bytes, std::move(handler));
  }
  void shutdown(std::chrono::steady_clock::duration linger, std::shared_ptr<void> owner) override {
    if constexpr (kTls) {
      expires_after(linger);
      stream_.async_shutdown([owner = std::move(owner)](beast::error_code) {});
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return;
      expires_after(linger);
      drain(std::move(owner));
    }
  }
  void close() override {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().close(ec);
  }
  std::unique_ptr<LiveTransport> into_live() override {
    return std::make_unique<LiveTransportOn<Stream>>(std::move(stream_), context_);
  }

 private:
  static Stream make_stream(tcp::socket socket, ssl::context* context) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *context);
    } else {
      return Stream(std::move(socket));
    }
  }
  void drain(std::shared_ptr<void> owner) {
    stream_.async_read_some(asio::buffer(drain_),
                            [this, owner = std::move(owner)](beast::error_code ec, std::size_t) {
                              if (!ec) drain(owner);
                            });
  }
  std::shared_ptr<ssl::context> context_;
  Stream stream_;
  std::array<char, 4096> drain_{};
};

}  // namespace weighlink::agent
