#include "weighlink/scale/stability.hpp"

#include <doctest/doctest.h>

#include "weighlink/scale/poll.hpp"
#include "weighlink/scale/scale_config.hpp"

using namespace weighlink::scale;
using namespace std::chrono_literals;

namespace {

const StabilityWindow::Clock::time_point t0{};

Decimal kg(std::int64_t units, int decimals = 0) { return Decimal{units, decimals}; }

Reading software_reading(Decimal weight) {
  Reading r;
  r.weight = weight;
  r.unit = "kg";
  r.stable_source = StableSource::software;
  return r;
}

}  // namespace

TEST_CASE("stability: stable only after the weight held within N divisions for T") {
  StabilityWindow w;  // N = 1 division of 1 in the last digit, T = 1000 ms
  CHECK_FALSE(w.update(kg(1000), "kg", WeighMode::gross, t0));
  CHECK_FALSE(w.update(kg(1001), "kg", WeighMode::gross, t0 + 400ms));
  CHECK_FALSE(w.update(kg(1000), "kg", WeighMode::gross, t0 + 999ms));
  CHECK(w.update(kg(1001), "kg", WeighMode::gross, t0 + 1000ms));
  CHECK(w.stable());
  // Two divisions of movement is motion, at once.
  CHECK_FALSE(w.update(kg(1002), "kg", WeighMode::gross, t0 + 1100ms));
  // The 1000 shown from 999 ms is still on display at the start of the last second at 1999 ms.
  CHECK_FALSE(w.update(kg(1002), "kg", WeighMode::gross, t0 + 1999ms));
  // At 2000 ms the last second saw 1001 and 1002 only: one division apart.
  CHECK(w.update(kg(1002), "kg", WeighMode::gross, t0 + 2000ms));
}

TEST_CASE("stability: a slow drift within the band over the last T stays stable") {
  StabilityWindow w;
  auto t = t0;
  std::int64_t v = 5000;
  bool ever_unstable_late = false;
  for (int i = 0; i < 100; ++i) {  // +1 every 1.2 s, frames every 200 ms
    if (i % 6 == 0) ++v;
    const bool s = w.update(kg(v), "kg", WeighMode::gross, t);
    if (i > 6 && !s) ever_unstable_late = true;
    t += 200ms;
  }
  // Each step of one division is within N = 1 of everything else seen in the last second.
  CHECK_FALSE(ever_unstable_late);
}

TEST_CASE("stability: the window starts over on a gap, unit, mode or decimals change") {
  StabilityConfig c;
  c.max_gap = 300ms;
  StabilityWindow w(c);
  for (auto t = 0ms; t <= 1000ms; t += 100ms) w.update(kg(2000), "kg", WeighMode::gross, t0 + t);
  REQUIRE(w.stable());
  SUBCASE("gap") {
    CHECK_FALSE(w.update(kg(2000), "kg", WeighMode::gross, t0 + 1400ms));
    for (auto t = 1500ms; t < 2400ms; t += 100ms) {
      CHECK_FALSE(w.update(kg(2000), "kg", WeighMode::gross, t0 + t));
    }
    CHECK(w.update(kg(2000), "kg", WeighMode::gross, t0 + 2400ms));
  }
  SUBCASE("unit") { CHECK_FALSE(w.update(kg(2000), "lb", WeighMode::gross, t0 + 1100ms)); }
  SUBCASE("mode") { CHECK_FALSE(w.update(kg(2000), "kg", WeighMode::net, t0 + 1100ms)); }
  SUBCASE("decimals") { CHECK_FALSE(w.update(kg(20000, 1), "kg", WeighMode::gross, t0 + 1100ms)); }
  SUBCASE("explicit reset (bad frame)") {
    w.reset();
    CHECK_FALSE(w.stable());
    for (auto t = 1100ms; t < 2100ms; t += 100ms) {
      CHECK_FALSE(w.update(kg(2000), "kg", WeighMode::gross, t0 + t));
    }
    CHECK(w.update(kg(2000), "kg", WeighMode::gross, t0 + 2100ms));
  }
}

