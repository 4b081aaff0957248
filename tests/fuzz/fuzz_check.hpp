#pragma once
// The assertion of every fuzz target: a broken invariant aborts, so libFuzzer keeps the input as a
// crash and the corpus replay of `make test` fails on it.

#include <cstdlib>

namespace weighlink::fuzz {

inline void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace weighlink::fuzz
