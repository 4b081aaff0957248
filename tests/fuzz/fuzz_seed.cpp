// Seed corpus for a parser's fuzz target: every case of tests/vectors/<protocol>.vec, and frames
// from encode_frame() for a few display states (a frame of each profile shape), each written as
// one file: a 0 control byte (no split, default options) and the bytes.
// Usage: fuzz_seed PROTOCOL VECTORS_DIR OUT_DIR

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "weighlink/scale/encode.hpp"
#include "weighlink/scale/simulator.hpp"

namespace {

std::string unescape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out.push_back(text[i]);
      continue;
    }
    const char n = text[++i];
    if (n == 'r') {
      out.push_back('\r');
    } else if (n == 'n') {
      out.push_back('\n');
    } else if (n == 't') {
      out.push_back('\t');
    } else if (n == 'x' && i + 2 < text.size() + 1) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(n);
    }
  }
  return out;
}

std::string unhex(std::string_view text) {
  std::string out;
  std::string digits;
  for (const char c : text) {
    if (std::isxdigit(static_cast<unsigned char>(c))) digits.push_back(c);
    if (digits.size() == 2) {
      out.push_back(static_cast<char>(std::stoi(digits, nullptr, 16)));
      digits.clear();
    }
  }
  return out;
}

std::vector<std::string> vector_cases(const std::filesystem::path& file) {
  std::vector<std::string> cases;
  std::ifstream in(file);
  std::string line;
  std::string current;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto space = line.find(' ');
    const std::string word = line.substr(0, space);
    const std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
    if (word == "hex") current += unhex(rest);
    if (word == "text") current += unescape(rest);
    if (word == "end") {
      if (!current.empty()) cases.push_back(current);
      current.clear();
    }
  }
  return cases;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: fuzz_seed PROTOCOL VECTORS_DIR OUT_DIR\n");
    return 2;
  }
  const std::string protocol = argv[1];
  const std::filesystem::path out = argv[3];
  std::filesystem::create_directories(out);
  std::vector<std::string> seeds =
      vector_cases(std::filesystem::path(argv[2]) / (protocol + ".vec"));
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
