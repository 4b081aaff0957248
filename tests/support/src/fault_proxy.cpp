#include "weighlink/testing/fault_proxy.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <cmath>
#include <deque>
#include <future>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "weighlink/base/host_port.hpp"

namespace weighlink::testing {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

std::string_view to_string(FaultMode mode) {
  switch (mode) {
    case FaultMode::pass:
      return "pass";
    case FaultMode::delay:
      return "delay";
    case FaultMode::drop:
      return "drop";
    case FaultMode::cut:
      return "cut";
    case FaultMode::blackhole:
      return "blackhole";
  }
  return "unknown";
}

namespace {

// "HOST:PORT" with a loopback HOST, or std::invalid_argument.
tcp::endpoint loopback_endpoint(const std::string& target) {
  const auto refuse = [&](const std::string& why) {
    return std::invalid_argument("fault proxy: refusing target '" + target + "': " + why);
  };
  const auto parsed = weighlink::base::parse_host_port(target);
  if (!parsed) throw refuse(parsed.error().message);
  error_code ec;
  const auto address = asio::ip::make_address(weighlink::base::loopback_literal(parsed->host), ec);
  if (ec || !address.is_loopback()) {
    throw refuse("only loopback targets (127.0.0.0/8, ::1, localhost) are allowed");
  }
  return {address, parsed->port};
}

}  // namespace

struct FaultProxy::Impl {
  struct Conn;

