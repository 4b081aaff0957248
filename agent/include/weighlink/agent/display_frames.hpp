#pragma once
// What a remote display is sent (docs/devices.md, "Remote display"): the live reading of its scale
// encoded by scale/'s own encoders (the ones `weighlink-scale simulate` speaks), the indicator's
// exact decimal weight never re-rounded, motion through the protocol's motion flag, and a stale
// reading shown the way the protocol allows. Pure: no I/O, no clock, no threads.

#include <optional>
#include <string>
#include <string_view>

#include "weighlink/scale/encode.hpp"
#include "weighlink/scale/reading.hpp"

namespace weighlink::agent::display {

// How a protocol shows "no fresh weight".
enum class StaleStyle {
  // A frame whose status says "not a valid weight": out of range (over capacity; a display shows
  // dashes or its over-range sign) with motion where the format has a motion flag, so neither
  // the display nor a parser reading it takes the digits as a weight. Toledo continuous: SWB
  // bits 2 (out of range) and 3 (motion).
  status_frame,
  // The format cannot say it (no over-range flag: it would show a false weight), so nothing is
  // sent: the display blanks after its own no-data timeout.
  stop_sending,
};

// Decided by encoding an out-of-range frame and decoding it with the protocol's own parser: a
// protocol whose parser reads it back as over or under range gets status_frame. New encoders
// need no table entry here.
[[nodiscard]] StaleStyle stale_style(std::string_view protocol);

[[nodiscard]] std::string_view to_string(StaleStyle style);  // "status_frame", "stop_sending"

// The display state an indicator showing `reading` had: weight, tare, unit, mode, decks and the
// flags exactly as read; motion when not stable.
[[nodiscard]] scale::DisplayState display_state(const scale::Reading& reading);

// The bytes for `latest` (none yet, or stale: the stale form of `style`); nullopt when nothing is
// to be sent (no reading yet, stale on a stop_sending protocol, or no encoder for `protocol`).
[[nodiscard]] std::optional<std::string> frame_for(std::string_view protocol, StaleStyle style,
                                                   const std::optional<scale::Reading>& latest);

}  // namespace weighlink::agent::display
