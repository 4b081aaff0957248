// What a remote display is sent (display_frames.hpp), decoded back with weighlink's own parsers.
#include "weighlink/agent/display_frames.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "weighlink/scale/parser.hpp"

using namespace weighlink::agent::display;
using weighlink::scale::Decimal;
using weighlink::scale::Reading;

namespace {

Reading reading(const char* weight, bool stable, bool stale = false) {
  Reading r;
  r.scale = "main";
  r.weight = *Decimal::parse(weight);
  r.unit = "kg";
  r.stable = stable;
  r.stale = stale;
  return r;
}

// The readings a parser of `protocol` decodes from two copies of `frame`.
std::vector<Reading> decode(const std::string& protocol, const std::string& frame) {
  auto parser = weighlink::scale::make_parser(protocol);
  REQUIRE(parser);
  std::vector<Reading> out;
  parser->put(frame + frame, out);
  parser->finish(out);
  REQUIRE_FALSE(out.empty());
  return out;
}

}  // namespace

TEST_CASE("display frames: the indicator's exact decimal weight and motion reach the display") {
  for (const char* protocol : {"mt-continuous", "sma", "rice-lake", "ad-stgs"}) {
    INFO(protocol);
    const auto style = stale_style(protocol);
    for (const char* weight : {"18.25", "12.340", "32540", "0.5"}) {
      INFO(weight);
      for (const bool stable : {true, false}) {
        const auto frame = frame_for(protocol, style, reading(weight, stable));
        REQUIRE(frame);
        const auto back = decode(protocol, *frame).front();
        CHECK(back.weight == *Decimal::parse(weight));  // same digits, same decimal places
        CHECK(back.stable == stable);
        CHECK_FALSE(back.overload);
      }
    }
  }
}

TEST_CASE("display frames: stale is Toledo's out-of-range and motion bits, or nothing at all") {
  const auto toledo = frame_for("mt-continuous", stale_style("mt-continuous"),
                                reading("18240", true, /*stale=*/true));
  REQUIRE(toledo);
  const auto swb = static_cast<unsigned char>((*toledo)[2]);
  CHECK((swb & 0x04) != 0);  // out of range
  CHECK((swb & 0x08) != 0);  // motion
  const auto back = decode("mt-continuous", *toledo).front();
  CHECK(back.overload);
  CHECK_FALSE(back.stable);

  // Formats that cannot say "no weight" get no frame: the display blanks on silence.
  std::set<std::string> silent;
  for (const auto& p : weighlink::scale::protocols()) {
    if (frame_for(p.id, stale_style(p.id), reading("100", true)) &&
        stale_style(p.id) == StaleStyle::stop_sending) {
      silent.insert(std::string(p.id));
      CHECK_FALSE(frame_for(p.id, StaleStyle::stop_sending, reading("100", true, true)));
    }
  }
  // The table of docs/devices.md, "Remote display".
  CHECK(silent == std::set<std::string>{"xk3190-tf0", "yaohua-reverse", "mcgs", "giropes"});
  CHECK(to_string(stale_style("sma")) == "status_frame");
}

TEST_CASE(
    "display frames: nothing before the first reading, and none for a protocol without an "
    "encoder") {
  CHECK_FALSE(frame_for("mt-continuous", StaleStyle::status_frame, std::nullopt));
  CHECK_FALSE(frame_for("custom", StaleStyle::status_frame, reading("100", true)));
  CHECK(stale_style("custom") == StaleStyle::stop_sending);
}

TEST_CASE("display frames: the display state keeps tare, mode, decks and flags as read") {
  auto r = reading("16000", false);
  r.mode = weighlink::scale::WeighMode::net;
  r.decks = {{1, *Decimal::parse("6000"), true}, {2, *Decimal::parse("10000"), false}};
  r.underload = true;
  const auto s = display_state(r);
  CHECK(s.motion);
  CHECK(s.overload);
  CHECK(s.mode == weighlink::scale::WeighMode::net);
  CHECK(s.tare == Decimal{0, 0});
  REQUIRE(s.decks.size() == 2);
  CHECK(s.decks[1] == Decimal{10000, 0});
  r.tare = *Decimal::parse("1.50");
  CHECK(display_state(r).tare == Decimal{150, 2});
  CHECK(display_state(reading("2.5", true)).tare == Decimal{0, 1});
}
