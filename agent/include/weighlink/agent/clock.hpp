#pragma once
// The time the agent's cores read, injected so that tests drive it by hand: the wall clock for
// what is recorded (captured_at, created_at_ms, notices) and the steady clock for deadlines and
// uptime (a capture's timeout must not stretch or shrink when the wall clock is set).
// Threading: implementations are called from the io thread; real_clock() from any thread.

#include <chrono>
#include <cstdint>

namespace weighlink::agent {

class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual std::chrono::system_clock::time_point now() const = 0;
  [[nodiscard]] virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

// The machine's clocks (stateless, lives for the whole program). What the daemon wires.
[[nodiscard]] const Clock& real_clock();

// Milliseconds since 1970, the unit the outbox and the pairing store keep.
[[nodiscard]] inline std::int64_t to_ms(std::chrono::system_clock::time_point tp) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
}

}  // namespace weighlink::agent
