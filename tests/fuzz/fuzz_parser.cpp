// libFuzzer target for one parser: compiled once per protocol id with
// -DWEIGHLINK_FUZZ_PROTOCOL="id" (tests/fuzz/CMakeLists.txt), so each parser gets its own
// corpus and coverage feedback.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "fuzz_parser_check.hpp"

#ifndef WEIGHLINK_FUZZ_PROTOCOL
#error "compile with -DWEIGHLINK_FUZZ_PROTOCOL=\"protocol-id\""
#endif

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The id list comes from scanning registry.cpp at configure time: refuse to fuzz nothing.
  if (!weighlink::scale::make_parser(WEIGHLINK_FUZZ_PROTOCOL)) {
    std::fprintf(stderr, "fuzz target: protocol %s is not registered\n", WEIGHLINK_FUZZ_PROTOCOL);
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  weighlink::fuzz::fuzz_one_parser(WEIGHLINK_FUZZ_PROTOCOL, data, size);
  return 0;
}
