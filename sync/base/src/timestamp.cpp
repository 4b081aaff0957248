#include "weighlink/base/timestamp.hpp"

#include <cctype>
#include <cstdio>

namespace weighlink::base {
namespace {

// The decimal number of `count` digits at `pos`, or -1.
int digits(std::string_view text, std::size_t pos, std::size_t count) {
  int value = 0;
  if (pos + count > text.size()) return -1;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// "YYYY-MM-DDTHH:MM:SS" and, with `millis`, ".mmm"; then "Z".
std::string format(std::chrono::sys_time<std::chrono::milliseconds> at, bool millis) {
  using namespace std::chrono;
  const auto day = floor<days>(at);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> time{at - day};
  char text[64];
  const int n = std::snprintf(
      text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
      static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
      static_cast<int>(time.seconds().count()));
  std::string out(text, static_cast<std::size_t>(n));
  if (millis) {
    std::snprintf(text, sizeof text, ".%03d", static_cast<int>(time.subseconds().count()));
    out += text;
  }
  return out + "Z";
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  const int year = digits(text, 0, 4), month = digits(text, 5, 2), day = digits(text, 8, 2);
  const int hour = digits(text, 11, 2), minute = digits(text, 14, 2), second = digits(text, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 || text[4] != '-' ||
      text[7] != '-' || (text[10] != 'T' && text[10] != 't') || text[13] != ':' ||
      text[16] != ':' || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{std::chrono::year(year),
                                        std::chrono::month(static_cast<unsigned>(month)),
                                        std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return std::nullopt;
  if (!representable_year(year)) return std::nullopt;
  std::size_t pos = 19;
  std::chrono::nanoseconds fraction{0};
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::int64_t value = 0;
    int count = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (count < 9) {
        value = value * 10 + (text[pos] - '0');
        ++count;
      }
      ++pos;
    }
    if (count == 0) return std::nullopt;
    for (int i = count; i < 9; ++i) value *= 10;
    fraction = std::chrono::nanoseconds(value);
  }
  std::chrono::minutes offset{0};
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-') &&
             text[pos + 3] == ':') {
    const int oh = digits(text, pos + 1, 2), om = digits(text, pos + 4, 2);
    if (oh < 0 || om < 0) return std::nullopt;
    offset = std::chrono::minutes(oh * 60 + om) * (text[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  const auto local = std::chrono::sys_days(ymd) + std::chrono::hours(hour) +
                     std::chrono::minutes(minute) + std::chrono::seconds(second) + fraction;
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(local - offset);
}

std::optional<std::int64_t> parse_utc_timestamp(std::string_view text) {
  if (text.size() != 20 || text[10] != 'T' || text[19] != 'Z') return std::nullopt;
  const auto at = parse_rfc3339(text);
  if (!at) return std::nullopt;
  return std::chrono::floor<std::chrono::seconds>(at->time_since_epoch()).count();
}

std::string format_utc_timestamp(std::int64_t unix_seconds) {
  return format(std::chrono::sys_seconds{std::chrono::seconds{unix_seconds}}, false);
}

std::string format_utc_file_stamp(std::int64_t unix_seconds) {
  const auto t = format_utc_timestamp(unix_seconds);  // 2026-11-21T03:00:07Z
  return t.substr(0, 4) + t.substr(5, 2) + t.substr(8, 2) + "_" + t.substr(11, 2) +
         t.substr(14, 2) + t.substr(17, 2);
}

std::string format_utc_timestamp_ms(std::chrono::system_clock::time_point at) {
  return format(std::chrono::floor<std::chrono::milliseconds>(at), true);
}

}  // namespace weighlink::base
