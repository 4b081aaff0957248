#include "weighlink/scale/poll.hpp"

#include <array>

namespace weighlink::scale {
namespace {

struct PollEntry {
  std::string_view protocol;
  std::string_view command;
};

// Streaming protocols are absent: mt-continuous (a Toledo set to demand mode answers "W" with the
// different 8217 reply, which mt-continuous does not decode), rice-lake (its EDP command set needs
// the indicator's address), rinstrum, the XK3190 and "=" streams, mcgs, giropes.
constexpr std::array kPollCommands{
    PollEntry{"mt-sics", "SI\r\n"}, PollEntry{"sma", "\nW\r"}, PollEntry{"cardinal-sb400", "\x05"},
    PollEntry{"ad-stgs", "W"},      PollEntry{"zm", "\x05"},   PollEntry{"cardinal-deck", "\x05"},
    PollEntry{"i1310", "\x05"},
};

}  // namespace

std::optional<std::string> default_poll_command(std::string_view protocol) {
  for (const auto& e : kPollCommands) {
    if (e.protocol == protocol) return std::string(e.command);
  }
  return std::nullopt;
}

}  // namespace weighlink::scale
