#include "weighlink/scale/scale_config.hpp"

#include <algorithm>

#include "weighlink/scale/poll.hpp"

namespace weighlink::scale {

std::chrono::milliseconds effective_poll_interval(const ScaleConfig& config) {
  if (config.poll_interval) return *config.poll_interval;
  // A configured command says the indicator is polled; so does the protocol (TruConnect parity:
  // a polled indicator with no poll setting would otherwise never send a frame).
  if (!config.poll_command.empty() || polled_by_default(config.protocol)) {
    return kDefaultPollInterval;
  }
  return std::chrono::milliseconds(0);
}

std::string poll_request(const ScaleConfig& config) {
  if (effective_poll_interval(config).count() <= 0) return {};
  if (!config.poll_command.empty()) return config.poll_command;
  return default_poll_command(config.protocol).value_or(std::string());
}

std::optional<CaptureRefusal> capture_refusal(const Reading& reading, const ScaleConfig& config) {
  // Order: the most fundamental reason first, so the operator fixes that one.
  if (reading.stale) return CaptureRefusal::stale;
  if (reading.overload) return CaptureRefusal::overload;
  if (reading.underload) return CaptureRefusal::underload;
  if (!reading.stable) return CaptureRefusal::motion;
  for (const auto& deck : reading.decks) {
    if (!deck.stable) return CaptureRefusal::motion;
  }
  if (std::is_lt(reading.weight.compare(config.min_capture_weight)))
    return CaptureRefusal::below_minimum;
  return std::nullopt;
}

std::chrono::milliseconds next_reopen_backoff(std::chrono::milliseconds current,
                                              const ScaleConfig& config) {
  return std::min(current * 2, config.reopen_backoff_max);
}

AxleMode axle_mode(const ScaleConfig& config) {
  if (config.axle_mode) return *config.axle_mode;
  return config.protocol == "mcgs" ? AxleMode::cumulative : AxleMode::direct;
}

std::string_view to_string(CaptureRefusal refusal) {
  switch (refusal) {
    case CaptureRefusal::stale:
      return "scale is stale (no valid frame from the indicator)";
    case CaptureRefusal::motion:
      return "weight is not stable";
    case CaptureRefusal::overload:
      return "indicator reports overload";
    case CaptureRefusal::underload:
      return "indicator reports underload";
    case CaptureRefusal::below_minimum:
      return "weight is below the minimum capture weight";
  }
  return "not capturable";
}

}  // namespace weighlink::scale
