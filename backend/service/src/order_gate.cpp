// The per-station order gate of Replay batches on one replica (order_gate.hpp).
#include "weighlink/service/order_gate.hpp"

#include <algorithm>

namespace weighlink::service {

std::uint64_t OrderBook::arrive(const std::string& station, std::uint64_t first, TimePoint now) {
  if (stations_.size() >= options_.max_stations) {
    std::erase_if(stations_, [](const auto& s) { return s.second.open.empty(); });
  }
  const auto id = next_id_++;
  entries_.emplace(id, Entry{station, first, now});
  stations_[station].open.emplace(id, first);
  return id;
}

OrderBook::Predecessor OrderBook::predecessor(std::uint64_t id, const Entry& e) const {
  const auto station = stations_.find(e.station);
  if (station == stations_.end()) return Predecessor::none;
  auto found = Predecessor::none;
  for (const auto& [other, first] : station->second.open) {
    if (other == id || first >= e.first) continue;
    if (!entries_.at(other).on_worker) return Predecessor::queued;
    found = Predecessor::on_worker;
  }
  return found;
}

OrderBook::Turn OrderBook::begin(std::uint64_t id, TimePoint now) {
  const auto entry = entries_.find(id);
  if (entry == entries_.end()) return {};
  auto& e = entry->second;
  if (now >= e.arrived + options_.max_wait) {
    e.on_worker = true;
    return {};
  }
  switch (predecessor(id, e)) {
    case Predecessor::queued:
      e.on_worker = false;
      return {Step::requeue, {}};
    case Predecessor::on_worker:
      e.on_worker = true;
      return {};  // turn() waits for it before the transaction
    case Predecessor::none:
      break;
  }
  e.on_worker = true;
  const auto& s = stations_.at(e.station);
  if (s.high_water && e.first > *s.high_water + 1 && now < e.arrived + options_.straggler_wait) {
    return {Step::wait, e.arrived + options_.straggler_wait};
  }
  return {};
}

OrderBook::Turn OrderBook::turn(std::uint64_t id, TimePoint now) const {
  const auto entry = entries_.find(id);
  if (entry == entries_.end()) return {};
  const auto& e = entry->second;
  const auto until = e.arrived + options_.max_wait;
  if (now < until && predecessor(id, e) == Predecessor::on_worker) return {Step::wait, until};
  return {};
}

void OrderBook::leave(std::uint64_t id, std::optional<std::uint64_t> high_water) {
  const auto entry = entries_.find(id);
  if (entry == entries_.end()) return;
  auto station = stations_.find(entry->second.station);
  if (station != stations_.end()) {
    station->second.open.erase(id);
    if (high_water) station->second.high_water = high_water;
  }
  entries_.erase(entry);
}

OrderGate::OrderGate(OrderBook::Options options) : state_(std::make_shared<State>(options)) {}

std::shared_ptr<OrderGate::Ticket> OrderGate::arrive(const std::string& station,
                                                     std::uint64_t first) {
  std::shared_ptr<Ticket> ticket;
  {
    std::lock_guard lock(state_->mu);
    ticket = std::make_shared<Ticket>(
        state_, state_->book.arrive(station, first, std::chrono::steady_clock::now()));
  }
  state_->cv.notify_all();  // a batch waiting for a straggler looks again
  return ticket;
}

bool OrderGate::Ticket::begin() {
  std::unique_lock lock(state_->mu);
  for (;;) {
    const auto turn = state_->book.begin(id_, std::chrono::steady_clock::now());
    if (turn.step == OrderBook::Step::go) return true;
    if (turn.step == OrderBook::Step::requeue) return false;
    state_->cv.wait_until(lock, turn.until);
  }
}

bool OrderGate::Ticket::wait() {
  std::unique_lock lock(state_->mu);
  bool waited = false;
  for (;;) {
    const auto turn = state_->book.turn(id_, std::chrono::steady_clock::now());
    if (turn.step == OrderBook::Step::go) return waited;
    waited = true;
    state_->cv.wait_until(lock, turn.until);
  }
}

void OrderGate::Ticket::done(std::optional<std::uint64_t> high_water) {
  {
    std::lock_guard lock(state_->mu);
    if (left_) return;
    left_ = true;
    state_->book.leave(id_, high_water);
  }
  state_->cv.notify_all();
}

}  // namespace weighlink::service
