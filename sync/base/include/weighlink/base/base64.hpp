#pragma once
// Base64 (RFC 4648): the standard alphabet with padding (HTTP Basic credentials, DevTools
// screenshots) and the URL-safe one without (tokens). OpenSSL's encoder and decoder
// (EVP_EncodeBlock, EVP_DecodeBlock), in openssl.cpp. Thread-safe free functions.

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace weighlink::base {

[[nodiscard]] std::string base64(std::span<const unsigned char> bytes);
[[nodiscard]] std::string base64(std::string_view bytes);
// RFC 4648 section 5: '-' and '_' for '+' and '/', no '=' padding.
[[nodiscard]] std::string base64url(std::span<const unsigned char> bytes);
// The bytes of standard, padded base64; nullopt when `text` is not that.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

}  // namespace weighlink::base
