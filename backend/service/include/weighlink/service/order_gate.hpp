#pragma once
// Keeps one station's Replay batches in seq order on this replica. An agent keeps several Replay
// calls in flight (its window, sync/replay.hpp); between its channel and the worker pool a batch
// may overtake its predecessor (gRPC may run the calls' reactions out of order), take the
// station's row lock first and be answered with a gap (expected_seq), which makes the agent drop
// its window and re-send. The gate orders a station's batches by first seq, bounded:
// - when a worker picks a batch up (begin): a batch of the same station with a lower first seq is
//   still queued for a worker: go back to the end of the queue (requeue), so that the worker
//   serves it first; none is known, but the station's high water last answered here is known and
//   the batch starts past it + 1: wait at most `straggler_wait` (from arrival) for a predecessor
//   still on its way;
// - before its transaction (wait): a batch of the same station with a lower first seq is on a
//   worker: wait until it is done (its transaction committed or failed).
// No batch is held past `max_wait` after arriving: then it goes, and the transaction's FOR
// UPDATE lock and the expected_seq answer keep the rules (across replicas they are all there
// is). A waiting batch waits only for batches already on a worker, so waits end; the pool's
// queue limit and RESOURCE_EXHAUSTED are unchanged (a requeue the full queue refuses just goes).
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
  enum class Step { go, wait, requeue };
  struct Turn {
    Step step = Step::go;
    TimePoint until{};  // wait: ask again at the latest then (or when a batch arrives or leaves)
  };

  explicit OrderBook(Options options) : options_(options) {}

  // A batch of `station` starting at seq `first` arrived; returns its id.
  std::uint64_t arrive(const std::string& station, std::uint64_t first, TimePoint now);
  // A worker picked batch `id` up: go on, wait, or requeue (it is then queued again).
  [[nodiscard]] Turn begin(std::uint64_t id, TimePoint now);
  // May batch `id`, on a worker, start its transaction now? go or wait.
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
    bool on_worker = false;
  };
  enum class Predecessor { none, queued, on_worker };
  [[nodiscard]] Predecessor predecessor(std::uint64_t id, const Entry& e) const;
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
  struct State;

 public:
  explicit OrderGate(OrderBook::Options options = {});

  // One batch's place; leaves the book when destroyed if done() was not called. Keeps what it
  // needs alive: a ticket may outlive the gate (a job still queued when the service goes).
  class Ticket {
   public:
    Ticket(std::shared_ptr<State> state, std::uint64_t id) : state_(std::move(state)), id_(id) {}
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { done(std::nullopt); }
    // A worker picked the batch up: true to serve it, false to queue it again (requeue). May
    // block briefly (straggler_wait).
    [[nodiscard]] bool begin();
    // Before the transaction: blocks while an earlier batch of the station is on a worker
    // (bounded: max_wait). True when it waited.
    bool wait();
    void done(std::optional<std::uint64_t> high_water);

   private:
    std::shared_ptr<State> state_;
    std::uint64_t id_;
    bool left_ = false;  // under state_->mu
  };

  // A batch arrived (call on the reaction thread, in arrival order).
  std::shared_ptr<Ticket> arrive(const std::string& station, std::uint64_t first);

 private:
  struct State {
    explicit State(OrderBook::Options options) : book(options) {}
    std::mutex mu;
    std::condition_variable cv;
    OrderBook book;
  };
  std::shared_ptr<State> state_;
};

}  // namespace weighlink::service