TEST_CASE("stability: division and N are configurable, at any resolution") {
  StabilityConfig c;
  c.divisions = 3;
  c.division = kg(20);  // a display counting in 20 kg steps, ±3 d as for trucks
  StabilityWindow w(c);
  w.update(kg(32540), "kg", WeighMode::gross, t0);
  CHECK(w.update(kg(32600), "kg", WeighMode::gross, t0 + 1000ms));        // 60 kg = 3 d
  CHECK_FALSE(w.update(kg(32620), "kg", WeighMode::gross, t0 + 1100ms));  // 80 kg

  StabilityConfig fine;
  fine.division = Decimal{5, 3};  // d = 0.005 kg on a display with two decimals
  StabilityWindow f(fine);
  f.update(kg(1000, 2), "kg", WeighMode::gross, t0);
  CHECK_FALSE(f.update(kg(1001, 2), "kg", WeighMode::gross, t0 + 1000ms));  // 0.01 > 0.005
  StabilityWindow g(fine);
  g.update(kg(1000, 2), "kg", WeighMode::gross, t0);
  CHECK(g.update(kg(1000, 2), "kg", WeighMode::gross, t0 + 1000ms));
}

TEST_CASE("stability: indicator verdicts stand and software readings get the window") {
  ReadingStability rs;
  Reading flagged;
  flagged.weight = kg(100);
  flagged.stable = true;
  rs.apply(flagged, t0);
  CHECK(flagged.stable);  // the indicator said stable: not second-guessed
  flagged.stable = false;
  rs.apply(flagged, t0 + 5000ms);
  CHECK_FALSE(flagged.stable);  // never stable while the indicator says motion
  flagged.stable = true;
  flagged.overload = true;
  rs.apply(flagged, t0 + 5000ms);
  CHECK_FALSE(flagged.stable);

  auto a = software_reading(kg(7000));
  rs.apply(a, t0);
  CHECK_FALSE(a.stable);
  auto b = software_reading(kg(7000));
  rs.apply(b, t0 + 1000ms);
  CHECK(b.stable);
  CHECK(b.stable_source == StableSource::software);
  auto over = software_reading(kg(7000));
  over.overload = true;
  rs.apply(over, t0 + 1100ms);
  CHECK_FALSE(over.stable);
  auto c = software_reading(kg(7000));
  rs.apply(c, t0 + 1200ms);
  CHECK_FALSE(c.stable);  // the overload started the window over
}

TEST_CASE("stability: multi-deck readings are stable only when every deck is") {
  ReadingStability rs;
  auto frame = [](std::int64_t d1, std::int64_t d2) {
    auto r = software_reading(kg(d1 + d2));
    r.decks = {{1, kg(d1), false}, {2, kg(d2), false}};
    return r;
  };
  auto r = frame(12440, 20100);
  rs.apply(r, t0);
  r = frame(12440, 20100);
  rs.apply(r, t0 + 1000ms);
  CHECK(r.stable);
  CHECK(r.decks[0].stable);
  CHECK(r.decks[1].stable);
  // Deck 2 moves while deck 1 holds: each deck is judged on its own.
  r = frame(12440, 20160);
  rs.apply(r, t0 + 1100ms);
  CHECK(r.decks[0].stable);
  CHECK_FALSE(r.decks[1].stable);
  CHECK_FALSE(r.stable);
  // Two decks moving in opposite directions keep the total constant: still motion.
  StabilityConfig c;
  ReadingStability opposite(c);
  r = frame(10000, 10000);
  opposite.apply(r, t0);
  r = frame(10050, 9950);
  opposite.apply(r, t0 + 1000ms);
  CHECK_FALSE(r.stable);
}

