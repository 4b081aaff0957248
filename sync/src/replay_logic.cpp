// The replay worker's pure pieces that are not the cursor: the adaptive batch size, the window of
// calls in flight and the uplink state's name.
#include <algorithm>

#include "weighlink/sync/replay.hpp"

namespace weighlink::sync {

AdaptiveBatch::AdaptiveBatch(std::size_t max, std::size_t initial, std::chrono::milliseconds target)
    : max_(std::max<std::size_t>(max, 1)),
      size_(std::clamp<std::size_t>(initial, 1, std::max<std::size_t>(max, 1))),
      target_(target) {}

void AdaptiveBatch::on_answer(std::size_t sent, std::chrono::milliseconds latency) {
  if (latency > target_) {
    slow_start_ = false;
    size_ = std::max<std::size_t>(1, size_ - size_ / 4);
    return;
  }
  if (sent < size_) return;  // a short batch says nothing about a larger one
  const std::size_t grown = slow_start_ ? size_ * 2 : size_ + std::max<std::size_t>(1, size_ / 4);
  size_ = std::min(max_, grown);
}

void AdaptiveBatch::on_pressure() {
  slow_start_ = false;
  size_ = std::max<std::size_t>(1, size_ / 2);
}

void AdaptiveBatch::on_limit(std::size_t limit) {
  if (limit == 0) return;
  max_ = std::min(max_, limit);
  size_ = std::min(size_, max_);
}

ReplayWindow::ReplayWindow(std::size_t max, std::chrono::milliseconds target,
                           std::chrono::milliseconds hold)
    : max_(std::max<std::size_t>(max, 1)), target_(target), hold_(hold) {}

void ReplayWindow::on_answer(bool clean, std::chrono::milliseconds latency, TimePoint now) {
  if (!clean) {
    on_trouble(now);
    return;
  }
  if (latency > target_) {
    size_ = std::max<std::size_t>(1, size_ - 1);
    return;
  }
  if (now >= calm_from_) size_ = std::min(max_, size_ + 1);
}

void ReplayWindow::on_trouble(TimePoint now) {
  size_ = 1;
  calm_from_ = now + hold_;
}

std::string_view to_string(UplinkState state) {
  switch (state) {
    case UplinkState::disabled:
      return "disabled";
    case UplinkState::connecting:
      return "connecting";
    case UplinkState::online:
      return "online";
    case UplinkState::offline:
      return "offline";
  }
  return "unknown";
}

}  // namespace weighlink::sync
