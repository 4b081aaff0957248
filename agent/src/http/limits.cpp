#include "weighlink/agent/limits.hpp"

namespace weighlink::agent {

ConnectionTable::Admission ConnectionTable::admit(int listener) const {
  if (open(listener) < max_) return {};
  const Entry* oldest = nullptr;
  Id oldest_id = 0;
  for (const auto& [id, e] : entries_) {
    if (e.listener != listener || e.busy) continue;
    if (!oldest || e.idle_since < oldest->idle_since) {
      oldest = &e;
      oldest_id = id;
    }
  }
  if (!oldest) return {Admission::Kind::refuse, 0};
  return {Admission::Kind::evict, oldest_id};
}

ConnectionTable::Id ConnectionTable::add(int listener, SteadyTime now) {
  const Id id = next_++;
  entries_[id] = Entry{listener, false, now};
  ++open_[listener];
  return id;
}

void ConnectionTable::set_busy(Id id, bool busy, SteadyTime now) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  if (it->second.busy && !busy) it->second.idle_since = now;
  it->second.busy = busy;
}

void ConnectionTable::remove(Id id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  --open_[it->second.listener];
  entries_.erase(it);
}

std::size_t ConnectionTable::open(int listener) const {
  auto it = open_.find(listener);
  return it == open_.end() ? 0 : it->second;
}

bool BodyBudget::reserve(std::size_t bytes) {
  if (bytes > total_ - used_) return false;
  used_ += bytes;
  return true;
}

void BodyBudget::release(std::size_t bytes) { used_ -= bytes > used_ ? used_ : bytes; }

bool AcceptPause::on_exhausted() {
  ++failures_;
  if (exhausted_) return false;
  exhausted_ = true;
  return true;
}

std::optional<std::uint64_t> AcceptPause::on_accepted() {
  if (!exhausted_) return std::nullopt;
  exhausted_ = false;
  const auto n = failures_;
  failures_ = 0;
  return n;
}

bool LogLimiter::allow(SteadyTime now, std::uint64_t* suppressed) {
  if (!started_ || now - window_start_ >= period_) {
    started_ = true;
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ >= burst_) {
    ++suppressed_;
    return false;
  }
  ++in_window_;
  if (suppressed) *suppressed = suppressed_;
  suppressed_ = 0;
  return true;
}

}  // namespace weighlink::agent
