#pragma once
// The one reader of the protocol vector files (tests/vectors/README.md): the vectors test decodes
// their cases, fuzz_seed writes them as seeds. Text in, cases out: no doctest, no parser.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weighlink::scale::test {

// "02 2C 70" -> bytes; what is not a hex digit separates nothing and is skipped.
inline std::string hex(std::string_view text) {
  std::string out;
  int nibbles = 0;
  unsigned value = 0;
  for (const char c : text) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) continue;
    value = value * 16 + static_cast<unsigned>(v);
    if (++nibbles == 2) {
      out.push_back(static_cast<char>(value));
      nibbles = 0;
      value = 0;
    }
  }
  return out;
}

// A `text` line's bytes: \r \n \t \\ and \xNN are escapes; any other character stays as written.
inline std::string unescape(std::string_view text) {
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
    } else if (const std::string byte = hex(text.substr(i + 1, 2));
               n == 'x' && i + 2 < text.size() && byte.size() == 1) {
      out += byte;
      i += 2;
    } else {
      out.push_back(n);
    }
  }
  return out;
}

struct VectorCase {
  std::string name;
  int line = 0;         // of its `case` directive
  std::string options;  // the JSON of the `options` directive in force; empty: none
  std::string bytes;
  std::vector<std::string> expects;  // one JSON object per reading, in order
  std::optional<std::uint64_t> bad;
};

struct VectorFile {
  std::vector<VectorCase> cases;
  std::string error;  // "<file>:<line>: what is wrong"; empty when the file read cleanly
};

// Every case of `file`. A file that cannot be read, an unknown directive, a directive outside a
// case or a case without `end` is an error; the cases before it are kept.
inline VectorFile read_vector_file(const std::filesystem::path& file) {
  VectorFile result;
  std::ifstream in(file);
  if (!in) {
    result.error = file.string() + ": cannot read the file";
    return result;
  }
  std::string options;
  std::optional<VectorCase> current;
  std::string line;
  int number = 0;
  auto fail = [&](const std::string& what) {
    result.error = file.string() + ":" + std::to_string(number) + ": " + what;
    return result;
  };
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto space = line.find(' ');
    const std::string word = line.substr(0, space);
    const std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
    if (word.empty() || word[0] == '#') continue;
    if (word == "options") {
      options = rest;
      continue;
    }
    if (word == "case") {
      if (current) return fail("case '" + current->name + "' has no 'end'");
      current = VectorCase{rest, number, options, {}, {}, {}};
      continue;
    }
    if (!current) return fail("'" + word + "' outside a case");
    if (word == "hex") {
      current->bytes += hex(rest);
    } else if (word == "text") {
      current->bytes += unescape(rest);
    } else if (word == "expect") {
      current->expects.push_back(rest);
    } else if (word == "expect-none") {
    } else if (word == "bad") {
      current->bad = std::stoull(rest);
    } else if (word == "end") {
      result.cases.push_back(std::move(*current));
      current.reset();
    } else {
      return fail("unknown directive '" + word + "'");
    }
  }
  if (current) return fail("case '" + current->name + "' has no 'end'");
  return result;
}

}  // namespace weighlink::scale::test
