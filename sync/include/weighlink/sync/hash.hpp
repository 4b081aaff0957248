#pragma once
// Hashing helpers (OpenSSL). Thread-safe free functions.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weighlink::sync {

// Lower-case hex of `bytes`.
[[nodiscard]] std::string to_hex(std::span<const unsigned char> bytes);

// The bytes of `hex` (either case); nullopt for an odd length or a character that is not a hex
// digit.
[[nodiscard]] std::optional<std::vector<unsigned char>> from_hex(std::string_view hex);

// Lower-case hex SHA-256 of `data`.
[[nodiscard]] std::string sha256_hex(std::string_view data);

}  // namespace weighlink::sync
