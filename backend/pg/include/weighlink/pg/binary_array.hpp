#pragma once
// One-dimensional arrays in PostgreSQL's binary wire format (array_send / array_recv), for query
// parameters sent in binary (PgConnection::exec_binary) and spread into rows with `unnest`: a
// batch of rows reaches the server as one array per column, with no text to lex or escape.
//
// The format, all integers big-endian:
//   int32 ndim (1; 0 for an empty array, which then ends after the element type)
//   int32 flags (1 when an element is NULL, else 0)
//   int32 element type OID
//   int32 number of elements, int32 lower bound (1)
//   per element: int32 length in bytes (-1 for NULL), then that many bytes in the element type's
//   own binary format: int4/int8 big-endian, bool one byte 0/1, text and bytea their bytes,
//   timestamptz int64 microseconds since 2000-01-01 00:00 UTC.
// The server checks the element type against the one the statement casts the parameter to
// ($2::int8[]), and text against the database encoding (UTF-8; a NUL byte is refused).
//
// Pure: no libpq. Threading: one owner.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace weighlink::pg {

// The element types the backend sends (pg_type OIDs).
enum class ElementType : std::uint32_t {
  boolean = 16,
  bytea = 17,
  int8 = 20,
  int4 = 23,
  text = 25,
  timestamptz = 1184,
};

// Microseconds between 1970-01-01 and 2000-01-01, PostgreSQL's timestamp epoch.
inline constexpr std::int64_t kPostgresEpochUnixUs = 946'684'800'000'000;

class BinaryArray {
 public:
  explicit BinaryArray(ElementType type);

  // Each push appends one element; the value's type must be the array's (a text value in a
  // bytea array is fine: both are bytes). Checked with assert.
  void push_null();
  void push_bool(bool value);
  void push_int4(std::int32_t value);
  void push_int8(std::int64_t value);
  void push_text(std::string_view value);
  void push_bytes(std::span<const unsigned char> value);
  void push_timestamptz_unix_ms(std::int64_t unix_ms);
  // Helpers for nullable columns: NULL for an empty text, for 0 (and 0 ms: "unknown").
  void push_text_or_null(std::string_view value);
  void push_int8_or_null(std::int64_t value);
  void push_timestamptz_or_null(std::int64_t unix_ms);

  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  [[nodiscard]] ElementType type() const noexcept { return type_; }

  // The finished array in the format above. The builder is empty afterwards (same type).
  [[nodiscard]] std::string take();

 private:
  void put_element(std::string_view bytes);
  void put_int32(std::uint32_t value);
  void put_int64(std::uint64_t value);

  ElementType type_;
  std::string data_;  // the header's room, then the elements
  std::size_t count_ = 0;
  bool has_null_ = false;
};

}  // namespace weighlink::pg
