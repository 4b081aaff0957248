// Runs every protocol vector file in tests/vectors/ (format: tests/vectors/README.md).
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <filesystem>

#include "helpers.hpp"
#include "vector_file.hpp"
#include "weighlink/scale/parser.hpp"
#include "weighlink/scale/reading.hpp"

namespace json = boost::json;
using weighlink::scale::ChecksumMode;
using weighlink::scale::ParserOptions;
using weighlink::scale::Reading;
using weighlink::scale::test::VectorCase;

namespace {

// The `options` JSON in force for a case; none: the defaults.
ParserOptions parse_options(const std::string& text) {
  ParserOptions o;
  if (text.empty()) return o;
  const auto v = json::parse(text).as_object();
  if (const auto* u = v.if_contains("unit")) o.unit = std::string(u->as_string());
  if (const auto* d = v.if_contains("decimals")) o.decimals = static_cast<int>(d->as_int64());
  if (const auto* c = v.if_contains("checksum")) {
    const auto s = c->as_string();
    o.checksum = s == "required" ? ChecksumMode::required
                 : s == "absent" ? ChecksumMode::absent
                                 : ChecksumMode::auto_detect;
  }
  if (const auto* d = v.if_contains("deck_count")) o.deck_count = static_cast<int>(d->as_int64());
  if (const auto* p = v.if_contains("custom_pattern")) o.custom_pattern = p->as_string();
  if (const auto* t = v.if_contains("custom_terminator")) o.custom_terminator = t->as_string();
  if (const auto* s = v.if_contains("custom_start")) o.custom_start = s->as_string();
  if (const auto* s = v.if_contains("custom_stable_values")) {
    o.custom_stable_values.clear();
    for (const auto& e : s->as_array()) o.custom_stable_values.emplace_back(e.as_string());
  }
  return o;
}

std::vector<VectorCase> load(const std::filesystem::path& file) {
  auto read = weighlink::scale::test::read_vector_file(file);
  REQUIRE_MESSAGE(read.error.empty(), read.error);
  return std::move(read.cases);
}

struct Decoded {
  std::vector<json::object> readings;
  weighlink::scale::ParserStats stats;
};

Decoded decode(const std::string& protocol, const ParserOptions& options,
               const std::vector<std::string_view>& chunks) {
  auto parser = weighlink::scale::make_parser(protocol, options);
  REQUIRE_MESSAGE(parser, "unknown protocol " << protocol);
  std::vector<Reading> out;
  for (const auto chunk : chunks) parser->put(chunk, out);
  parser->finish(out);
  Decoded d;
  for (const auto& r : out) d.readings.push_back(weighlink::scale::to_json(r, false));
  d.stats = parser->stats();
  return d;
}

void check_expected(const VectorCase& c, const Decoded& d, const std::string& how) {
  INFO("case '" << c.name << "' (line " << c.line << "), " << how);
  REQUIRE(d.readings.size() == c.expects.size());
  for (std::size_t i = 0; i < c.expects.size(); ++i) {
    const json::object expected = json::parse(c.expects[i]).as_object();
    for (const auto& member : expected) {
      // Named, not a structured binding: doctest's INFO captures them in a lambda.
      const std::string key(member.key());
      const json::value& value = member.value();
      const auto* got = d.readings[i].if_contains(key);
      INFO("reading " << i << " key " << key << ": " << json::serialize(d.readings[i]));
      REQUIRE(got != nullptr);
      CHECK(*got == value);
    }
  }
}

}  // namespace

TEST_CASE("vectors: every protocol vector file decodes exactly, whole, split and after garbage") {
  const std::filesystem::path dir = std::filesystem::path(WEIGHLINK_SOURCE_DIR) / "tests/vectors";
  std::size_t files = 0, total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".vec") continue;
    ++files;
    const std::string protocol = entry.path().stem().string();
    for (const auto& c : load(entry.path())) {
      ++total;
      const ParserOptions options = parse_options(c.options);
      const auto whole = decode(protocol, options, {c.bytes});
      check_expected(c, whole, protocol + " whole");
      if (c.bad) CHECK_MESSAGE(whole.stats.bad_frames == *c.bad, protocol << " case " << c.name);
      for (std::size_t cut = 1; cut < c.bytes.size(); ++cut) {
        const std::string_view b(c.bytes);
        const auto split = decode(protocol, options, {b.substr(0, cut), b.substr(cut)});
        REQUIRE_MESSAGE(split.readings == whole.readings,
                        protocol << " case '" << c.name << "' split at " << cut);
      }
      const std::string garbage = std::string("\x01\xFF junk 12345 \x7F\0", 16) + "\r\n";
      const auto after_garbage = decode(protocol, options, {garbage, c.bytes});
      check_expected(c, after_garbage, protocol + " after garbage");
    }
  }
  MESSAGE(files << " vector files, " << total << " cases");
  CHECK(files >= 1);
}
