#pragma once
// What Captures' two halves share (core/captures.cpp: static captures and saved sessions;
// core/captures_axles.cpp: axle sessions).

#include <string>
#include <string_view>

#include "weighlink/agent/captures.hpp"

namespace weighlink::agent {

// The outbox state key prefix of a scale's open axle session ("axle-session/<scale>").
inline constexpr std::string_view kSessionPrefix = "axle-session/";

// The weighing is in the outbox (accepted now, or earlier with the same key).
[[nodiscard]] bool recorded(const CaptureOutcome& outcome);

// 503 scale_unavailable: no current reading, with why (the source's detail).
[[nodiscard]] CaptureError unavailable(const std::string& scale_id, const ScaleLive* s);

}  // namespace weighlink::agent
