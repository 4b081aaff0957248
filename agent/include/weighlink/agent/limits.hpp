#pragma once
// The server's resource decisions as small state machines without sockets or clocks (the time is
// an argument): connection slots per listener, the shared budget of request-body bytes, the accept
// pause after "too many open files", and rate-limited log lines. docs/security.md, "Resources".
// Threading: none of them is thread-safe; the server uses them on its io thread only.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

namespace weighlink::agent {

using SteadyTime = std::chrono::steady_clock::time_point;

// Open connections per listener. An HTTP connection waiting for its next request is idle; one
// whose request is being read, handled or answered, and every live socket, is busy. At the cap a
// new connection takes the slot of the longest-idle connection (closed: it had no request under
// way, and a keep-alive client simply reconnects), and is refused only when every slot is busy.
// So idle floods (slowloris included: a header that never ends is idle) cannot lock out a health
// probe, and a flood of real work gets fast 503s instead of hanging connections.
class ConnectionTable {
 public:
  using Id = std::uint64_t;
  explicit ConnectionTable(std::size_t max_per_listener) : max_(max_per_listener) {}

  struct Admission {
    enum class Kind { admit, evict, refuse } kind = Kind::admit;
    Id evict = 0;  // kind == evict: close this connection, then admit
  };
  // What to do with a new connection on `listener`; changes nothing.
  [[nodiscard]] Admission admit(int listener) const;
  // Registers an admitted connection, idle since `now`.
  Id add(int listener, SteadyTime now);
  void set_busy(Id id, bool busy, SteadyTime now);
  void remove(Id id);
  [[nodiscard]] std::size_t open(int listener) const;
  [[nodiscard]] std::size_t max() const { return max_; }

 private:
  struct Entry {
    int listener = 0;
    bool busy = false;
    SteadyTime idle_since{};
  };
  std::size_t max_;
  Id next_ = 1;
  std::map<Id, Entry> entries_;
  std::map<int, std::size_t> open_;
};

// Request-body bytes being received at once, over every connection. A request reserves its
// Content-Length (or the per-request limit when chunked) before its body is read and releases it
// once answered, so N slow senders cannot make the agent hold N x the body limit.
class BodyBudget {
 public:
  explicit BodyBudget(std::size_t total) : total_(total) {}
  [[nodiscard]] bool reserve(std::size_t bytes);
  void release(std::size_t bytes);
  [[nodiscard]] std::size_t in_use() const { return used_; }
  [[nodiscard]] std::size_t total() const { return total_; }

 private:
  std::size_t total_;
  std::size_t used_ = 0;
};

// Accepting after EMFILE/ENFILE: pause (never retry at once, which spins the loop at 100 % CPU)
// and log once per episode; the episode ends at the next successful accept.
class AcceptPause {
 public:
  // An accept failed for lack of descriptors. True when this starts an episode (log it).
  bool on_exhausted();
  // An accept succeeded: when it ends an episode, the number of failed accepts in it.
  std::optional<std::uint64_t> on_accepted();
  [[nodiscard]] bool exhausted() const { return exhausted_; }

 private:
  bool exhausted_ = false;
  std::uint64_t failures_ = 0;
};

// At most `burst` lines per `period`; the lines left out are counted and reported with the next
// line that goes out.
class LogLimiter {
 public:
  LogLimiter(std::chrono::milliseconds period, unsigned burst) : period_(period), burst_(burst) {}
  // True: log this event; `suppressed` (if given) gets how many were left out before it.
  bool allow(SteadyTime now, std::uint64_t* suppressed = nullptr);

 private:
  std::chrono::milliseconds period_;
  unsigned burst_;
  SteadyTime window_start_{};
  unsigned in_window_ = 0;
  std::uint64_t suppressed_ = 0;
  bool started_ = false;
};

}  // namespace weighlink::agent
