#pragma once
// Station tokens: generated once, shown once, stored only as their SHA-256.

#include <optional>
#include <string>
#include <string_view>

namespace weighlink::service {

inline constexpr std::string_view kTokenPrefix = "wlst_";

// "wlst_" + base64url (no padding) of 32 bytes from OpenSSL's CSPRNG. Throws std::runtime_error
// only when the CSPRNG itself fails (nothing sensible to do then).
[[nodiscard]] std::string generate_token();

// Lower-case hex SHA-256 of `data`.
[[nodiscard]] std::string sha256_hex(std::string_view data);

// `n` random bytes as lower-case hex (correlation ids).
[[nodiscard]] std::string random_hex(std::size_t n);

// The token of an `authorization: Bearer <token>` value; nullopt when the value has another
// scheme or no token. The scheme is case-insensitive (RFC 7235).
[[nodiscard]] std::optional<std::string_view> parse_bearer(std::string_view header) noexcept;

}  // namespace weighlink::service