TEST_CASE("capture: only stable, fresh, in-range readings at or above the minimum") {
  ScaleConfig config;
  config.min_capture_weight = kg(200);
  Reading r;
  r.weight = kg(32540);
  r.stable = true;
  CHECK(capturable(r, config));
  CHECK_FALSE(capture_refusal(r, config).has_value());

  auto with = [&](auto change) {
    Reading copy = r;
    change(copy);
    return capture_refusal(copy, config);
  };
  CHECK(with([](Reading& x) { x.stable = false; }) == CaptureRefusal::motion);
  CHECK(with([](Reading& x) { x.stale = true; }) == CaptureRefusal::stale);
  CHECK(with([](Reading& x) { x.overload = true; }) == CaptureRefusal::overload);
  CHECK(with([](Reading& x) { x.underload = true; }) == CaptureRefusal::underload);
  CHECK(with([](Reading& x) { x.weight = kg(199); }) == CaptureRefusal::below_minimum);
  CHECK(with([](Reading& x) { x.weight = Decimal{19999, 2}; }) == CaptureRefusal::below_minimum);
  CHECK_FALSE(with([](Reading& x) { x.weight = Decimal{20000, 2}; }).has_value());
  CHECK(with([](Reading& x) {
          x.decks = {{1, kg(1), true}, {2, kg(2), false}};
        }) == CaptureRefusal::motion);
  // A stale reading is refused for being stale even when it also looks unstable.
  CHECK(with([](Reading& x) {
          x.stale = true;
          x.stable = false;
        }) == CaptureRefusal::stale);
  CHECK(to_string(CaptureRefusal::below_minimum).find("minimum") != std::string_view::npos);

  ScaleConfig defaults;  // minimum 0: zero is capturable, a negative weight is not
  Reading zero;
  zero.stable = true;
  CHECK(capturable(zero, defaults));
  zero.weight = kg(-20);
  CHECK_FALSE(capturable(zero, defaults));
}

TEST_CASE("poll: the configured command, else the protocol's usual request, only when polled") {
  ScaleConfig c;
  c.protocol = "mt-continuous";
  CHECK(poll_request(c).empty());  // a streaming protocol with no poll setting: never polled
  c.poll_interval = 200ms;
  c.poll_command = "\x05";
  CHECK(poll_request(c) == "\x05");
  c.poll_interval = 0ms;
  CHECK(poll_request(c).empty());
}

TEST_CASE("poll: with no poll setting a polled protocol is polled every 500 ms, others never") {
  for (const char* id : {"zm", "cardinal-deck", "i1310", "mt-sics", "sma", "ad-stgs"}) {
    INFO(id);
    ScaleConfig c;
    c.protocol = id;
    CHECK(effective_poll_interval(c) == 500ms);
    CHECK(poll_request(c) == default_poll_command(id).value());
  }
  // Streaming protocols never start sending requests, nor does a Cardinal SB-400 (its
  // indicators stream unless continuous output is switched off).
  for (const char* id : {"mt-continuous", "rice-lake", "rinstrum", "xk3190-tf0", "xk3190-a12e",
                         "yaohua-reverse", "mcgs", "giropes", "custom", "cardinal-sb400"}) {
    INFO(id);
    ScaleConfig c;
    c.protocol = id;
    CHECK(effective_poll_interval(c) == 0ms);
    CHECK(poll_request(c).empty());
  }
}

TEST_CASE("poll: an explicit interval wins, 0 turns polling off, a command alone polls at 500 ms") {
  ScaleConfig zm;
  zm.protocol = "zm";
  zm.poll_interval = 250ms;
  CHECK(effective_poll_interval(zm) == 250ms);
  CHECK(poll_request(zm) == "\x05");
  zm.poll_interval = 0ms;  // written explicitly: an indicator set to broadcast
  CHECK(effective_poll_interval(zm) == 0ms);
  CHECK(poll_request(zm).empty());

  ScaleConfig cardinal;
  cardinal.protocol = "cardinal-sb400";
  cardinal.poll_command = "\x05";
  CHECK(effective_poll_interval(cardinal) == kDefaultPollInterval);
  CHECK(poll_request(cardinal) == "\x05");
}
