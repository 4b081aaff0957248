#include "weighlink/recovery/dump_pattern.hpp"

#include <doctest/doctest.h>

#include "weighlink/base/timestamp.hpp"

using weighlink::base::parse_utc_timestamp;
using weighlink::recovery::DumpNamePattern;
using weighlink::recovery::kDefaultDumpPatterns;

TEST_CASE("dump pattern: a name gives its UTC time, and other names do not match") {
  const auto cron = DumpNamePattern::parse(kDefaultDumpPatterns[0]).value();
  CHECK(cron.match("pg_dump_20261121_0300.dump") == parse_utc_timestamp("2026-11-21T03:00:00Z"));
  CHECK(cron.match("pg_dump_20000229_2359.dump") == parse_utc_timestamp("2000-02-29T23:59:00Z"));
  for (const char* other :
       {"pg_dump_20261121_0300.dump.sha256", "pg_dump_20261121_030.dump",
        "pg_dump_2026112_0300.dump", "xpg_dump_20261121_0300.dump", "pg_dump_20261121_0300.sql",
        "pg_dump_2026112a_0300.dump", "pg_dump_20261121_0300.dum", ""}) {
    INFO(other);
    CHECK_FALSE(cron.match(other).has_value());
  }
  const auto own = DumpNamePattern::parse(kDefaultDumpPatterns[1]).value();
  CHECK(own.match("weighlink_20261121_030007.dump") == parse_utc_timestamp("2026-11-21T03:00:07Z"));
  CHECK_FALSE(own.match("weighlink_20261121_030007.manifest.json").has_value());
}

TEST_CASE("dump pattern: days and hours that do not exist do not match") {
  const auto p = DumpNamePattern::parse("db-%Y-%m-%dT%H%M%S.sql").value();
  CHECK(p.match("db-2026-01-31T000000.sql").has_value());
  for (const char* bad :
       {"db-2026-02-30T000000.sql", "db-2026-13-01T000000.sql", "db-2026-00-10T000000.sql",
        "db-2026-01-01T240000.sql", "db-2026-01-01T006000.sql", "db-2026-01-01T000060.sql",
        // years no time of ours can hold (base::representable_year): refused, not wrapped
        "db-9999-12-31T000000.sql", "db-1600-01-01T000000.sql"}) {
    INFO(bad);
    CHECK_FALSE(p.match(bad).has_value());
  }
}

TEST_CASE("dump pattern: fields in any order, missing times are midnight, %% is a percent sign") {
  const auto p = DumpNamePattern::parse("%d.%m.%Y-100%%.dump").value();
  CHECK(p.match("21.11.2026-100%.dump") == parse_utc_timestamp("2026-11-21T00:00:00Z"));
  CHECK_FALSE(p.match("21.11.2026-100.dump").has_value());
  CHECK(p.text() == "%d.%m.%Y-100%%.dump");
}

TEST_CASE("dump pattern: a pattern without the date or with unknown fields is refused") {
  for (const char* bad : {"", "dump_%H%M.dump", "dump_%Y%m.dump", "dump_%Y%m%d_%Q.dump",
                          "dump_%Y%m%d%Y.dump", "dump_%Y%m%d%", "dir/%Y%m%d.dump"}) {
    INFO(bad);
    const auto p = DumpNamePattern::parse(bad);
    REQUIRE_FALSE(p.has_value());
    CHECK(p.error().message.find("file-name pattern") != std::string::npos);
  }
}
