// Deck and axle parsers (group B) (zm, cardinal-deck, i1310, mcgs, giropes, custom), their encoders
// and the options validation. Exact frames live in tests/vectors/*.vec; these cases cover what a
// vector file cannot say: atomic multi-deck frames, round trips of random states, configuration
// errors.
#include <doctest/doctest.h>

#include <boost/json/serialize.hpp>
#include <random>

#include "helpers.hpp"
#include "weighlink/scale/encode.hpp"
#include "weighlink/scale/parser.hpp"

using namespace weighlink::scale;
using namespace weighlink::scale::test;

namespace {

DisplayState state_of(std::int64_t units, int decimals, bool motion = false) {
  DisplayState s;
  s.weight = Decimal{units, decimals};
  s.motion = motion;
  return s;
}

}  // namespace

TEST_CASE("cardinal-deck: no reading until the GVW line, then one reading with every deck") {
  auto parser = make_parser("cardinal-deck");
  REQUIRE(parser);
  std::vector<Reading> out;
  for (const char* line :
       {"D1:  1250 kg S\r\n", "D2:  1340 kg S\r\n", "D3:  1180 kg S\r\n", "D4:  1420 kg S\r\n"}) {
    parser->put(line, out);
    CHECK(out.empty());  // a consumer never sees half a frame
  }
  parser->put("GVW: 5190 kg S\r\n", out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].weight.to_string() == "5190");
  CHECK(out[0].decks.size() == 4);
  CHECK(out[0].stable);
  CHECK(parser->stats().frames == 1);
}

TEST_CASE("cardinal-deck: a frame whose GVW line is lost is dropped, not emitted short") {
  const auto d = decode("cardinal-deck",
                        "D1:  1250 kg S\r\nD2:  1340 kg S\r\n"  // GVW lost
                        "D1:  1250 kg S\r\nD2:  1340 kg S\r\nGVW: 2590 kg S\r\n");
  REQUIRE(d.readings.size() == 1);
  CHECK(d.readings[0].decks.size() == 2);
}

TEST_CASE("cardinal-deck: 7O1 parity bits are masked") {
  const auto d = decode_every_split(
      "cardinal-deck", with_even_parity("D1:  1250 kg S\r\nD2:  1340 kg S\r\nGVW: 2590 kg S\r\n"));
  REQUIRE(d.readings.size() == 1);
  CHECK(d.readings[0].weight.to_string() == "2590");
}

TEST_CASE("i1310: a motion deck keeps the frame unstable, the total is the weight") {
  const auto d = decode_every_split("i1310",
                                    "Scale No: 1  Weight:  1250 kg Stable\r\n"
                                    "Scale No: 2  Weight:  1340 kg Motion\r\n"
                                    "Total Weight:  2590 kg\r\n");
  REQUIRE(d.readings.size() == 1);
  CHECK_FALSE(d.readings[0].stable);
  CHECK(d.readings[0].decks[0].stable);
  CHECK_FALSE(d.readings[0].decks[1].stable);
}

TEST_CASE("zm: the legacy W reply is four decks, not deck1 = 12440 as TruConnect reads it") {
  const auto d = decode_every_split("zm", "  5200 kg, 12440 kg, 0 kg,  0 kg,\r");
  REQUIRE(d.readings.size() == 1);
  const auto& r = d.readings[0];
  CHECK(r.weight.to_string() == "17640");
  REQUIRE(r.decks.size() == 4);
  CHECK(r.decks[0].weight.to_string() == "5200");
  CHECK(r.decks[1].weight.to_string() == "12440");
  CHECK(r.stable_source == StableSource::software);
}

TEST_CASE("zm: a Zedem 510 total that disagrees shows the decks and flags both totals") {
  auto parser = make_parser("zm");
  REQUIRE(parser);
  std::vector<Reading> out;
  // TruConnect's sample frames agree with themselves and carry no flag; the third does not.
  parser->put("00,    00,  1100,  1000, 2100\r\n5200, 4800, 3100, 2900, 16000\r\n", out);
  parser->put("5200, 4800, 3100, 2900, 16010\r\n", out);
  REQUIRE(out.size() == 3);
  CHECK_FALSE(out[0].flag);
  CHECK_FALSE(out[1].flag);
  const auto& r = out[2];
  CHECK(r.weight == Decimal{16000, 0});  // the GVW is the sum of the decks shown
  REQUIRE(r.decks.size() == 4);
  CHECK(r.decks[0].weight == Decimal{5200, 0});
  CHECK(r.decks[3].weight == Decimal{2900, 0});
  REQUIRE(r.flag);
  CHECK(r.flag->reason == FlagReason::total_mismatch);
  CHECK(r.flag->indicator_total == Decimal{16010, 0});
  CHECK(r.flag->decks_sum == Decimal{16000, 0});
  CHECK(parser->stats().frames == 3);
  CHECK(parser->stats().bad_frames == 0);
  const auto json = to_json(r, false);
  CHECK(boost::json::serialize(json.at("flag")) ==
        R"({"reason":"total_mismatch","indicator_total":"16010","decks_sum":"16000"})");
}

