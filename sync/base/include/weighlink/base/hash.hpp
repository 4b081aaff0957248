#pragma once
// Hashing, HMAC and random bytes (OpenSSL, in openssl.cpp). Thread-safe free functions.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weighlink::base {

// Lower-case hex of `bytes`.
[[nodiscard]] std::string to_hex(std::span<const unsigned char> bytes);

// The bytes of `hex` (either case); nullopt for an odd length or a character that is not a hex
// digit.
[[nodiscard]] std::optional<std::vector<unsigned char>> from_hex(std::string_view hex);

// Lower-case hex SHA-256 of `data`.
[[nodiscard]] std::string sha256_hex(std::string_view data);

// Lower-case hex MD5 of `data`: only where a peer's protocol demands it (HTTP Digest
// authentication of cameras, RFC 7616), never for integrity.
[[nodiscard]] std::string md5_hex(std::string_view data);

// SHA-256 of a file as lowercase hex, streamed; nullopt when it cannot be read.
[[nodiscard]] std::optional<std::string> file_sha256(const std::filesystem::path& file);

// Lower-case hex HMAC-SHA256 of `message` under `key`.
[[nodiscard]] std::string hmac_hex(std::span<const unsigned char> key, std::string_view message);

// Equal size and bytes, in a time that does not depend on where they differ (signatures, tokens).
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b);

// `n` bytes from the system's CSPRNG; nullopt when it is unavailable.
[[nodiscard]] std::optional<std::vector<unsigned char>> random_bytes(std::size_t n);

}  // namespace weighlink::base