  // Declared first: destroyed last, after everything that holds sockets or timers.
  asio::io_context ioc{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard{
      asio::make_work_guard(ioc)};
  tcp::acceptor acceptor{ioc};
  tcp::endpoint target;
  std::string address;
  std::mt19937_64 rng;  // I/O thread only

  std::atomic<FaultMode> mode{FaultMode::pass};
  std::atomic<std::int64_t> delay_ms{200};
  std::atomic<std::uint64_t> cut_min{1};
  std::atomic<std::uint64_t> cut_max{std::uint64_t{128} * 1024};

  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> live{0};
  std::atomic<std::uint64_t> connect_failures{0};
  std::atomic<std::uint64_t> bytes_to_target{0};
  std::atomic<std::uint64_t> bytes_to_client{0};
  std::atomic<std::uint64_t> delayed_chunks{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> cuts{0};
  std::atomic<std::uint64_t> blackholed{0};
  std::atomic<std::uint64_t> discarded_bytes{0};
  std::atomic<std::uint64_t> closed_by_cut_all{0};

  std::map<std::uint64_t, std::shared_ptr<Conn>> conns;  // I/O thread only
  std::uint64_t next_id = 0;                             // I/O thread only
  std::promise<void> finished;
  std::thread thread;

  Impl(const std::string& target_address, std::uint64_t seed)
      : target(loopback_endpoint(target_address)), rng(seed) {
    const tcp::endpoint listen{asio::ip::make_address("127.0.0.1"), 0};
    acceptor.open(listen.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(listen);
    acceptor.listen();
    address = "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
    accept();
    thread = std::thread([this] {
      ioc.run();
      finished.set_value();
    });
  }

  ~Impl() {
    try {
      asio::post(ioc, [this] {
        error_code ignored;
        acceptor.close(ignored);
        close_all(/*by_cut_all=*/false);
      });
      guard.reset();
      // Every operation ends once its socket or timer is closed; a stuck handler would hang the
      // test, so stop the loop after a while in any case.
      if (finished.get_future().wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
        ioc.stop();
      }
      thread.join();
      conns.clear();
    } catch (const std::exception& e) {
      std::cerr << "fault proxy: stopping: " << e.what() << "\n";
    }
  }

  bool coin() { return (rng() & 1U) != 0; }

  // A byte budget for `cut`: log-uniform, so short (handshake) and long (mid-answer) cuts are
  // both common.
  std::uint64_t cut_budget() {
    const auto lo = std::max<std::uint64_t>(1, cut_min.load());
    const auto hi = std::max(lo, cut_max.load());
    if (lo == hi) return lo;
    std::uniform_real_distribution<double> d(std::log(static_cast<double>(lo)),
                                             std::log(static_cast<double>(hi) + 1.0));
    const auto v = static_cast<std::uint64_t>(std::exp(d(rng)));
    return std::clamp(v, lo, hi);
  }

  static void close_socket(tcp::socket& s, bool reset) {
    if (!s.is_open()) return;
    error_code ignored;
    if (reset) s.set_option(asio::socket_base::linger(true, 0), ignored);
    s.close(ignored);
  }

  void accept();
  std::size_t close_all(bool by_cut_all);
};

// One proxied connection: the client's socket, the target's, and a pipe each way.
struct FaultProxy::Impl::Conn : std::enable_shared_from_this<Conn> {
  struct Chunk {
    Clock::time_point due;
    std::string data;
    bool cut_after = false;  // the connection is closed once this chunk is written
  };
  struct Pipe {
    Pipe(tcp::socket& f, tcp::socket& t, std::atomic<std::uint64_t>& c, bool from_client_side)
        : from(f), to(t), counter(c), timer(f.get_executor()), from_client(from_client_side) {}
    tcp::socket& from;
    tcp::socket& to;
    std::atomic<std::uint64_t>& counter;
    asio::steady_timer timer;
    bool from_client;
    std::array<char, std::size_t{16} * 1024> buf{};
    std::deque<Chunk> queue;
    std::size_t queued = 0;
    bool reading = false;
    bool busy = false;  // writing, or waiting for the front chunk's due time
    bool eof = false;   // `from` finished sending
    bool shut = false;  // `to` was shut down for sending
  };

  Conn(Impl& p, std::uint64_t conn_id)
      : proxy(p),
        id(conn_id),
        client(p.ioc),
        upstream(p.ioc),
        up(client, upstream, p.bytes_to_target, true),
        down(upstream, client, p.bytes_to_client, false) {}

  Impl& proxy;
  std::uint64_t id;
  tcp::socket client;
  tcp::socket upstream;
  Pipe up;    // client -> target
  Pipe down;  // target -> client
  bool connected = false;
  bool closed = false;
  bool blackholed = false;
  bool cutting = false;                 // the cut chunk is queued: read nothing more
  std::optional<std::uint64_t> budget;  // `cut`: close once `forwarded` reaches it
  std::uint64_t forwarded = 0;          // bytes queued for forwarding, both ways

  void connect() {
    upstream.async_connect(proxy.target, [self = shared_from_this()](error_code ec) {
      if (self->closed) return;
      if (ec) {
        ++self->proxy.connect_failures;
        self->close(/*reset=*/true);
        return;
      }
      self->connected = true;
      error_code ignored;
      self->upstream.set_option(tcp::no_delay(true), ignored);
      self->read(self->up);
      self->read(self->down);
    });
  }

  void close(bool reset) {
    if (closed) return;
    closed = true;
    // Counted before the peers can see it.
    if (proxy.conns.erase(id) > 0) --proxy.live;
    Impl::close_socket(client, reset);
    Impl::close_socket(upstream, reset);
    up.timer.cancel();
    down.timer.cancel();
  }

  // A connection swallowed by the blackhole: nothing is forwarded or closed from now on; both
  // sides are read and discarded (only the client's own close ends it).
  void swallow() {
    if (blackholed) return;
    blackholed = true;
    ++proxy.blackholed;
    for (Pipe* p : {&up, &down}) {
      p->timer.cancel();
      if (!p->busy) {
        p->queue.clear();
        p->queued = 0;
      }
    }
    read(up);
    read(down);
  }

  bool can_read(const Pipe& p) const {
    if (closed || p.reading || p.eof || !p.from.is_open()) return false;
    if (!p.from_client && !connected) return false;
    if (blackholed) return true;
    return !cutting && p.queued < kMaxQueuedBytes;
  }

  void read(Pipe& p) {
    if (!can_read(p)) return;
    p.reading = true;
    p.from.async_read_some(asio::buffer(p.buf),
                           [self = shared_from_this(), &p](error_code ec, std::size_t n) {
                             p.reading = false;
                             self->on_read(p, ec, n);
                           });
  }

  void on_read(Pipe& p, error_code ec, std::size_t n) {
    if (closed) return;
    if (ec) {
      if (blackholed) {
        p.eof = true;
        if (p.from_client) close(/*reset=*/false);  // the client gave up: nobody is left
        return;
      }
      if (ec == asio::error::eof) {
        p.eof = true;
        flush_done(p);
        return;
      }
      close(/*reset=*/true);  // pass a reset on
      return;
    }
    const FaultMode mode = proxy.mode.load();
    if (blackholed || mode == FaultMode::blackhole) {
      if (!blackholed) swallow();
      proxy.discarded_bytes += n;
      read(p);
      return;
    }
    if (mode == FaultMode::drop) {
      ++proxy.dropped;
      close(proxy.coin());
      return;
    }
    std::size_t take = n;
    bool cut_now = false;
    if (mode == FaultMode::cut) {
      if (!budget) budget = forwarded + proxy.cut_budget();
      if (forwarded + n > *budget) {
        take = static_cast<std::size_t>(*budget - forwarded);
        cut_now = true;
      }
    } else {
      budget.reset();
    }
    forwarded += take;
    if (cut_now && take == 0) {
      cut();
      return;
    }
    Chunk chunk;
    chunk.due = Clock::now();
    if (mode == FaultMode::delay) {
      chunk.due += std::chrono::milliseconds(proxy.delay_ms.load());
      ++proxy.delayed_chunks;
    }
    chunk.data.assign(p.buf.data(), take);
    chunk.cut_after = cut_now;
    if (cut_now) cutting = true;
    p.queued += take;
    p.queue.push_back(std::move(chunk));
    write(p);
    read(p);
  }

  void cut() {
    ++proxy.cuts;
    close(proxy.coin());
  }

  void write(Pipe& p) {
    if (closed || blackholed || p.busy || p.queue.empty()) return;
    auto& front = p.queue.front();
    p.busy = true;
    if (front.due > Clock::now()) {
      p.timer.expires_at(front.due);
      p.timer.async_wait([self = shared_from_this(), &p](error_code) {
        p.busy = false;
        self->after_write_or_wait(p);
      });
      return;
    }
    asio::async_write(p.to, asio::buffer(front.data),
                      [self = shared_from_this(), &p](error_code ec, std::size_t n) {
                        p.busy = false;
                        if (self->closed) return;
                        if (ec) {
                          if (!self->blackholed) self->close(/*reset=*/true);
                          return;
                        }
                        p.counter += n;
                        p.queued -= p.queue.front().data.size();
                        const bool cut_after = p.queue.front().cut_after;
                        p.queue.pop_front();
                        if (cut_after) {
                          self->cut();
                          return;
                        }
                        self->after_write_or_wait(p);
                      });
  }

  void after_write_or_wait(Pipe& p) {
    if (closed) return;
    if (blackholed) {
      p.queue.clear();
      p.queued = 0;
      return;
    }
    if (p.queue.empty()) {
      flush_done(p);
    } else {
      write(p);
    }
    read(p);
  }

  // `from` finished and everything it sent was forwarded: pass the end on; both ends done: close.
  void flush_done(Pipe& p) {
    if (!p.eof || p.busy || !p.queue.empty() || closed) return;
    if (!p.shut) {
      p.shut = true;
      error_code ignored;
      p.to.shutdown(tcp::socket::shutdown_send, ignored);
    }
    if (up.shut && down.shut) close(/*reset=*/false);
  }
};

void FaultProxy::Impl::accept() {
  acceptor.async_accept([this](error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      accept();
      return;
    }
    ++connections;
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const FaultMode m = mode.load();
    if (m == FaultMode::drop || conns.size() >= kMaxConnections) {
      if (m == FaultMode::drop) ++dropped;
      close_socket(socket, coin() || m != FaultMode::drop);
      accept();
      return;
    }
    const auto id = next_id++;
    auto conn = std::make_shared<Conn>(*this, id);
    conn->client = std::move(socket);
    conns.emplace(id, conn);
    ++live;
    if (m == FaultMode::blackhole) {
      conn->swallow();
    } else {
      conn->connect();
    }
    accept();
  });
}

std::size_t FaultProxy::Impl::close_all(bool by_cut_all) {
  std::vector<std::shared_ptr<Conn>> all;
  for (auto& [id, conn] : conns) all.push_back(conn);
  if (by_cut_all) closed_by_cut_all += all.size();
  for (auto& conn : all) conn->close(by_cut_all && coin());
  return all.size();
}

FaultProxy::FaultProxy(const std::string& target, std::uint64_t seed)
    : impl_(std::make_unique<Impl>(target, seed)) {}

FaultProxy::~FaultProxy() = default;

std::string FaultProxy::address() const { return impl_->address; }

void FaultProxy::set_mode(FaultMode mode) { impl_->mode = mode; }

void FaultProxy::set_delay(std::chrono::milliseconds delay) {
  impl_->delay_ms = std::max<std::int64_t>(0, delay.count());
}

void FaultProxy::set_cut_range(std::uint64_t min_bytes, std::uint64_t max_bytes) {
  impl_->cut_min = std::max<std::uint64_t>(1, min_bytes);
  impl_->cut_max = std::max(impl_->cut_min.load(), max_bytes);
}

std::size_t FaultProxy::cut_all() {
  std::promise<std::size_t> closed;
  auto result = closed.get_future();
  asio::post(impl_->ioc,
             [this, &closed] { closed.set_value(impl_->close_all(/*by_cut_all=*/true)); });
  return result.get();
}

FaultProxyCounters FaultProxy::counters() const {
  const Impl& i = *impl_;
  FaultProxyCounters c;
  c.connections = i.connections.load();
  c.live = i.live.load();
  c.connect_failures = i.connect_failures.load();
  c.bytes_to_target = i.bytes_to_target.load();
  c.bytes_to_client = i.bytes_to_client.load();
  c.delayed_chunks = i.delayed_chunks.load();
  c.dropped = i.dropped.load();
  c.cuts = i.cuts.load();
  c.blackholed = i.blackholed.load();
  c.discarded_bytes = i.discarded_bytes.load();
  c.closed_by_cut_all = i.closed_by_cut_all.load();
  return c;
}

}  // namespace weighlink::testing
