#pragma once
// Short random identifiers (correlation ids, session ids). Not secrets: a fast PRNG is enough.

#include <random>
#include <string>

namespace weighlink::agent::detail {

// 16 lower-case hex digits.
inline std::string random_id() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  auto v = rng();
  for (auto& c : id) {
    c = kHex[v & 0xF];
    v >>= 4;
  }
  return id;
}

}  // namespace weighlink::agent::detail
