#include "weighlink/agent/frame_flags.hpp"

namespace weighlink::agent {

std::optional<std::string> FlaggedFrames::note(const scale::Reading& reading, SteadyTime now) {
  if (!reading.flag) return std::nullopt;
  const auto& flag = *reading.flag;
  switch (flag.reason) {
    case scale::FlagReason::total_mismatch:
      ++total_mismatch_;
      break;
  }
  std::uint64_t suppressed = 0;
  if (!limiter_.allow(now, &suppressed)) return std::nullopt;
  std::string line = "scale " + reading.scale + ": the indicator's total " +
                     flag.indicator_total.to_string() + " " + reading.unit +
                     " is not the sum of its decks " + flag.decks_sum.to_string() + " " +
                     reading.unit +
                     "; the decks are shown with GVW = their sum and the frame is flagged "
                     "total_mismatch (a capture records both); check the indicator's deck "
                     "configuration and cable";
  if (suppressed > 0) {
    line += " (" + std::to_string(suppressed) + " more flagged frame(s) since the last line)";
  }
  return line;
}

std::uint64_t FlaggedFrames::count(scale::FlagReason reason) const {
  switch (reason) {
    case scale::FlagReason::total_mismatch:
      return total_mismatch_.load();
  }
  return 0;
}

}  // namespace weighlink::agent
