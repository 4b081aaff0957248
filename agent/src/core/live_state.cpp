#include "weighlink/agent/live_state.hpp"

namespace weighlink::agent {

void LiveState::add_scale(const scale::ScaleConfig& config) {
  if (find(config.id)) return;
  ScaleLive s;
  s.id = config.id;
  s.protocol = config.protocol;
  s.config = config;
  scales_.push_back(std::move(s));
}

ScaleLive* LiveState::find_mutable(const std::string& id) {
  for (auto& s : scales_) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

const ScaleLive* LiveState::find(const std::string& id) const {
  for (const auto& s : scales_) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

void LiveState::on_reading(const scale::Reading& reading, std::uint64_t count) {
  auto* s = find_mutable(reading.scale);
  if (!s) return;
  s->latest = reading;
  if (!reading.stale) s->readings += count;
  if (!reading.stale && !reading.stable) s->last_motion_seq = reading.seq;
  if (!reading.stale) {
    s->recent.push_back(reading);
    if (s->recent.size() > kRecentReadings) s->recent.pop_front();
  }
}

bool LatestReading::put(const scale::Reading& reading) {
  std::lock_guard lock(mutex_);
  latest_ = reading;
  if (!reading.stale) ++arrived_;
  if (pending_) return false;
  pending_ = true;
  return true;
}

std::optional<std::pair<scale::Reading, std::uint64_t>> LatestReading::take() {
  std::lock_guard lock(mutex_);
  pending_ = false;
  if (!latest_) return std::nullopt;
  std::pair<scale::Reading, std::uint64_t> out{std::move(*latest_), arrived_};
  latest_.reset();
  arrived_ = 0;
  return out;
}

void LiveState::on_connection(const std::string& id, bool connected, const std::string& detail) {
  auto* s = find_mutable(id);
  if (!s) return;
  s->connected = connected;
  s->detail = detail;
}

}  // namespace weighlink::agent
