#pragma once
// Request commands for polled indicator protocols. Pure functions; thread-safe.

#include <optional>
#include <string>
#include <string_view>

namespace weighlink::scale {

// The bytes a host sends to ask an indicator speaking `protocol` for one reading, to be sent at
// the scale's configured poll interval; nullopt for protocols that only stream (or are unknown).
//   mt-sics         "SI\r\n"   weight immediately, stable or not (the reply says which)
//   sma             "\nW\r"    SMA weight request
//   cardinal-sb400  ENQ 0x05   Cardinal 190 / 225 with continuous output off
//   ad-stgs         "W"        PAW console (TruConnect's query command); A&D indicators take
//                              "Q\r\n" instead, set it in the scale's configuration
//   zm, cardinal-deck, i1310   ENQ 0x05 (TruConnect's query commands for these indicators)
// A configured command always overrides this default.
[[nodiscard]] std::optional<std::string> default_poll_command(std::string_view protocol);

}  // namespace weighlink::scale
