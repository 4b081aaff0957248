#pragma once
// Request commands for polled indicator protocols, and which protocols the agent polls without
// being told to. Pure functions; thread-safe.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace weighlink::scale {

// How often a scale is polled when its configuration sets no poll_interval_ms: TruConnect's
// fixed query interval (InputManager.queryInterval).
inline constexpr std::chrono::milliseconds kDefaultPollInterval{500};

// The bytes a host sends to ask an indicator speaking `protocol` for one reading, to be sent at
// the scale's poll interval; nullopt for protocols that only stream (or are unknown).
//   mt-sics         "SI\r\n"   weight immediately, stable or not (the reply says which)
//   sma             "\nW\r"    SMA weight request
//   cardinal-sb400  ENQ 0x05   Cardinal 190 / 225 with continuous output off
//   ad-stgs         "W"        PAW console (TruConnect's query command); A&D indicators take
//                              "Q\r\n" instead, set it in the scale's configuration
//   zm, cardinal-deck, i1310   ENQ 0x05 (TruConnect's query commands for these indicators)
// A configured command always overrides this default.
[[nodiscard]] std::optional<std::string> default_poll_command(std::string_view protocol);

// Whether an indicator speaking `protocol` usually answers only when asked, so that a scale with
// no poll setting is polled every kDefaultPollInterval (TruConnect polls these): mt-sics, sma,
// ad-stgs (PAW), zm, cardinal-deck, i1310. False for the streaming protocols and for
// cardinal-sb400, whose Cardinal indicators stream by default (TruConnect reads them without a
// query); an ENQ-polled one needs poll_interval_ms set.
[[nodiscard]] bool polled_by_default(std::string_view protocol);

}  // namespace weighlink::scale
