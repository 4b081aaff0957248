#pragma once
// Base64 (RFC 4648): the standard alphabet with padding (HTTP Basic credentials) and the URL-safe
// one without (tokens). OpenSSL's encoder, in openssl.cpp. Thread-safe free functions.

#include <span>
#include <string>
#include <string_view>

namespace weighlink::base {

[[nodiscard]] std::string base64(std::span<const unsigned char> bytes);
[[nodiscard]] std::string base64(std::string_view bytes);
// RFC 4648 section 5: '-' and '_' for '+' and '/', no '=' padding.
[[nodiscard]] std::string base64url(std::span<const unsigned char> bytes);

}  // namespace weighlink::base
