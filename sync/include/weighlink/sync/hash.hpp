#pragma once
// Hashing helpers (OpenSSL). Thread-safe free functions.

#include <span>
#include <string>
#include <string_view>

namespace weighlink::sync {

// Lower-case hex of `bytes`.
[[nodiscard]] std::string to_hex(std::span<const unsigned char> bytes);

// Lower-case hex SHA-256 of `data`.
[[nodiscard]] std::string sha256_hex(std::string_view data);

}  // namespace weighlink::sync
