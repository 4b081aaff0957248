#pragma once
// A loopback TCP proxy that injects network faults between two real processes (the agent and the
// backend's gRPC port in tests/integration/replay_faults_test.cpp).
//
// It listens on 127.0.0.1:0 and forwards every accepted connection to one target HOST:PORT, which
// must be a loopback address (anything else is refused: tests never reach out). The fault mode
// can be switched at any time from any thread and applies at once, to new connections when they
// are accepted and to live ones at their next chunk of data:
//
//   pass       forward both ways as it comes.
//   delay      each chunk is forwarded `delay` after it was read, both directions (a latency, not a
//              bandwidth limit: later chunks are read meanwhile, order is kept).
//   drop       a new connection is accepted, then closed at once (RST or FIN, at random); a live
//              connection is reset at its next chunk.
//   cut        each connection gets a random budget of bytes (log-uniform in the cut range, summed
//              over both directions); the chunk that crosses it is forwarded only up to the budget
//              and then both sides are closed (RST or FIN): mid-handshake, mid-frame, mid-answer.
//   blackhole  a new connection is accepted and never connected to the target; live connections
//              stop forwarding. Everything that arrives is read and discarded, nothing is ever sent
//              or closed: only the peer's own deadlines get it out. A connection once blackholed
//              stays so (a silent middlebox that lost its state) until cut_all() or destruction.
//
// cut_all() closes every live connection at once (blackholed ones too), whatever the mode.
//
// Threading: one I/O thread of its own (Boost.Asio); every public member is thread-safe. The
// destructor closes every connection and joins the thread. Memory is bounded: at most
// `kMaxQueuedBytes` wait per direction (reading pauses beyond), and connections beyond
// `kMaxConnections` are refused.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace weighlink::testing {

enum class FaultMode { pass, delay, drop, cut, blackhole };

[[nodiscard]] std::string_view to_string(FaultMode mode);

// What the proxy did so far (monotonic, except `live`).
struct FaultProxyCounters {
  std::uint64_t connections = 0;        // accepted
  std::uint64_t live = 0;               // open now
  std::uint64_t connect_failures = 0;   // the target refused; the client was reset
  std::uint64_t bytes_to_target = 0;    // forwarded client -> target
  std::uint64_t bytes_to_client = 0;    // forwarded target -> client
  std::uint64_t delayed_chunks = 0;     // chunks held back by `delay`
  std::uint64_t dropped = 0;            // connections closed by `drop` (new or live)
  std::uint64_t cuts = 0;               // connections closed mid-stream by `cut`
  std::uint64_t blackholed = 0;         // connections swallowed by `blackhole` (new or live)
  std::uint64_t discarded_bytes = 0;    // read from a blackholed connection and thrown away
  std::uint64_t closed_by_cut_all = 0;  // connections closed by cut_all()
};

class FaultProxy {
 public:
  static constexpr std::size_t kMaxQueuedBytes = 4 << 20;
  static constexpr std::size_t kMaxConnections = 256;

  // `target` is "HOST:PORT" with HOST a loopback address (127.0.0.0/8, ::1, or "localhost").
  // Throws std::invalid_argument for any other target, std::system_error when it cannot listen.
  // `seed` drives every random choice (cut budgets, RST or FIN), so a failing run can be replayed.
  explicit FaultProxy(const std::string& target, std::uint64_t seed = 1);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // "127.0.0.1:PORT": where clients connect instead of the target.
  [[nodiscard]] std::string address() const;

  void set_mode(FaultMode mode);
  // The hold time of `delay` (default 200 ms).
  void set_delay(std::chrono::milliseconds delay);
  // The range of a connection's byte budget under `cut` (default 1 .. 128 KiB), both inclusive.
  void set_cut_range(std::uint64_t min_bytes, std::uint64_t max_bytes);

  // Closes every live connection now; returns how many it closed.
  std::size_t cut_all();

  [[nodiscard]] FaultProxyCounters counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weighlink::testing
