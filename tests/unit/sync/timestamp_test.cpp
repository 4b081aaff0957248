#include "weighlink/base/timestamp.hpp"

#include <doctest/doctest.h>

using namespace std::chrono;
using weighlink::base::format_utc_file_stamp;
using weighlink::base::format_utc_timestamp;
using weighlink::base::format_utc_timestamp_ms;
using weighlink::base::parse_rfc3339;
using weighlink::base::parse_utc_timestamp;

TEST_CASE("timestamp: one formatter, to the second or to the millisecond") {
  CHECK(format_utc_timestamp(0) == "1970-01-01T00:00:00Z");
  CHECK(format_utc_timestamp(1795230007) == "2026-11-21T03:00:07Z");
  CHECK(format_utc_timestamp(-1) == "1969-12-31T23:59:59Z");
  CHECK(format_utc_timestamp_ms(system_clock::time_point{}) == "1970-01-01T00:00:00.000Z");
  CHECK(format_utc_timestamp_ms(sys_days{year{2000} / 2 / 29} + hours(23) + minutes(59) +
                                seconds(59) + milliseconds(999) + microseconds(999)) ==
        "2000-02-29T23:59:59.999Z");
  CHECK(format_utc_file_stamp(1795230007) == "20261121_030007");
}

TEST_CASE("timestamp: RFC 3339 with a fraction and an offset; impossible days refused") {
  const auto at = sys_days{year{2024} / 5 / 1} + hours(3);
  CHECK(parse_rfc3339("2024-05-01T03:00:00Z") == at);
  CHECK(parse_rfc3339("2024-05-01t03:00:00z") == at);
  CHECK(parse_rfc3339("2024-05-01T05:00:00+02:00") == at);
  CHECK(parse_rfc3339("2024-05-01T03:00:00.5Z") == at + milliseconds(500));
  CHECK_FALSE(parse_rfc3339("2026-02-30T00:00:00Z").has_value());
  CHECK_FALSE(parse_rfc3339("2024-05-01T03:00:00").has_value());
  CHECK_FALSE(parse_rfc3339("2024-05-01T03:00:00.Z").has_value());
  CHECK_FALSE(parse_rfc3339("2024-05-01").has_value());
  // Beyond system_clock's nanoseconds (1677..2262) a time is refused, never wrapped (found by
  // fuzz_backup_files under UBSan: 2326 overflowed into a time in the past).
  CHECK_FALSE(parse_rfc3339("2326-11-21T03:00:07Z").has_value());
  CHECK_FALSE(parse_rfc3339("9999-12-31T23:59:59Z").has_value());
  CHECK_FALSE(parse_rfc3339("1600-01-01T00:00:00Z").has_value());
  CHECK_FALSE(parse_utc_timestamp("2300-01-01T00:00:00Z").has_value());
  REQUIRE(parse_rfc3339("2261-12-31T23:59:59Z").has_value());
  CHECK(parse_utc_timestamp("2261-12-31T23:59:59Z") == 9'214'646'399);
  CHECK(parse_utc_timestamp("1678-01-01T00:00:00Z") == -9'214'560'000);
}

TEST_CASE("timestamp: the manifests' strict form is RFC 3339 without fraction or offset") {
  CHECK(parse_utc_timestamp("2026-11-21T03:00:07Z") == 1795230007);
  CHECK(parse_utc_timestamp(format_utc_timestamp(951825600)) == 951825600);
  CHECK_FALSE(parse_utc_timestamp("2026-11-21T03:00:07.1Z").has_value());
  CHECK_FALSE(parse_utc_timestamp("2026-11-21T05:00:07+02:00").has_value());
  CHECK_FALSE(parse_utc_timestamp("2026-11-21t03:00:07z").has_value());
  CHECK_FALSE(parse_utc_timestamp("2026-02-30T00:00:00Z").has_value());
}
