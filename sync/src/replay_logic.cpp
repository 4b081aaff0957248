#include "weighlink/sync/replay.hpp"

namespace weighlink::sync {

std::optional<std::uint64_t> rewind_point(std::uint64_t backend_high_water,
                                          std::uint64_t local_acknowledged_seq) {
  if (backend_high_water >= local_acknowledged_seq) return std::nullopt;
  return backend_high_water;
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
