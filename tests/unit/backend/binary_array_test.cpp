// weighlink::pg's binary array format (binary_array.hpp), byte for byte; the round trip through
// a real server is tests/integration/pg_binary_array_test.cpp.
#include "weighlink/pg/binary_array.hpp"

#include <doctest/doctest.h>

#include <string>

using weighlink::pg::BinaryArray;
using weighlink::pg::ElementType;

namespace {
std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}
}  // namespace

TEST_CASE("binary array: an empty array is ndim 0, no flags, its element type") {
  BinaryArray array(ElementType::text);
  CHECK(array.take() == bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25}));
}

TEST_CASE("binary array: header, lengths and big-endian values; NULL sets the flag") {
  BinaryArray array(ElementType::int8);
  array.push_int8(0x0102030405060708);
  array.push_null();
  CHECK(array.size() == 2);
  CHECK(array.take() ==
        bytes({0,    0,    0,    1,   0, 0, 0, 1, 0, 0, 0, 20, 0, 0, 0, 2, 0, 0, 0, 1,  //
               0,    0,    0,    8,   1, 2, 3, 4, 5, 6, 7, 8,                           //
               0xFF, 0xFF, 0xFF, 0xFF}));
  // take() leaves an empty builder of the same type.
  CHECK(array.size() == 0);
  array.push_int8(-1);
  CHECK(array.take() == bytes({0, 0, 0, 1, 0,    0,    0,    0,    0,    0,    0,    20,
                               0, 0, 0, 1, 0,    0,    0,    1,  //
                               0, 0, 0, 8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}));
}

TEST_CASE("binary array: text keeps its bytes; empty text is not NULL; the helpers' NULLs") {
  BinaryArray array(ElementType::text);
  array.push_text(std::string("a\0\xFF", 3));
  array.push_text("");
  array.push_text_or_null("");
  CHECK(array.take() ==
        bytes({0,    0,    0,    1,   0,   0, 0,    1, 0, 0, 0, 25, 0, 0, 0, 3, 0, 0, 0, 1,  //
               0,    0,    0,    3,   'a', 0, 0xFF,                                          //
               0,    0,    0,    0,                                                          //
               0xFF, 0xFF, 0xFF, 0xFF}));
  BinaryArray numbers(ElementType::int8);
  numbers.push_int8_or_null(0);
  CHECK(numbers.take().substr(4, 4) == bytes({0, 0, 0, 1}));
  BinaryArray times(ElementType::timestamptz);
  times.push_timestamptz_or_null(0);
  CHECK(times.take().substr(4, 4) == bytes({0, 0, 0, 1}));
}

TEST_CASE("binary array: bool, int4 and timestamptz in PostgreSQL's own encodings") {
  BinaryArray flags(ElementType::boolean);
  flags.push_bool(true);
  flags.push_bool(false);
  CHECK(flags.take().substr(20) == bytes({0, 0, 0, 1, 1, 0, 0, 0, 1, 0}));
  BinaryArray ints(ElementType::int4);
  ints.push_int4(-2);
  CHECK(ints.take().substr(20) == bytes({0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFE}));
  // 2000-01-01 00:00:00.001 UTC: 1000 microseconds after PostgreSQL's epoch.
  BinaryArray times(ElementType::timestamptz);
  times.push_timestamptz_unix_ms(946'684'800'001);
  times.push_timestamptz_unix_ms(0);  // 1970: before the epoch, negative
  CHECK(times.take().substr(20) ==
        bytes({0, 0, 0, 8, 0,    0,    0,    0,    0,    0,    0x03, 0xE8,  //
               0, 0, 0, 8, 0xFF, 0xFC, 0xA2, 0xFE, 0xC4, 0xC8, 0x20, 0x00}));
}
