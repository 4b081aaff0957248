#pragma once
// UTC timestamps as text, on std::chrono's calendar types: the one home for them (issue 17).
//
// Threading: free functions, safe from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weighlink::base {

// "2026-11-21T03:00:07Z" to Unix seconds; nullopt when it is not exactly that shape (a day past
// the month's end, up to 31, counts on into the next month).
[[nodiscard]] std::optional<std::int64_t> parse_utc_timestamp(std::string_view text);
// Unix seconds to "2026-11-21T03:00:07Z".
[[nodiscard]] std::string format_utc_timestamp(std::int64_t unix_seconds);

}  // namespace weighlink::base
