// weighlink::pg's binary arrays (binary_array.hpp) through a real PostgreSQL: every element type
// the backend sends comes back exactly as it went (unnest of the array, read as text), with
// NULLs, empty arrays, every byte value of bytea, long texts, and the bounds of int8 and
// timestamptz; what the server refuses is refused as a row's fault (data_refused).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "weighlink/base/hash.hpp"
#include "weighlink/pg/binary_array.hpp"
#include "weighlink/pg/pg.hpp"
#include "weighlink/testing/pg_cluster.hpp"

namespace {

using weighlink::pg::BinaryArray;
using weighlink::pg::ElementType;
using weighlink::pg::PgConnection;

// The elements of `array` as the server reads them, each as text ("NULL" for NULL), in order,
// joined by '|'; `cast` is the parameter's type (int8[], ...).
std::string round_trip(PgConnection& connection, BinaryArray& array, const std::string& cast,
                       const std::string& as_text = "e::text") {
  const std::string param = array.take();
  auto result = connection.exec_binary(
      "SELECT coalesce(string_agg(coalesce(" + as_text +
          ", 'NULL'), '|' ORDER BY n), '(empty)'), count(*) FROM unnest($1::" + cast +
          ") WITH ORDINALITY AS t(e, n)",
      {param});
  REQUIRE_MESSAGE(result.has_value(), connection.last_error());
  return std::string(result->get(0, 0));
}

}  // namespace

TEST_CASE("pg binary arrays: every type the backend sends comes back exactly") {
  weighlink::testing::PgCluster pg;
  PgConnection connection(pg.dsn());
  REQUIRE(connection.ensure_connected().has_value());

  BinaryArray int8s(ElementType::int8);
  for (std::int64_t v : {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1},
                         std::int64_t{9'223'372'036'854'775'807}, std::int64_t{-42}}) {
    int8s.push_int8(v);
  }
  int8s.push_null();
  CHECK(round_trip(connection, int8s, "int8[]") == "0|1|-1|9223372036854775807|-42|NULL");

  BinaryArray int4s(ElementType::int4);
  int4s.push_int4(2'147'483'647);
  int4s.push_int4(-2'147'483'647 - 1);
  int4s.push_int4(7);
  CHECK(round_trip(connection, int4s, "int4[]") == "2147483647|-2147483648|7");

  BinaryArray bools(ElementType::boolean);
  bools.push_bool(true);
  bools.push_null();
  bools.push_bool(false);
  CHECK(round_trip(connection, bools, "bool[]") == "true|NULL|false");

  // Text: UTF-8 beyond ASCII, quotes and backslashes as they are, an empty text (not NULL), a
  // long one (not cut), and the nullable helper.
  const std::string long_text(300'000, 'x');
  BinaryArray texts(ElementType::text);
  texts.push_text("32 540 kg");
  texts.push_text("{\"a\":\"\\\"q\\\\\"}");
  texts.push_text("Gewicht \xC3\xBC \xE2\x82\xAC");
  texts.push_text("");
  texts.push_text_or_null("");
  texts.push_text(long_text);
  CHECK(round_trip(connection, texts, "text[]",
                   "CASE WHEN length(e) > 1000 THEN length(e)::text || "
                   "' chars' ELSE e END") ==
        "32 540 kg|{\"a\":\"\\\"q\\\\\"}|Gewicht \xC3\xBC \xE2\x82\xAC||NULL|300000 chars");

  // bytea: all 256 byte values, in order, and an empty one.
  std::vector<unsigned char> all(256);
  for (int i = 0; i < 256; ++i) all[static_cast<std::size_t>(i)] = static_cast<unsigned char>(i);
  BinaryArray bytes(ElementType::bytea);
  bytes.push_bytes(all);
  bytes.push_bytes({});
  bytes.push_null();
  CHECK(round_trip(connection, bytes, "bytea[]", "encode(e, 'hex')") ==
        weighlink::base::to_hex(all) + "||NULL");

  // timestamptz from Unix milliseconds: the epoch, before 2000, after, and the year 9999.
  REQUIRE(connection.exec("SET TIME ZONE 'UTC'").has_value());
  BinaryArray times(ElementType::timestamptz);
  for (std::int64_t ms : {std::int64_t{0}, std::int64_t{946'684'799'999},
                          std::int64_t{1'795'000'000'123}, std::int64_t{253'402'300'799'999}}) {
    times.push_timestamptz_unix_ms(ms);
  }
  times.push_null();
  CHECK(round_trip(connection, times, "timestamptz[]",
                   "(extract(epoch FROM e) * 1000)::bigint::text") ==
        "0|946684799999|1795000000123|253402300799999|NULL");

  // Empty arrays of every type.
  for (auto [type, cast] :
       {std::pair{ElementType::int8, "int8[]"}, std::pair{ElementType::text, "text[]"},
        std::pair{ElementType::bytea, "bytea[]"}, std::pair{ElementType::boolean, "bool[]"},
        std::pair{ElementType::timestamptz, "timestamptz[]"}}) {
    BinaryArray empty(type);
    CHECK(round_trip(connection, empty, cast) == "(empty)");
  }
}

TEST_CASE("pg binary arrays: a value the server cannot take is the row's fault") {
  weighlink::testing::PgCluster pg;
  PgConnection connection(pg.dsn());
  REQUIRE(connection.ensure_connected().has_value());
  // Text that is not UTF-8 and text with a NUL byte: refused (class 22), nothing stored.
  for (const std::string& bad : {std::string("\xFF\xFE"), std::string("a\0b", 3)}) {
    BinaryArray texts(ElementType::text);
    texts.push_text(bad);
    const std::string param = texts.take();
    auto result = connection.exec_binary("SELECT count(*) FROM unnest($1::text[])", {param});
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error() == weighlink::pg::Errc::data_refused);
    CHECK(connection.last_sqlstate().starts_with("22"));
  }
  // An array of the wrong element type for the statement's cast: refused, not misread.
  BinaryArray int8s(ElementType::int8);
  int8s.push_int8(5);
  const std::string param = int8s.take();
  auto result = connection.exec_binary("SELECT count(*) FROM unnest($1::text[])", {param});
  CHECK_FALSE(result.has_value());
}
