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

OrderBook::Turn OrderBook::turn(std::uint64_t id, TimePoint now) const {
  const auto entry = entries_.find(id);
  if (entry == entries_.end()) return {};
  const auto& e = entry->second;
  const auto station = stations_.find(e.station);
  if (station == stations_.end()) return {};
  const auto& s = station->second;
  const bool predecessor_open = std::any_of(s.open.begin(), s.open.end(), [&](const auto& other) {
    return other.first != id && other.second < e.first;
  });
  if (predecessor_open) {
    const auto until = e.arrived + options_.max_wait;
    if (now < until) return {false, until};
    return {};
  }
  if (s.high_water && e.first > *s.high_water + 1) {
    const auto until = e.arrived + options_.straggler_wait;
    if (now < until) return {false, until};
  }
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

std::shared_ptr<OrderGate::Ticket> OrderGate::arrive(const std::string& station,
                                                     std::uint64_t first) {
  std::lock_guard lock(mu_);
  return std::make_shared<Ticket>(*this,
                                  book_.arrive(station, first, std::chrono::steady_clock::now()));
}

bool OrderGate::Ticket::wait() {
  std::unique_lock lock(gate_.mu_);
  bool waited = false;
  for (;;) {
    const auto turn = gate_.book_.turn(id_, std::chrono::steady_clock::now());
    if (turn.go) return waited;
    waited = true;
    gate_.cv_.wait_until(lock, turn.until);
  }
}

void OrderGate::Ticket::done(std::optional<std::uint64_t> high_water) {
  {
    std::lock_guard lock(gate_.mu_);
    if (left_) return;
    left_ = true;
    gate_.book_.leave(id_, high_water);
  }
  gate_.cv_.notify_all();
}

}  // namespace weighlink::service
