#include "weighlink/service/token.hpp"

#include <cctype>
#include <stdexcept>
#include <utility>
#include <vector>

#include "weighlink/base/base64.hpp"
#include "weighlink/base/hash.hpp"

namespace weighlink::service {
namespace {

std::vector<unsigned char> random_bytes(std::size_t n) {
  auto bytes = base::random_bytes(n);
  if (!bytes) {
    throw std::runtime_error("OpenSSL RAND_bytes failed: the system CSPRNG is unavailable");
  }
  return std::move(*bytes);
}

}  // namespace

std::string generate_token() {
  return std::string(kTokenPrefix) + base::base64url(random_bytes(32));
}

std::string sha256_hex(std::string_view data) { return base::sha256_hex(data); }

std::string random_hex(std::size_t n) { return base::to_hex(random_bytes(n)); }

std::optional<std::string_view> parse_bearer(std::string_view header) noexcept {
  constexpr std::string_view kScheme = "bearer";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  }
  std::string_view rest = header.substr(kScheme.size());
  if (rest.front() != ' ') return std::nullopt;
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
  if (rest.empty() || rest.find(' ') != std::string_view::npos) return std::nullopt;
  return rest;
}

}  // namespace weighlink::service
