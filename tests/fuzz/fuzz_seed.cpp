// Seed corpus for a parser's fuzz target: every case of tests/vectors/<protocol>.vec, and frames
// from encode_frame() for a few display states (a frame of each profile shape), each written as
// one file: a 0 control byte (no split, default options) and the bytes.
// Usage: fuzz_seed PROTOCOL VECTORS_DIR OUT_DIR

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "vector_file.hpp"  // tests/unit/scale
#include "weighlink/scale/encode.hpp"
#include "weighlink/scale/simulator.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: fuzz_seed PROTOCOL VECTORS_DIR OUT_DIR\n");
    return 2;
  }
  const std::string protocol = argv[1];
  const std::filesystem::path out = argv[3];
  std::filesystem::create_directories(out);
  std::vector<std::string> seeds;
  const std::filesystem::path vectors = std::filesystem::path(argv[2]) / (protocol + ".vec");
  if (std::filesystem::exists(vectors)) {
    const auto file = weighlink::scale::test::read_vector_file(vectors);
    if (!file.error.empty()) {
      std::fprintf(stderr, "fuzz_seed: %s\n", file.error.c_str());
      return 1;
    }
    for (const auto& c : file.cases) {
      if (!c.bytes.empty()) seeds.push_back(c.bytes);
    }
  }
  using namespace weighlink::scale;
  for (const char* profile : {"static", "truck", "axles", "noise"}) {
    SimProfileOptions options;
    options.decks = 3;
    auto p = make_sim_profile(profile, options);
    std::string stream;
    for (int ms = 0; ms < 20000; ms += 1700) {
      if (const auto frame = encode_frame(protocol, p->at(std::chrono::milliseconds(ms)))) {
        stream += *frame;
      }
    }
    if (!stream.empty()) seeds.push_back(stream);
  }
  int n = 0;
  for (const auto& seed : seeds) {
    std::ofstream file(out / ("seed-" + std::to_string(n++)), std::ios::binary);
    file.put('\0');
    file << seed;
  }
  std::printf("%s: %d seeds\n", protocol.c_str(), n);
  return 0;
}
