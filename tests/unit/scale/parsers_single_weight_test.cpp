// Single-weight parsers (group A) (mt-sics, cardinal-sb400, rice-lake, rinstrum, ad-stgs,
// xk3190-tf0, xk3190-a12e, yaohua-reverse): what the vector files cannot express — checksums
// against an independent helper, encoder round-trips over random display states, option-driven
// behaviour, poll commands.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "helpers.hpp"
#include "weighlink/scale/encode.hpp"
#include "weighlink/scale/parser.hpp"
#include "weighlink/scale/poll.hpp"

using namespace weighlink::scale;
using namespace weighlink::scale::test;

namespace {

// The XK3190 checksum written from the manual's wording: XOR the bytes, then send each nibble as
// an ASCII character, n + 0x30 when n <= 9, else n + 0x37.
std::string xk_checksum(std::string_view covered) {
  int x = 0;
  for (const char c : covered) x ^= static_cast<unsigned char>(c);
  auto ascii = [](int n) { return static_cast<char>(n <= 9 ? n + 0x30 : n + 0x37); };
  return {ascii(x / 16), ascii(x % 16)};
}

const char* const kSingleWeight[] = {"mt-sics", "cardinal-sb400", "rice-lake",   "rinstrum",
                                     "ad-stgs", "xk3190-tf0",     "xk3190-a12e", "yaohua-reverse"};

// What a format carries, so a round-trip checks exactly that.
struct Carries {
  bool mode;
  bool unit;
  bool motion;  // an indicator motion flag; otherwise software stability
  bool center_zero;
  bool over_range;
};

struct Format {
  std::string name;
  std::string protocol;
  std::string (*encode)(const DisplayState&);
  Carries carries;
};

std::string rinstrum1(const DisplayState& s) { return encode_rinstrum_format(s, 1); }
std::string rinstrum3(const DisplayState& s) { return encode_rinstrum_format(s, 3); }
std::string rinstrum4(const DisplayState& s) { return encode_rinstrum_format(s, 4); }
std::string rinstrum5(const DisplayState& s) { return encode_rinstrum_format(s, 5); }

const std::vector<Format>& formats() {
  static const std::vector<Format> f = {
      {"mt-sics", "mt-sics", &encode_mt_sics, {false, true, true, false, true}},
      {"cardinal SB-400", "cardinal-sb400", &encode_cardinal_sb400, {true, true, true, true, true}},
      {"cardinal SB-200",
       "cardinal-sb400",
       &encode_cardinal_sb200,
       {true, true, true, false, true}},
      {"rice-lake", "rice-lake", &encode_rice_lake, {true, true, true, true, true}},
      {"rinstrum FMT_1", "rinstrum", &rinstrum1, {true, false, true, false, true}},
      {"rinstrum FMT_2", "rinstrum", &encode_rinstrum, {true, true, true, true, true}},
      {"rinstrum FMT_3", "rinstrum", &rinstrum3, {true, false, true, true, true}},
      {"rinstrum FMT_4", "rinstrum", &rinstrum4, {true, true, true, false, true}},
      {"rinstrum FMT_5", "rinstrum", &rinstrum5, {true, true, true, false, true}},
      {"ad-stgs", "ad-stgs", &encode_ad_stgs, {true, true, true, false, true}},
      {"xk3190-tf0", "xk3190-tf0", &encode_xk3190_tf0, {false, false, false, false, false}},
      {"xk3190-a12e", "xk3190-a12e", &encode_xk3190_a12e, {true, true, false, false, true}},
      {"yaohua-reverse",
       "yaohua-reverse",
       &encode_yaohua_reverse,
       {false, false, false, false, false}},
  };
  return f;
}

DisplayState random_state(std::mt19937& rng) {
  std::uniform_int_distribution<int> decimals(0, 3);
  std::uniform_int_distribution<std::int64_t> magnitude(0, 99'999);
  std::uniform_int_distribution<int> percent(0, 99);
  const char* const units[] = {"kg", "lb", "g", "t"};
  DisplayState s;
  s.weight = Decimal{magnitude(rng), decimals(rng)};
  if (percent(rng) < 20) s.weight.units = -s.weight.units;
  if (percent(rng) < 10) s.weight.units = 0;
  s.tare = Decimal{0, s.weight.decimals};
  s.unit = units[percent(rng) % 4];
  s.mode = percent(rng) < 30 ? WeighMode::net : WeighMode::gross;
  s.motion = percent(rng) < 30;
  s.overload = percent(rng) < 8;
  s.center_zero = s.weight.units == 0 && percent(rng) < 50;
  return s;
}

void check_round_trip(const Format& f, const DisplayState& s, const Reading& r) {
  const Carries& c = f.carries;
  const bool out_of_range = s.overload && c.over_range;
  if (out_of_range) {
    const bool negative = s.weight.units < 0;
    CHECK(r.overload == !negative);
    CHECK(r.underload == negative);
    CHECK_FALSE(r.stable);
    return;
  }
  CHECK(r.weight == s.weight);
  CHECK_FALSE(r.overload);
  CHECK_FALSE(r.underload);
  if (c.mode && !(f.name == "rinstrum FMT_1" && s.motion)) CHECK(r.mode == s.mode);
  if (!c.mode) CHECK(r.mode == WeighMode::gross);
  if (c.unit && !(f.name == "rinstrum FMT_2" && s.motion)) CHECK(r.unit == s.unit);
  if (c.motion) {
    CHECK(r.stable == !s.motion);
    CHECK(r.stable_source == StableSource::indicator);
  } else {
    CHECK_FALSE(r.stable);
    CHECK(r.stable_source == StableSource::software);
  }
  if (c.center_zero && !s.motion) CHECK(r.center_zero == s.center_zero);
}

}  // namespace

TEST_CASE("single-weight formats: every protocol is registered, listed and has an encoder") {
  for (const char* id : kSingleWeight) {
    INFO(id);
    CHECK(make_parser(id) != nullptr);
    const auto listed = protocols();
    CHECK(std::any_of(listed.begin(), listed.end(), [&](const auto& p) { return p.id == id; }));
    DisplayState s;
    s.weight = Decimal{32540, 0};
    const auto frame = encode_frame(id, s);
    REQUIRE(frame.has_value());
    const auto d = decode(id, *frame);
    REQUIRE(d.readings.size() == 1);
    CHECK(d.readings[0].weight == s.weight);
    CHECK(d.readings[0].protocol == id);
    // The frame as received; line formats keep the LF after CR out of it.
    const std::string& raw = d.readings[0].raw;
    CHECK((raw == *frame || raw + "\n" == *frame));
  }
}

TEST_CASE(
    "single-weight formats: encoders round-trip through the parsers for random display states") {
  std::mt19937 rng(20261121);
  for (const auto& f : formats()) {
    for (int i = 0; i < 400; ++i) {
      const DisplayState s = random_state(rng);
      const std::string frame = f.encode(s);
      const std::string what = f.name + ": " + s.weight.to_string() + " " + s.unit +
                               (s.mode == WeighMode::net ? " net" : " gross") +
                               (s.motion ? " motion" : "") + (s.overload ? " overload" : "") +
                               " -> '" + frame + "'";
      INFO(what);
      ParserOptions o;
      o.unit = s.unit;  // formats without a unit take it from configuration
      const auto d =
          i < 10 ? decode_every_split(f.protocol, frame, o) : decode(f.protocol, frame, o);
      REQUIRE(d.readings.size() == 1);
      CHECK(d.stats.bad_frames == 0);
      CHECK(d.stats.skipped_bytes == 0);
      check_round_trip(f, s, d.readings[0]);
    }
  }
}

TEST_CASE(
    "single-weight formats: a stream of encoded frames decodes frame by frame, split anywhere") {
  std::mt19937 rng(7);
  for (const auto& f : formats()) {
    std::string stream;
    std::vector<DisplayState> states;
    for (int i = 0; i < 6; ++i) {
      states.push_back(random_state(rng));
      states.back().overload = false;
      stream += f.encode(states.back());
    }
    INFO(f.name);
    ParserOptions o;
    const auto d = decode_every_split(f.protocol, stream, o);
    REQUIRE(d.readings.size() == states.size());
    for (std::size_t i = 0; i < states.size(); ++i) CHECK(d.readings[i].weight == states[i].weight);
    CHECK(d.stats.bad_frames == 0);
  }
}

TEST_CASE("xk3190-tf0: frames with the manual's XOR are accepted, any other XOR is a bad frame") {
  std::mt19937 rng(3190);
  std::uniform_int_distribution<int> digit(0, 9);
  std::uniform_int_distribution<int> places(0, 4);
  for (int i = 0; i < 300; ++i) {
    std::string covered(1, i % 3 == 0 ? '-' : '+');
    std::int64_t units = 0;
    for (int k = 0; k < 6; ++k) {
      const int d = digit(rng);
      covered.push_back(static_cast<char>('0' + d));
      units = units * 10 + d;
    }
    const int p = places(rng);
    covered.push_back(static_cast<char>('0' + p));
    const std::string good = "\x02" + covered + xk_checksum(covered) + "\x03";
    INFO(good);
    const auto ok = decode("xk3190-tf0", good);
    REQUIRE(ok.readings.size() == 1);
    CHECK(ok.readings[0].weight == Decimal{covered[0] == '-' ? -units : units, p});
    CHECK(ok.stats.bad_frames == 0);
    // Every other checksum value is refused.
    std::string bad = good;
    bad[10] = bad[10] == 'F' ? '0' : (bad[10] == '9' ? 'A' : static_cast<char>(bad[10] + 1));
    const auto refused = decode("xk3190-tf0", bad);
    CHECK(refused.readings.empty());
    CHECK(refused.stats.bad_frames == 1);
    CHECK(refused.stats.skipped_bytes == bad.size());
  }
}

TEST_CASE("xk3190-a12e: the manual's XOR over the 11 leading bytes is verified") {
  const std::string covered = "WG004.139kg";
  CHECK(xk_checksum(covered) == "3D");  // the manual's example
  std::mt19937 rng(12);
  std::uniform_int_distribution<int> digit(0, 9);
  for (int i = 0; i < 300; ++i) {
    std::string body = i % 2 ? "WN" : "WG";
    std::string digits;
    for (int k = 0; k < 6; ++k) digits.push_back(static_cast<char>('0' + digit(rng)));
    digits.insert(static_cast<std::size_t>(1 + i % 5), ".");
    body += digits + "kg";
    const std::string frame = body + xk_checksum(body) + "\r\n";
    INFO(frame);
    const auto ok = decode("xk3190-a12e", frame);
    REQUIRE(ok.readings.size() == 1);
    CHECK(ok.readings[0].weight == *Decimal::parse(digits));
    std::string bad = frame;
    bad[5] = bad[5] == '.' ? bad[5] : static_cast<char>(bad[5] == '9' ? '0' : bad[5] + 1);
    if (bad != frame) {
      const auto refused = decode("xk3190-a12e", bad);
      CHECK(refused.readings.empty());
      CHECK(refused.stats.bad_frames == 1);
    }
  }
}

TEST_CASE(
    "single-weight formats: formats without a unit or motion flag take the unit from "
    "configuration") {
  ParserOptions o;
  o.unit = "lb";
  for (const char* id : {"xk3190-tf0", "yaohua-reverse"}) {
    INFO(id);
    DisplayState s;
    s.weight = Decimal{1250, 1};
    s.unit = "kg";  // not in the frame
    const auto d = decode(id, *encode_frame(id, s), o);
    REQUIRE(d.readings.size() == 1);
    CHECK(d.readings[0].unit == "lb");
    CHECK(d.readings[0].weight.to_string() == "125.0");
    CHECK(d.readings[0].stable_source == StableSource::software);
    CHECK_FALSE(d.readings[0].stable);
  }
  // Rinstrum FMT_1 has no unit field either.
  const auto d = decode("rinstrum", "\x02   32540G\x03", o);
  REQUIRE(d.readings.size() == 1);
  CHECK(d.readings[0].unit == "lb");
}

TEST_CASE("rinstrum: FMT_2 motion frames blank the unit, the indicator's last unit is kept") {
  ParserOptions o;
  o.unit = "kg";
  const auto d = decode("rinstrum",
                        "\x02   32545GM -   \x03\x02   32540G  - lb\x03\x02   32545GM -   \x03", o);
  REQUIRE(d.readings.size() == 3);
  CHECK(d.readings[0].unit == "kg");  // nothing seen yet: configuration
  CHECK(d.readings[1].unit == "lb");
  CHECK(d.readings[2].unit == "lb");
  CHECK_FALSE(d.readings[2].stable);
}

TEST_CASE("single-weight formats: the skipped-byte count covers garbage exactly") {
  const std::string garbage = "xx\x01\xFFyy";
  const auto d = decode("yaohua-reverse", garbage + "=04523000");
  REQUIRE(d.readings.size() == 1);
  CHECK(d.stats.skipped_bytes == garbage.size());
  const auto t = decode("yaohua-reverse", "=0452300");  // cut short at the end of input
  CHECK(t.readings.empty());
  CHECK(t.stats.skipped_bytes == 8);
}

TEST_CASE("poll: polled protocols have their request command, streaming ones none") {
  CHECK(default_poll_command("mt-sics") == std::optional<std::string>("SI\r\n"));
  CHECK(default_poll_command("cardinal-sb400") == std::optional<std::string>("\x05"));
  CHECK(default_poll_command("sma") == std::optional<std::string>("\nW\r"));
  CHECK(default_poll_command("ad-stgs") == std::optional<std::string>("W"));
  for (const char* id : {"mt-continuous", "rice-lake", "rinstrum", "xk3190-tf0", "xk3190-a12e",
                         "yaohua-reverse", "no-such-protocol"}) {
    INFO(id);
    CHECK_FALSE(default_poll_command(id).has_value());
  }
}

TEST_CASE("mt-sics: the poll command's reply decodes, motion is never stable") {
  const auto d = decode_every_split("mt-sics", "S D     129.07 g\r\nS S     129.05 g\r\n");
  REQUIRE(d.readings.size() == 2);
  CHECK_FALSE(d.readings[0].stable);
  CHECK(d.readings[1].stable);
  CHECK(d.readings[1].raw == "S S     129.05 g\r");
}
