#pragma once
// Keeps one station's Replay batches in seq order on this replica. An agent keeps several Replay
// calls in flight (its window, sync/replay.hpp); between its channel and the worker pool a batch
// may overtake its predecessor, take the station's row lock first and be answered with a gap
// (expected_seq), which makes the agent drop its window and re-send. The gate makes a batch wait,
// bounded, before its transaction while its predecessor is still to be served here:
// - a batch of the same station that arrived here with a lower first seq is not finished: wait
//   until it is, at most `max_wait` after arriving;
// - none is, but the station's high water last answered here is known and the batch starts past
//   it + 1: its predecessor may still be on its way; wait at most `straggler_wait` after arriving.
// After that it goes anyway: the transaction's FOR UPDATE lock and the expected_seq answer keep
// the rules (across replicas they are all there is). No batch waits longer than `max_wait`; the
// worker pool's queue limit and RESOURCE_EXHAUSTED are unchanged.
//
// OrderBook is the pure core (the time is an argument); OrderGate wraps it with a mutex and a
// condition variable. Threading: OrderBook is not thread-safe; OrderGate and its tickets are.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace weighlink::service {

class OrderBook {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Options {
    std::chrono::milliseconds max_wait{2000};
    std::chrono::milliseconds straggler_wait{50};
    std::size_t max_stations = 100'000;  // idle stations' high waters forgotten beyond this
  };
  struct Turn {
    bool go = true;
    TimePoint until{};  // when not go: ask again at the latest then (or when a batch leaves)
  };

  explicit OrderBook(Options options) : options_(options) {}

  // A batch of `station` starting at seq `first` arrived; returns its id.
  std::uint64_t arrive(const std::string& station, std::uint64_t first, TimePoint now);
  // May batch `id` start its transaction now?
  [[nodiscard]] Turn turn(std::uint64_t id, TimePoint now) const;
  // Batch `id` is finished; `high_water` is the station's high water it was answered with
  // (nullopt: it failed or was not served).
  void leave(std::uint64_t id, std::optional<std::uint64_t> high_water);
  // Batches arrived and not finished.
  [[nodiscard]] std::size_t open() const { return entries_.size(); }

 private:
  struct Entry {
    std::string station;
    std::uint64_t first = 0;
    TimePoint arrived{};
  };
  struct Station {
    std::optional<std::uint64_t> high_water;
    std::map<std::uint64_t, std::uint64_t> open;  // id -> first seq
  };

  Options options_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, Entry> entries_;
  std::map<std::string, Station, std::less<>> stations_;
};

class OrderGate {
 public:
  explicit OrderGate(OrderBook::Options options = {}) : book_(options) {}

  // One batch's place; leaves the book when destroyed if done() was not called.
  class Ticket {
   public:
    Ticket(OrderGate& gate, std::uint64_t id) : gate_(gate), id_(id) {}
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { done(std::nullopt); }
    // Blocks until the batch's turn (bounded: OrderBook::Options::max_wait). True when it waited.
    bool wait();
    void done(std::optional<std::uint64_t> high_water);

   private:
    OrderGate& gate_;
    std::uint64_t id_;
    bool left_ = false;
  };

  // A batch arrived (call on the reaction thread, in arrival order).
  std::shared_ptr<Ticket> arrive(const std::string& station, std::uint64_t first);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  OrderBook book_;
};

}  // namespace weighlink::service
