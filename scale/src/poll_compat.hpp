#pragma once
// Internal: a protocol's default poll command for the tools, empty for streaming protocols.
// Guarded so the tools build whether or not this tree has poll.hpp yet.

#include <string>
#include <string_view>

#if __has_include("weighlink/scale/poll.hpp")
#include "weighlink/scale/poll.hpp"
#define WEIGHLINK_SCALE_HAVE_POLL 1
#endif

namespace weighlink::scale::detail {

[[nodiscard]] inline std::string poll_bytes([[maybe_unused]] std::string_view protocol) {
#ifdef WEIGHLINK_SCALE_HAVE_POLL
  return default_poll_command(protocol).value_or(std::string());
#else
  return {};
#endif
}

}  // namespace weighlink::scale::detail
