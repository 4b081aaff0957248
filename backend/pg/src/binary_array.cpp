#include "weighlink/pg/binary_array.hpp"

#include <cassert>

namespace weighlink::pg {
namespace {

constexpr std::size_t kHeaderBytes = 20;       // ndim, flags, type, length, lower bound
constexpr std::size_t kEmptyHeaderBytes = 12;  // ndim 0, flags, type

void write_int32(char* out, std::uint32_t value) {
  out[0] = static_cast<char>(value >> 24);
  out[1] = static_cast<char>(value >> 16);
  out[2] = static_cast<char>(value >> 8);
  out[3] = static_cast<char>(value);
}

}  // namespace

BinaryArray::BinaryArray(ElementType type) : type_(type) { data_.assign(kHeaderBytes, '\0'); }

void BinaryArray::put_int32(std::uint32_t value) {
  char bytes[4];
  write_int32(bytes, value);
  data_.append(bytes, 4);
}

void BinaryArray::put_int64(std::uint64_t value) {
  put_int32(static_cast<std::uint32_t>(value >> 32));
  put_int32(static_cast<std::uint32_t>(value));
}

void BinaryArray::put_element(std::string_view bytes) {
  put_int32(static_cast<std::uint32_t>(bytes.size()));
  data_.append(bytes);
  ++count_;
}

void BinaryArray::push_null() {
  put_int32(0xFFFFFFFFu);  // -1
  has_null_ = true;
  ++count_;
}

void BinaryArray::push_bool(bool value) {
  assert(type_ == ElementType::boolean);
  put_element(value ? std::string_view("\1", 1) : std::string_view("\0", 1));
}

void BinaryArray::push_int4(std::int32_t value) {
  assert(type_ == ElementType::int4);
  put_int32(4);
  put_int32(static_cast<std::uint32_t>(value));
  ++count_;
}

void BinaryArray::push_int8(std::int64_t value) {
  assert(type_ == ElementType::int8);
  put_int32(8);
  put_int64(static_cast<std::uint64_t>(value));
  ++count_;
}

void BinaryArray::push_text(std::string_view value) {
  assert(type_ == ElementType::text || type_ == ElementType::bytea);
  put_element(value);
}

void BinaryArray::push_bytes(std::span<const unsigned char> value) {
  push_text({reinterpret_cast<const char*>(value.data()), value.size()});
}

void BinaryArray::push_timestamptz_unix_ms(std::int64_t unix_ms) {
  assert(type_ == ElementType::timestamptz);
  put_int32(8);
  put_int64(static_cast<std::uint64_t>(unix_ms * 1000 - kPostgresEpochUnixUs));
  ++count_;
}

void BinaryArray::push_text_or_null(std::string_view value) {
  if (value.empty()) {
    push_null();
  } else {
    push_text(value);
  }
}

void BinaryArray::push_int8_or_null(std::int64_t value) {
  if (value == 0) {
    push_null();
  } else {
    push_int8(value);
  }
}

void BinaryArray::push_timestamptz_or_null(std::int64_t unix_ms) {
  if (unix_ms == 0) {
    push_null();
  } else {
    push_timestamptz_unix_ms(unix_ms);
  }
}

std::string BinaryArray::take() {
  std::string out;
  if (count_ == 0) {
    out.assign(kEmptyHeaderBytes, '\0');
    write_int32(out.data() + 8, static_cast<std::uint32_t>(type_));
  } else {
    write_int32(data_.data(), 1);
    write_int32(data_.data() + 4, has_null_ ? 1 : 0);
    write_int32(data_.data() + 8, static_cast<std::uint32_t>(type_));
    write_int32(data_.data() + 12, static_cast<std::uint32_t>(count_));
    write_int32(data_.data() + 16, 1);
    out = std::move(data_);
  }
  data_.assign(kHeaderBytes, '\0');
  count_ = 0;
  has_null_ = false;
  return out;
}

}  // namespace weighlink::pg
