#pragma once
// Hashing helpers (OpenSSL). Thread-safe free functions.

#include <string>
#include <string_view>

namespace weighlink::sync {

// Lower-case hex SHA-256 of `data`.
[[nodiscard]] std::string sha256_hex(std::string_view data);

}  // namespace weighlink::sync
