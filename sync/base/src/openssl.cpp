// The base library's one OpenSSL adapter: SHA-256, HMAC-SHA256, constant-time comparison, random
// bytes (hash.hpp) and base64 (base64.hpp).
//
// SHA-256 and HMAC-SHA256 go through OpenSSL's SHA256_Init/Update/Final rather than EVP: in
// OpenSSL 3, EVP (and SHA256(), HMAC(), which use it) loads the default provider at its first
// use, about 1.8 MB of libcrypto resident in every process that hashes once, as the agent does at
// every start (docs/performance.md, "Issue 21: agent memory"). SHA256_* is the same
// implementation (with the CPU's SHA extensions) without the provider; deprecated in OpenSSL 3,
// present in every 3.x. HMAC is RFC 2104 over it (tests: RFC 4231's vectors).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#ifdef __linux__
#include <sys/random.h>

#include <cerrno>
#endif

#include <algorithm>
#include <array>
#include <fstream>
#include <initializer_list>
#include <memory>

#include "weighlink/base/base64.hpp"
#include "weighlink/base/hash.hpp"

namespace weighlink::base {

namespace {

using Sha256 = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

// SHA-256 of the concatenation of `parts`.
Sha256 sha256(std::initializer_list<std::span<const unsigned char>> parts) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  for (const auto& part : parts) SHA256_Update(&ctx, part.data(), part.size());
  Sha256 md{};
  SHA256_Final(md.data(), &ctx);
  return md;
}

std::span<const unsigned char> bytes_of(std::string_view text) {
  return {reinterpret_cast<const unsigned char*>(text.data()), text.size()};
}

}  // namespace

std::string to_hex(std::span<const unsigned char> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

std::optional<std::vector<unsigned char>> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto value = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<unsigned char> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = value(hex[2 * i]);
    const int lo = value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return out;
}

std::string sha256_hex(std::string_view data) { return to_hex(sha256({bytes_of(data)})); }

std::string md5_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_md5(), nullptr);
  return to_hex(std::span(md.data(), len));
}

std::optional<std::string> file_sha256(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  // 64 KiB at a time: as fast as larger reads, and the agent hashes its own binary at every start
  // (software identification), where a 1 MiB buffer was a megabyte of its peak RSS.
  std::vector<char> buffer(64 << 10);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    SHA256_Update(&ctx, buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) return std::nullopt;
  Sha256 digest{};
  SHA256_Final(digest.data(), &ctx);
  return to_hex(digest);
}

std::string hmac_hex(std::span<const unsigned char> key, std::string_view message) {
  // RFC 2104: a key longer than the block is hashed first, a shorter one padded with zeros.
  std::array<unsigned char, SHA256_CBLOCK> block{};
  if (key.size() > block.size()) {
    const auto hashed = sha256({key});
    std::copy(hashed.begin(), hashed.end(), block.begin());
  } else {
    std::copy(key.begin(), key.end(), block.begin());
  }
  std::array<unsigned char, SHA256_CBLOCK> inner_pad{};
  std::array<unsigned char, SHA256_CBLOCK> outer_pad{};
  for (std::size_t i = 0; i < block.size(); ++i) {
    inner_pad[i] = block[i] ^ 0x36;
    outer_pad[i] = block[i] ^ 0x5c;
  }
  const auto inner = sha256({inner_pad, bytes_of(message)});
  const auto mac = sha256({outer_pad, inner});
  OPENSSL_cleanse(block.data(), block.size());
  OPENSSL_cleanse(inner_pad.data(), inner_pad.size());
  OPENSSL_cleanse(outer_pad.data(), outer_pad.size());
  return to_hex(mac);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::vector<unsigned char>> random_bytes(std::size_t n) {
  std::vector<unsigned char> bytes(n);
#ifdef __linux__
  // The kernel's generator, which seeds OpenSSL's: RAND_bytes would load OpenSSL 3's default
  // provider (above) for the station key the agent draws at its first start.
  for (std::size_t got = 0; got < n;) {
    const ssize_t r = ::getrandom(bytes.data() + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;
    got += static_cast<std::size_t>(r);
  }
#else
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return std::nullopt;
#endif
  return bytes;
}

std::string base64(std::span<const unsigned char> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string base64(std::string_view bytes) {
  return base64(std::span(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()));
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0 || text.find_first_of(" \t\r\n") != std::string_view::npos) {
    return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  const std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

std::string base64url(std::span<const unsigned char> bytes) {
  std::string out = base64(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

}  // namespace weighlink::base
