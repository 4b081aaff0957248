#include "weighlink/base/timestamp.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace weighlink::base {

std::optional<std::int64_t> parse_utc_timestamp(std::string_view text) {
  using namespace std::chrono;
  // YYYY-MM-DDTHH:MM:SSZ, exactly.
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != 'Z') {
    return std::nullopt;
  }
  auto field = [&](std::size_t at, std::size_t length, int& out) {
    const char* first = text.data() + at;
    const auto [end, ec] = std::from_chars(first, first + length, out);
    return ec == std::errc{} && end == first + length;
  };
  int y = 0, m = 0, d = 0, hour = 0, minute = 0, second = 0;
  if (!field(0, 4, y) || !field(5, 2, m) || !field(8, 2, d) || !field(11, 2, hour) ||
      !field(14, 2, minute) || !field(17, 2, second)) {
    return std::nullopt;
  }
  if (m < 1 || m > 12 || d < 1 || d > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  // year_month_day to sys_days counts a day past the month's end on into the next month.
  const sys_days day{year{y} / month{static_cast<unsigned>(m)} /
                     std::chrono::day{static_cast<unsigned>(d)}};
  return (duration_cast<seconds>(day.time_since_epoch()) + hours{hour} + minutes{minute} +
          seconds{second})
      .count();
}

std::string format_utc_timestamp(std::int64_t unix_seconds) {
  using namespace std::chrono;
  const sys_seconds at{seconds{unix_seconds}};
  const auto day = floor<days>(at);
  const year_month_day ymd{day};
  const hh_mm_ss<seconds> time{at - day};
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02lld:%02lld:%02lldZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<long long>(time.hours().count()),
                static_cast<long long>(time.minutes().count()),
                static_cast<long long>(time.seconds().count()));
  return text;
}

}  // namespace weighlink::base
