#pragma once
// UTC timestamps as text, on std::chrono's calendar types: the one home for them (issue 17). One
// parser (RFC 3339, of which the manifests' "2026-11-21T03:00:07Z" is the strict case) and one
// formatter (to the second, or to the millisecond).
//
// Threading: free functions, safe from any thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weighlink::base {

// The whole years system_clock can hold (it counts nanoseconds in 64 bits: 1677-09-21 to
// 2262-04-11). Every parser of a time (RFC 3339 here, the backup file-name patterns) refuses a
// year outside them rather than overflow into another time.
[[nodiscard]] constexpr bool representable_year(std::int64_t year) noexcept {
  return year >= 1678 && year <= 2261;
}

// RFC 3339 as rclone and others print it: "2024-05-01T03:00:00Z",
// "2024-05-01T03:00:00.123456789+02:00" (a 't' or 'z' in lower case too). nullopt when it is not
// that shape, names a day that does not exist (2026-02-30), or a year system_clock cannot hold
// (before 1678, after 2261).
[[nodiscard]] std::optional<std::chrono::system_clock::time_point> parse_rfc3339(
    std::string_view text);

// "2026-11-21T03:00:07Z" exactly (no fraction, no offset) to Unix seconds; nullopt otherwise.
[[nodiscard]] std::optional<std::int64_t> parse_utc_timestamp(std::string_view text);
// Unix seconds to "2026-11-21T03:00:07Z".
[[nodiscard]] std::string format_utc_timestamp(std::int64_t unix_seconds);
// Unix seconds to "20261121_030007", for file and database names (weighlink_20261121_030007.dump).
[[nodiscard]] std::string format_utc_file_stamp(std::int64_t unix_seconds);
// A time to "2026-11-21T03:00:07.123Z" (milliseconds, rounded down).
[[nodiscard]] std::string format_utc_timestamp_ms(std::chrono::system_clock::time_point at);

}  // namespace weighlink::base
