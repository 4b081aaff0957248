#include <doctest/doctest.h>

#include "helpers.hpp"
#include "weighlink/scale/parser.hpp"

using namespace weighlink::scale;
using namespace weighlink::scale::test;

TEST_CASE("sma: the manual's stable example decodes exactly, split at every byte") {
  const std::string frame = hex("0A 20 31 47 20 20 20 20 20 20 20 37 2E 36 35 30 6B 67 20 0D");
  REQUIRE(frame == "\n 1G       7.650kg \r");
  const auto d = decode_every_split("sma", frame);
  REQUIRE(d.readings.size() == 1);
  const auto& r = d.readings[0];
  CHECK(r.protocol == "sma");
  CHECK(r.weight.to_string() == "7.650");
  CHECK(r.weight.decimals == 3);
  CHECK(r.unit == "kg");
  CHECK(r.mode == WeighMode::gross);
  CHECK(r.stable);
  CHECK(r.stable_source == StableSource::indicator);
  CHECK_FALSE(r.tare.has_value());
  CHECK_FALSE(r.overload);
  CHECK_FALSE(r.underload);
  CHECK_FALSE(r.center_zero);
  CHECK(r.raw == frame);
  CHECK(d.stats.frames == 1);
  CHECK(d.stats.bad_frames == 0);
  CHECK(d.stats.skipped_bytes == 0);
}

TEST_CASE("sma: motion, net, centre of zero, negative and units") {
  struct Case {
    const char* frame;
    const char* weight;
    const char* unit;
    WeighMode mode;
    bool stable;
    bool center_zero;
  };
  for (const auto& c : {
           Case{"\n 1GM      7.650kg \r", "7.650", "kg", WeighMode::gross, false, false},
           Case{"\n 1N      -12.50lb \r", "-12.50", "lb", WeighMode::net, true, false},
           Case{"\nZ1G           0kg \r", "0", "kg", WeighMode::gross, true, true},
           Case{"\n 1g     32540.0LB \r", "32540.0", "lb", WeighMode::gross, true, false},
           Case{"\n 1n         +25t  \r", "25", "t", WeighMode::net, true, false},
       }) {
    INFO(c.frame);
    const auto d = decode_every_split("sma", c.frame);
    REQUIRE(d.readings.size() == 1);
    const auto& r = d.readings[0];
    CHECK(r.weight.to_string() == c.weight);
    CHECK(r.unit == c.unit);
    CHECK(r.mode == c.mode);
    CHECK(r.stable == c.stable);
    CHECK(r.center_zero == c.center_zero);
  }
}

TEST_CASE("sma: a blank unit field takes the configured unit") {
  ParserOptions o;
  o.unit = "lb";
  const auto d = decode("sma", "\n 1G        1234   \r", o);
  REQUIRE(d.readings.size() == 1);
  CHECK(d.readings[0].unit == "lb");
}

TEST_CASE("sma: over and under capacity keep their flags even with dashed digits") {
  const auto over = decode("sma", "\nO1G  ----------kg \r");
  REQUIRE(over.readings.size() == 1);
  CHECK(over.readings[0].overload);
  CHECK(over.readings[0].weight.to_string() == "0");
  const auto under = decode("sma", "\nU1G      -50000kg \r");
  REQUIRE(under.readings.size() == 1);
  CHECK(under.readings[0].underload);
  CHECK(under.readings[0].weight.to_string() == "-50000");
  CHECK(over.stats.bad_frames + under.stats.bad_frames == 0);
}

TEST_CASE("sma: zero and tare errors give no reading and are not bad frames") {
  for (const char* frame :
       {"\nE1G  ----------kg \r", "\nT1G  ----------kg \r", "\ne1G  ----------kg \r"}) {
    INFO(frame);
    const auto d = decode_every_split("sma", frame);
    CHECK(d.readings.empty());
    CHECK(d.stats.bad_frames == 0);
    CHECK(d.stats.skipped_bytes == 0);
  }
}

TEST_CASE("sma: '?' and '!' replies are not readings and not bad frames") {
  const std::string stream = "\n?\r\n!\r\n 1G       7.650kg \r";
  const auto d = decode_every_split("sma", stream);
  REQUIRE(d.readings.size() == 1);
  CHECK(d.readings[0].weight.to_string() == "7.650");
  CHECK(d.stats.bad_frames == 0);
  CHECK(d.stats.skipped_bytes == 0);
}

TEST_CASE("sma: tare display reports the tare and is never stable") {
  const auto d = decode("sma", "\n 1T        1200kg \r");
  REQUIRE(d.readings.size() == 1);
  REQUIRE(d.readings[0].tare.has_value());
  CHECK(d.readings[0].tare->to_string() == "1200");
  CHECK(d.readings[0].mode == WeighMode::gross);
  CHECK_FALSE(d.readings[0].stable);
}

TEST_CASE("sma: garbage, cut-short and over-long frames resync on the next LF") {
  const std::string good = "\n 1G       7.650kg \r";
  const std::string garbage = "xx\x01\xff";
  const std::string cut = "\n 1G    ";                          // next LF arrives early
  const std::string too_long = "\n 1G         7.650kg     \r";  // no CR at byte 20
  const std::string bad_field = "\n 1G      7.6.50kg \r";       // right length, not a number
  const std::string bad_mode = "\n 1X       7.650kg \r";
  const std::string stream =
      garbage + good + cut + good + too_long + good + bad_field + good + bad_mode + good;
  const auto d = decode_every_split("sma", stream);
  CHECK(d.readings.size() == 5);
  for (const auto& r : d.readings) CHECK(r.weight.to_string() == "7.650");
  CHECK(d.stats.bad_frames == 4);
  CHECK(d.stats.skipped_bytes ==
        garbage.size() + cut.size() + too_long.size() + bad_field.size() + bad_mode.size());
}

TEST_CASE("sma: parity-set bytes decode identically") {
  const std::string frame = "\n 1GM     -7.650kg \r";
  for (const auto& noisy : {with_bit7(frame), with_even_parity(frame)}) {
    const auto d = decode_every_split("sma", noisy);
    REQUIRE(d.readings.size() == 1);
    CHECK(d.readings[0].weight.to_string() == "-7.650");
    CHECK(d.readings[0].unit == "kg");
    CHECK_FALSE(d.readings[0].stable);
    CHECK(d.readings[0].raw == noisy);
  }
}

TEST_CASE("registry: lists every protocol and builds each one") {
  const auto list = protocols();
  REQUIRE(list.size() >= 2);
  for (const auto& p : list) {
    INFO(p.id);
    CHECK_FALSE(p.description.empty());
    CHECK(p.id.find('\t') == std::string_view::npos);
    const auto parser = make_parser(p.id);
    REQUIRE(parser);
    CHECK(parser->protocol() == p.id);
  }
  CHECK(make_parser("no-such-protocol") == nullptr);
}
