#include "weighlink/scale/encode.hpp"

#include <doctest/doctest.h>

#include <random>

#include "helpers.hpp"
#include "weighlink/scale/parser.hpp"

using namespace weighlink::scale;
using namespace weighlink::scale::test;

namespace {

DisplayState state(std::int64_t units, int decimals, WeighMode mode = WeighMode::gross,
                   bool motion = false, const char* unit = "kg") {
  DisplayState s;
  s.weight = Decimal{units, decimals};
  s.tare = Decimal{0, decimals};
  s.mode = mode;
  s.motion = motion;
  s.unit = unit;
  return s;
}

void check_round_trip(const DisplayState& s, const Reading& r) {
  CHECK(r.weight.compare(s.weight) == std::strong_ordering::equal);
  CHECK(r.mode == s.mode);
  CHECK(r.stable == !s.motion);
  CHECK(r.unit == s.unit);
  CHECK(r.overload == s.overload);
}

}  // namespace

TEST_CASE("encode: mt-continuous frames round-trip through the parser") {
  const std::vector<DisplayState> states = {
      state(32540, 0),
      state(567, 2),
      state(-89, 2, WeighMode::net),
      state(3845, 2, WeighMode::gross, true),
      state(1, 5, WeighMode::gross, false, "t"),
      state(250, 0, WeighMode::gross, false, "g"),
      state(12, 0, WeighMode::gross, false, "oz"),
      state(70000, 0, WeighMode::gross, false, "lb"),
      state(1000000, 0),   // too long for six digits: sent with the ×10 code
      state(32500000, 0),  // ×100 code
  };
  for (const bool checksum : {true, false}) {
    for (const auto& s : states) {
      INFO(s.weight.to_string() << " " << s.unit << (checksum ? " with checksum" : ""));
      const std::string frame = encode_mt_continuous(s, checksum);
      CHECK(frame.size() == (checksum ? 18u : 17u));
      ParserOptions o;
      o.checksum = checksum ? ChecksumMode::required : ChecksumMode::absent;
      const auto d = decode_every_split("mt-continuous", frame, o);
      REQUIRE(d.readings.size() == 1);
      check_round_trip(s, d.readings[0]);
      CHECK(d.stats.bad_frames == 0);
    }
  }
}

TEST_CASE("encode: mt-continuous carries the tare and the checksum the manual defines") {
  DisplayState s = state(-89, 2, WeighMode::net);
  s.tare = Decimal{600, 2};
  const std::string frame = encode_mt_continuous(s, true);
  CHECK(frame[17] == toledo_checksum(frame.substr(0, 17)));
  // Same fields as the reference frame "02 2C 73 60 ..." except the always-set bits 6.
  CHECK(frame.substr(4, 12) == "000089000600");
  const auto d = decode("mt-continuous", frame);
  REQUIRE(d.readings.size() == 1);
  REQUIRE(d.readings[0].tare.has_value());
  CHECK(d.readings[0].tare->to_string() == "6.00");
  CHECK(d.readings[0].weight.to_string() == "-0.89");
}

TEST_CASE("encode: mt-continuous sends weights that do not fit as out of range") {
  DisplayState s = state(12345678, 0);
  const auto d = decode("mt-continuous", encode_mt_continuous(s, true));
  REQUIRE(d.readings.size() == 1);
  CHECK(d.readings[0].overload);
  s.overload = true;
  s.weight = Decimal{100, 0};
  const auto d2 = decode("mt-continuous", encode_mt_continuous(s, false));
  REQUIRE(d2.readings.size() == 1);
  CHECK(d2.readings[0].overload);
}

TEST_CASE("encode: the SMA encoder reproduces the manual's example byte for byte") {
  DisplayState s = state(7650, 3);
  CHECK(encode_sma(s) == "\n 1G       7.650kg \r");
  s.motion = true;
  CHECK(encode_sma(s) == "\n 1GM      7.650kg \r");
}

TEST_CASE("encode: sma frames round-trip through the parser") {
  for (const auto& s :
       {state(32540, 0), state(-1250, 2, WeighMode::net), state(3845, 2, WeighMode::gross, true),
        state(0, 0), state(123456789, 0, WeighMode::gross, false, "lb")}) {
    INFO(s.weight.to_string());
    const auto d = decode_every_split("sma", encode_sma(s));
    REQUIRE(d.readings.size() == 1);
    check_round_trip(s, d.readings[0]);
  }
  DisplayState zero = state(0, 0);
  zero.center_zero = true;
  const auto d = decode("sma", encode_sma(zero));
  REQUIRE(d.readings.size() == 1);
  CHECK(d.readings[0].center_zero);
}

TEST_CASE("encode: random display states round-trip through both parsers") {
  std::mt19937_64 rng(20261121);
  std::string mt_stream;
  std::string sma_stream;
  std::vector<DisplayState> states;
  for (int i = 0; i < 300; ++i) {
    const int decimals = static_cast<int>(rng() % 4);
    const auto units = static_cast<std::int64_t>(rng() % 1000000) * ((rng() % 4 == 0) ? -1 : 1);
    const char* units_list[] = {"kg", "lb", "g", "t", "oz"};
    DisplayState s = state(units, decimals, rng() % 2 ? WeighMode::net : WeighMode::gross,
                           rng() % 3 == 0, units_list[rng() % 5]);
    states.push_back(s);
    mt_stream += encode_mt_continuous(s, true, 1);
    sma_stream += encode_sma(s);
  }
  const auto mt = decode("mt-continuous", mt_stream);
  const auto sma = decode("sma", sma_stream);
  REQUIRE(mt.readings.size() == states.size());
  REQUIRE(sma.readings.size() == states.size());
  for (std::size_t i = 0; i < states.size(); ++i) {
    check_round_trip(states[i], mt.readings[i]);
    check_round_trip(states[i], sma.readings[i]);
  }
  CHECK(mt.stats.bad_frames + mt.stats.skipped_bytes + sma.stats.bad_frames +
            sma.stats.skipped_bytes ==
        0);
}
