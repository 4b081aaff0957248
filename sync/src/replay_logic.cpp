#include <algorithm>

#include "weighlink/sync/replay.hpp"

namespace weighlink::sync {

std::optional<std::uint64_t> rewind_point(std::uint64_t backend_high_water,
                                          std::uint64_t local_acknowledged_seq) {
  if (backend_high_water >= local_acknowledged_seq) return std::nullopt;
  return backend_high_water;
}

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

namespace weighlink::sync {

bool content_failure(int grpc_code) {
  // grpc::StatusCode values (grpcpp/impl/codegen/status_code_enum.h), without the gRPC include:
  // this core has none.
  constexpr int kInvalidArgument = 3;
  constexpr int kFailedPrecondition = 9;
  constexpr int kOutOfRange = 11;
  constexpr int kInternal = 13;
  constexpr int kDataLoss = 15;
  return grpc_code == kInvalidArgument || grpc_code == kFailedPrecondition ||
         grpc_code == kOutOfRange || grpc_code == kInternal || grpc_code == kDataLoss;
}

Isolation::Step Isolation::on_failure(std::uint64_t first_seq, std::size_t count) {
  if (!limit_) isolating_through_ = first_seq + count - 1;
  if (count <= 1) {
    struck_ = struck_seq_ == first_seq ? struck_ + 1 : 1;
    struck_seq_ = first_seq;
    if (struck_ >= strikes_) {
      struck_ = 0;
      struck_seq_ = 0;
      // What follows the withheld one is sent one by one until the first failed call's rows are
      // through: another of them may fail the call too.
      limit_ = 1;
      return Step{true, 1};
    }
    limit_ = 1;
    return Step{false, 1};
  }
  limit_ = std::max<std::size_t>(1, count / 2);
  return Step{false, *limit_};
}

void Isolation::on_answer(std::uint64_t last_seq) {
  if (struck_seq_ != 0 && last_seq >= struck_seq_) {
    struck_ = 0;
    struck_seq_ = 0;
  }
  if (limit_ && last_seq >= isolating_through_) limit_.reset();
}

}  // namespace weighlink::sync
