#include "weighlink/scale/reading.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

using namespace weighlink::scale;

namespace {

Reading sample() {
  Reading r;
  r.scale = "main";
  r.seq = 1042;
  r.ts = std::chrono::sys_days{std::chrono::year{2026} / 11 / 21} + std::chrono::hours(8) +
         std::chrono::minutes(15) + std::chrono::seconds(2) + std::chrono::milliseconds(113);
  r.protocol = "mt-continuous";
  r.weight = Decimal{32540, 0};
  r.unit = "kg";
  r.tare = Decimal{0, 0};
  r.stable = true;
  r.raw = std::string("\x02") + "01 0 003254000000\r";
  return r;
}

}  // namespace

TEST_CASE("reading: to_json has the SPEC fields with weights as strings") {
  const auto o = to_json(sample(), false);
  CHECK(o.at("protocol") == "mt-continuous");
  CHECK(o.at("weight") == "32540");
  CHECK(o.at("decimals") == 0);
  CHECK(o.at("unit") == "kg");
  CHECK(o.at("mode") == "gross");
  CHECK(o.at("tare") == "0");
  CHECK(o.at("stable") == true);
  CHECK(o.at("stable_source") == "indicator");
  CHECK(o.at("overload") == false);
  CHECK(o.at("underload") == false);
  CHECK(o.at("center_zero") == false);
  CHECK(o.at("stale") == false);
  CHECK(o.at("raw") ==
        "\x02"
        "01 0 003254000000\r");
  CHECK_FALSE(o.contains("decks"));
  CHECK_FALSE(o.contains("scale"));
  CHECK_FALSE(o.contains("seq"));
  CHECK_FALSE(o.contains("ts"));
  CHECK(boost::json::serialize(o).find("\"raw\":\"\\u000201 0 003254000000\\r\"") !=
        std::string::npos);
}

TEST_CASE("reading: with identity adds scale, seq and a UTC millisecond timestamp") {
  const auto o = to_json(sample(), true);
  CHECK(o.at("scale") == "main");
  CHECK(o.at("seq") == 1042);
  CHECK(o.at("ts") == "2026-11-21T08:15:02.113Z");
}

TEST_CASE("reading: net, negative, decimals and decks") {
  Reading r = sample();
  r.weight = Decimal{-89, 2};
  r.tare = Decimal{600, 2};
  r.mode = WeighMode::net;
  r.stable_source = StableSource::software;
  r.decks = {{1, Decimal{12440, 0}, true}, {2, Decimal{20100, 0}, false}};
  const auto o = to_json(r, false);
  CHECK(o.at("weight") == "-0.89");
  CHECK(o.at("decimals") == 2);
  CHECK(o.at("tare") == "6.00");
  CHECK(o.at("mode") == "net");
  CHECK(o.at("stable_source") == "software");
  const auto& decks = o.at("decks").as_array();
  REQUIRE(decks.size() == 2);
  CHECK(decks[0].as_object().at("index") == 1);
  CHECK(decks[0].as_object().at("weight") == "12440");
  CHECK(decks[0].as_object().at("stable") == true);
  CHECK(decks[1].as_object().at("stable") == false);
}

TEST_CASE("reading: a missing tare is left out") {
  Reading r = sample();
  r.tare.reset();
  CHECK_FALSE(to_json(r, false).contains("tare"));
}

TEST_CASE("reading: raw maps every byte to one code point, control and 0x80+ bytes included") {
  Reading r = sample();
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  r.raw = all;
  const std::string line = to_json_line(r, false);
  // Valid JSON that parses back; each code point's value is the original byte.
  const auto parsed = boost::json::parse(line).as_object();
  const auto& raw = parsed.at("raw").as_string();
  std::string back;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c < 0x80) {
      back.push_back(static_cast<char>(c));
    } else {
      REQUIRE(i + 1 < raw.size());
      const auto c2 = static_cast<unsigned char>(raw[++i]);
      back.push_back(static_cast<char>(((c & 0x03) << 6) | (c2 & 0x3F)));
    }
  }
  CHECK(back == all);
  CHECK(line.find("\\u0002") != std::string::npos);
  CHECK(line.find("\xC2\x82") != std::string::npos);  // 0x82 as U+0082
  CHECK(line.find("\xC3\xBF") != std::string::npos);  // 0xFF as U+00FF
}

TEST_CASE("reading: timestamps are UTC with milliseconds and a trailing Z") {
  using namespace std::chrono;
  CHECK(format_timestamp(system_clock::time_point{}) == "1970-01-01T00:00:00.000Z");
  CHECK(format_timestamp(sys_days{year{2000} / 2 / 29} + hours(23) + minutes(59) + seconds(59) +
                         milliseconds(999) + microseconds(999)) == "2000-02-29T23:59:59.999Z");
  CHECK(format_timestamp(sys_days{year{1969} / 12 / 31} + hours(23) + milliseconds(5)) ==
        "1969-12-31T23:00:00.005Z");
}