TEST_CASE("mcgs: frames fed one byte at a time give the same readings") {
  const auto d = decode_every_split("mcgs", "=SG+0000060kX=SG+0000070kX\r\n=SG+0000080kR\r\n");
  REQUIRE(d.readings.size() == 3);
  CHECK(d.readings[2].weight.to_string() == "80");
  CHECK(d.stats.bad_frames == 0);
  CHECK(d.stats.skipped_bytes == 0);
}

TEST_CASE("deck and axle encoders: random states round-trip through their parsers") {
  std::mt19937 rng(20261121);
  std::uniform_int_distribution<std::int64_t> weight(0, 99'999);
  std::uniform_int_distribution<int> decimals(0, 2);
  std::uniform_int_distribution<int> coin(0, 1);
  std::uniform_int_distribution<int> deck_count(1, 6);
  for (int i = 0; i < 300; ++i) {
    const int places = decimals(rng);
    const bool motion = coin(rng) == 1;
    INFO("iteration " << i);

    // Single-weight formats.
    const auto single = state_of(weight(rng), places, motion);
    for (const char* protocol : {"zm", "mcgs", "giropes"}) {
      INFO(protocol << " " << single.weight.to_string());
      const auto frame = encode_frame(protocol, single);
      REQUIRE(frame);
      const auto d = decode(protocol, *frame);
      REQUIRE(d.readings.size() == 1);
      CHECK(d.readings[0].weight == single.weight);
      CHECK(d.stats.bad_frames == 0);
      if (std::string_view(protocol) == "zm") {
        CHECK(d.readings[0].stable == !motion);
      } else {
        CHECK(d.readings[0].stable_source == StableSource::software);
      }
    }

    // Multi-deck formats.
    DisplayState multi = state_of(0, places, motion);
    const int n = deck_count(rng);
    for (int k = 0; k < n; ++k) multi.decks.push_back(Decimal{weight(rng), places});
    for (const char* protocol : {"cardinal-deck", "i1310", "zm"}) {
      INFO(protocol << " with " << n << " decks");
      const auto frame = encode_frame(protocol, multi);
      REQUIRE(frame);
      const auto d = decode(protocol, *frame);
      REQUIRE(d.readings.size() == 1);
      const auto& r = d.readings[0];
      REQUIRE(r.decks.size() == multi.decks.size());
      std::int64_t sum = 0;
      for (std::size_t k = 0; k < r.decks.size(); ++k) {
        CHECK(r.decks[k].index == static_cast<int>(k) + 1);
        CHECK(r.decks[k].weight == multi.decks[k]);
        sum += multi.decks[k].units;
      }
      CHECK(r.weight.compare(Decimal{sum, places}) == std::strong_ordering::equal);
      if (std::string_view(protocol) != "zm") {
        CHECK(r.stable == !motion);
        CHECK(r.stable_source == StableSource::indicator);
      }
    }
  }
}

TEST_CASE("deck and axle encoders: frames survive every split") {
  DisplayState s = state_of(2540, 0);
  s.decks = {Decimal{1250, 0}, Decimal{1290, 0}};
  for (const char* protocol : {"zm", "cardinal-deck", "i1310", "mcgs", "giropes"}) {
    INFO(protocol);
    const auto d = decode_every_split(protocol, *encode_frame(protocol, s));
    CHECK(d.readings.size() == 1);
  }
}

TEST_CASE("zm encoder: overload, net and motion headers decode back") {
  DisplayState s = state_of(1250, 0);
  s.mode = WeighMode::net;
  CHECK(encode_zm(s) == "NT,     1250,kg\r\n");
  s.motion = true;
  CHECK(encode_zm(s) == "NU,     1250,kg\r\n");
  s.overload = true;
  const auto d = decode("zm", encode_zm(s));
  REQUIRE(d.readings.size() == 1);
  CHECK(d.readings[0].overload);
  CHECK_FALSE(d.readings[0].stable);
}

TEST_CASE("validate_options: usable options pass, bad ones name the key") {
  CHECK_FALSE(validate_options("zm", {}).has_value());
  const auto unknown = validate_options("no-such-indicator", {});
  REQUIRE(unknown);
  CHECK(unknown->find("protocol") == 0);

  ParserOptions o;
  o.decimals = 12;
  CHECK(validate_options("zm", o)->find("decimals:") == 0);
  o = {};
  o.deck_count = -1;
  CHECK(validate_options("i1310", o)->find("deck_count:") == 0);

  o = {};
  CHECK(validate_options("custom", o)->find("custom_pattern: missing") == 0);
  o.custom_pattern = "(?<weight>\\d+";
  CHECK(validate_options("custom", o)->find("custom_pattern: not a valid") == 0);
  o.custom_pattern = "(?<unit>kg)";
  CHECK(validate_options("custom", o)->find("custom_pattern: no (?<weight>") == 0);
  o.custom_pattern = "(?<wieght>\\d+)";
  CHECK(validate_options("custom", o)->find("unknown group name 'wieght'") != std::string::npos);
  o.custom_pattern = "(?<weight>\\d+)(?<weight>\\d+)";
  CHECK(validate_options("custom", o)->find("appears twice") != std::string::npos);
  o.custom_pattern = "(?<deck1>\\d+),(?<deck3>\\d+)";
  CHECK(validate_options("custom", o)->find("without gaps") != std::string::npos);
  o.custom_pattern = "(?<weight>\\d+)";
  o.custom_terminator = "";
  CHECK(validate_options("custom", o)->find("custom_terminator:") == 0);
  o.custom_terminator = "\r\n";
  CHECK_FALSE(validate_options("custom", o).has_value());
}

TEST_CASE("custom: a parser made from a bad pattern refuses frames and never crashes") {
  ParserOptions o;
  o.custom_pattern = "((((";
  auto parser = make_parser("custom", o);
  REQUIRE(parser);
  std::vector<Reading> out;
  parser->put("1234\r\n5678\r\n", out);
  parser->finish(out);
  CHECK(out.empty());
  CHECK(parser->stats().bad_frames == 2);
}

TEST_CASE("custom: named groups are numbered around non-capturing groups and classes") {
  ParserOptions o;
  // "(" inside a class, an escaped "(", a non-capturing group and a plain group before the names.
  o.custom_pattern = R"(^[(]\((?:x|y)(z)?=(?<weight>[0-9.]+)(?P<unit>kg|t)$)";
  REQUIRE_FALSE(validate_options("custom", o).has_value());
  const auto d = decode("custom", "((x=12.5t\r\n((yz=7kg\r\n(x=1kg\r\n((y=3kg\r\n", o);
  REQUIRE(d.readings.size() == 3);
  CHECK(d.readings[0].weight.to_string() == "12.5");
  CHECK(d.readings[0].unit == "t");
  CHECK(d.readings[1].weight.to_string() == "7");
  CHECK(d.readings[1].unit == "kg");
  CHECK(d.readings[2].weight.to_string() == "3");
  CHECK(d.stats.bad_frames == 1);
}

TEST_CASE("custom: an overload status with dashed digits keeps the flag and is never stable") {
  ParserOptions o;
  o.custom_pattern = R"(^(?<status>OL|ST),(?<weight>[-0-9. ]+)kg$)";
  const auto d = decode("custom", "OL,-------kg\r\nST,   1200kg\r\n", o);
  REQUIRE(d.readings.size() == 2);
  CHECK(d.readings[0].overload);
  CHECK_FALSE(d.readings[0].stable);
  CHECK(d.readings[1].weight.to_string() == "1200");
  CHECK(d.readings[1].stable_source == StableSource::software);
}

TEST_CASE("custom: an unknown mode text is refused rather than read as gross") {
  ParserOptions o;
  o.custom_pattern = R"(^(?<mode>[A-Z]+) (?<weight>\d+)$)";
  const auto d = decode("custom", "NET 100\r\nXX 100\r\nG 100\r\n", o);
  REQUIRE(d.readings.size() == 2);
  CHECK(d.readings[0].mode == WeighMode::net);
  CHECK(d.readings[1].mode == WeighMode::gross);
  CHECK(d.stats.bad_frames == 1);
}

TEST_CASE("giropes: the net field does not change the reading") {
  const auto d = decode("giropes", "$   5000    4800 830\n\r");
  REQUIRE(d.readings.size() == 1);
  CHECK(d.readings[0].weight.to_string() == "5000");
  CHECK(d.readings[0].mode == WeighMode::gross);
}

TEST_CASE("deck and axle formats: every new protocol id is registered and listed") {
  for (const char* id : {"zm", "cardinal-deck", "i1310", "mcgs", "giropes", "custom"}) {
    bool listed = false;
    for (const auto& p : protocols()) listed = listed || p.id == id;
    CHECK_MESSAGE(listed, id);
    CHECK(make_parser(id) != nullptr);
  }
}
