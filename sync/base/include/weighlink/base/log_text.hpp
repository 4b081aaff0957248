#pragma once
// Client text in a log line. A station id, an idempotency key, a plate or a reason comes from
// outside; written as it is, a newline in it would start a forged log line. log_safe() escapes
// every control character (\n, \r, \t, \\ itself, and \xNN for the rest, DEL included) and cuts
// the text at `max` bytes with "...", so one client string is always one piece of one line.
// Pure, thread-safe.

#include <cstddef>
#include <string>
#include <string_view>

namespace weighlink::base {

[[nodiscard]] std::string log_safe(std::string_view text, std::size_t max = 256);

}  // namespace weighlink::base
