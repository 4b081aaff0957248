#include "weighlink/scale/poll.hpp"

#include <array>

namespace weighlink::scale {
namespace {

struct PollEntry {
  std::string_view protocol;
  std::string_view command;
  bool by_default;  // polled with no poll setting (poll.hpp, polled_by_default())
};

// Streaming protocols are absent: mt-continuous (a Toledo set to demand mode answers "W" with the
// different 8217 reply, which mt-continuous does not decode), rice-lake (its EDP command set needs
// the indicator's address), rinstrum, the XK3190 and "=" streams, mcgs, giropes.
constexpr std::array kPollCommands{
    PollEntry{"mt-sics", "SI\r\n", true},
    PollEntry{"sma", "\nW\r", true},
    PollEntry{"cardinal-sb400", "\x05", false},
    PollEntry{"ad-stgs", "W", true},
    PollEntry{"zm", "\x05", true},
    PollEntry{"cardinal-deck", "\x05", true},
    PollEntry{"i1310", "\x05", true},
};

const PollEntry* find(std::string_view protocol) {
  for (const auto& e : kPollCommands) {
    if (e.protocol == protocol) return &e;
  }
  return nullptr;
}

}  // namespace

std::optional<std::string> default_poll_command(std::string_view protocol) {
  if (const auto* e = find(protocol)) return std::string(e->command);
  return std::nullopt;
}

bool polled_by_default(std::string_view protocol) {
  const auto* e = find(protocol);
  return e && e->by_default;
}

}  // namespace weighlink::scale
