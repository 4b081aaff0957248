// libFuzzer target: every registered parser on the same input (fuzz_parser_check.hpp has the
// invariants). The per-protocol targets (fuzz_parser.cpp) go deeper into one parser each.

#include <cstddef>
#include <cstdint>

#include "fuzz_parser_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (const auto& protocol : weighlink::scale::protocols()) {
    weighlink::fuzz::fuzz_one_parser(protocol.id, data, size);
  }
  return 0;
}
