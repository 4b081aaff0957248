// The pure parts of the integrator tools: capture files, simulator profiles, probe scoring.
#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <system_error>

#include "weighlink/scale/capture.hpp"
#include "weighlink/scale/encode.hpp"
#include "weighlink/scale/parser.hpp"
#include "weighlink/scale/probe.hpp"
#include "weighlink/scale/simulate.hpp"
#include "weighlink/scale/simulator.hpp"

using namespace weighlink::scale;
using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST_CASE("capture: records keep their bytes and offsets through a file round trip") {
  std::string file = encode_capture_header(R"({"source":"serial /dev/pts/3 9600 8N1"})");
  file += encode_capture_record(microseconds(0),
                                "\x02"
                                "abc");
  file += encode_capture_record(microseconds(150'000), std::string("\x82\x00\r", 3));
  file += encode_capture_record(microseconds(2'000'000'000'123), "z");
  REQUIRE(is_capture(file));
  const auto capture = parse_capture(file);
  REQUIRE_MESSAGE(capture.has_value(), (capture ? std::string() : capture.error().message));
  CHECK(capture->header_json == R"({"source":"serial /dev/pts/3 9600 8N1"})");
  REQUIRE(capture->records.size() == 3);
  CHECK(capture->records[1].offset == microseconds(150'000));
  CHECK(capture->records[1].bytes == std::string("\x82\x00\r", 3));
  CHECK(capture->records[2].offset == microseconds(2'000'000'000'123));
  CHECK_FALSE(capture->truncated);
  CHECK(capture_bytes(*capture) == std::string("\x02"
                                               "abc\x82\x00\rz",
                                               8));
}

TEST_CASE("capture: a record cut short by a killed recorder is dropped, the rest kept") {
  std::string file = encode_capture_header("");
  file += encode_capture_record(microseconds(5), "frame one\r");
  const std::string second = encode_capture_record(microseconds(9), "frame two\r");
  for (std::size_t cut = 1; cut < second.size(); ++cut) {
    const auto capture = parse_capture(file + second.substr(0, cut));
    REQUIRE(capture.has_value());
    CHECK(capture->truncated);
    REQUIRE(capture->records.size() == 1);
    CHECK(capture->records[0].bytes == "frame one\r");
  }
  CHECK(parse_capture(file)->header_json == "{}");
}

TEST_CASE("capture: raw indicator bytes are not mistaken for a capture") {
  CHECK_FALSE(
      is_capture("\x02"
                 "01 0 003254000000\r"));
  CHECK_FALSE(is_capture(""));
  const auto raw = parse_capture("ST,GS,+0001234kg\r\n");
  REQUIRE_FALSE(raw.has_value());
  CHECK(raw.error().code == std::errc::invalid_argument);
  CHECK(raw.error().message.find("not a capture") != std::string::npos);
}

TEST_CASE("capture: damaged records are refused, not read as garbage offsets") {
  std::string file = encode_capture_header("{}");
  file += encode_capture_record(microseconds(100), "a");
  file += encode_capture_record(microseconds(50), "b");  // out of order
  CHECK_FALSE(parse_capture(file).has_value());
  std::string zero = encode_capture_header("{}") + std::string(12, '\0');  // zero-length record
  CHECK_FALSE(parse_capture(zero).has_value());
}

TEST_CASE("simulator: deck weights always sum exactly to the total") {
  for (const std::int64_t total : {0, 20, 32540, 32560, 45000, 7}) {
    for (const int decks : {2, 3, 4}) {
      const auto split = split_decks(Decimal{total, 0}, decks, 20);
      REQUIRE(split.size() == static_cast<std::size_t>(decks));
      std::int64_t sum = 0;
      for (const auto& d : split) {
        CHECK(d.units >= 0);
        sum += d.units;
      }
      CHECK(sum == total);
    }
  }
  CHECK(split_decks(Decimal{100, 0}, 1, 20).empty());
}

TEST_CASE("simulator: the truck profile carries per-deck weights for multi-deck indicators") {
  SimProfileOptions options;
  options.decks = 3;
  const auto truck = make_sim_profile("truck", options);
  REQUIRE(truck);
  const auto standing = truck->at(milliseconds(3000 + 4000 + 1000));  // settled on the bridge
  CHECK_FALSE(standing.motion);
  REQUIRE(standing.decks.size() == 3);
  CHECK(standing.decks[0].units + standing.decks[1].units + standing.decks[2].units ==
        standing.weight.units);
}

TEST_CASE("simulator: axles roll on one by one with stable plateaus of each axle load") {
  SimProfileOptions options;
  options.seed = 7;
  const auto axles = make_sim_profile("axles", options);
  REQUIRE(axles);
  const auto loads = sim_axle_loads(7, 0);
  REQUIRE(loads.size() >= 2);
  CHECK(axles->at(milliseconds(500)).weight.units == 0);  // empty before the first axle
  for (std::size_t k = 0; k < loads.size(); ++k) {
    // kEmpty 2000, then per axle 1000 on, 3000 stable, 1000 off.
    const auto plateau = axles->at(milliseconds(2000 + 5000 * static_cast<int>(k) + 2500));
    CHECK_FALSE(plateau.motion);
    CHECK(plateau.weight == loads[k]);
    const auto rolling = axles->at(milliseconds(2000 + 5000 * static_cast<int>(k) + 500));
    CHECK(rolling.motion);
  }
}

TEST_CASE("simulator: cumulative axles show the running total at each plateau (MCGS)") {
  SimProfileOptions options;
  options.seed = 11;
  options.cumulative = true;
  const auto axles = make_sim_profile("axles", options);
  const auto loads = sim_axle_loads(11, 0);
  std::int64_t total = 0;
  std::int64_t previous_plateau = 0;
  for (std::size_t k = 0; k < loads.size(); ++k) {
    total += loads[k].units;
    const auto plateau = axles->at(milliseconds(2000 + 5000 * static_cast<int>(k) + 2500));
    CHECK_FALSE(plateau.motion);
    CHECK(plateau.weight.units == total);
    // The axle is the reading minus the reading at the previous capture.
    CHECK(plateau.weight.units - previous_plateau == loads[k].units);
    previous_plateau = plateau.weight.units;
  }
}

TEST_CASE("simulator: noise stays within three divisions and flags motion when off the value") {
  SimProfileOptions options;
  options.static_weight = Decimal{32540, 0};
  const auto noise = make_sim_profile("noise", options);
  bool saw_motion = false;
  bool saw_settled = false;
  for (int ms = 0; ms < 20000; ms += 100) {
    const auto s = noise->at(milliseconds(ms));
    CHECK(std::abs(s.weight.units - 32540) <= 60);
    if (s.weight.units != 32540) CHECK(s.motion);
    saw_motion = saw_motion || s.motion;
    saw_settled = saw_settled || !s.motion;
  }
  CHECK(saw_motion);
  CHECK(saw_settled);
}

TEST_CASE("simulator: unknown profiles are refused") {
  CHECK_FALSE(make_sim_profile("bouncy", SimProfileOptions{}));
}

TEST_CASE("probe: every encodable protocol is identified from its own frames") {
  int checked = 0;
  for (const auto& info : protocols()) {
    const auto encode = make_encoder(info.id, true);
    if (!encode) continue;
    SimProfileOptions options;
    options.decks = encoder_has_decks(info.id) ? 3 : 0;
    const auto truck = make_sim_profile("truck", options);
    std::string sample = "\x13\x7f garbage ";
    for (int ms = 0; ms < 18000; ms += 700) sample += encode(truck->at(milliseconds(ms)));
    const auto scores = score_protocols(sample, "9600 8N1");
    REQUIRE_MESSAGE(!scores.empty(), info.id);
    // Formats that are byte-identical for these frames may tie; the real one is among the best.
    std::set<std::string> best;
    for (const auto& s : scores) {
      if (s.confidence >= scores.front().confidence - 1e-9) best.insert(s.protocol);
    }
    CHECK_MESSAGE(best.count(std::string(info.id)) == 1,
                  info.id << " lost to " << scores.front().protocol);
    CHECK_MESSAGE(scores.front().confidence > 0.8, info.id);
    ++checked;
  }
  CHECK(checked >= 2);
}

TEST_CASE("probe: the polling advice says what the configuration needs beyond the default") {
  ProbeScore s;
  s.protocol = "cardinal-sb400";
  s.setting = "9600 7O1 polled";  // answered ENQ only: the agent would not poll it by default
  const auto enq = poll_advice(s);
  REQUIRE(enq);
  CHECK(enq->find(R"(poll_command: "\x05")") != std::string::npos);
  s.protocol = "mt-sics";
  s.setting = "9600 8N1 polled";
  const auto sics = poll_advice(s);  // polled by default: nothing to configure
  CHECK_FALSE(sics);
  s.protocol = "zm";
  s.setting = "9600 8N1";  // a ZM set to broadcast
  const auto broadcast = poll_advice(s);
  REQUIRE(broadcast);
  CHECK(broadcast->find("poll_interval_ms: 0") != std::string::npos);
  s.protocol = "mt-continuous";
  CHECK_FALSE(poll_advice(s));
}

TEST_CASE("probe: noise matches nothing with confidence") {
  std::string noise;
  for (int i = 0; i < 2000; ++i) noise.push_back(static_cast<char>((i * 7919) % 251));
  for (const auto& s : score_protocols(noise, "9600 8N1")) CHECK(s.confidence < 0.5);
}

TEST_CASE("probe: bit 7 carrying even parity means the line is 7E1") {
  // "\x02" "01 0" with even parity in bit 7, as a 7E1 line read at 8N1 shows it.
  auto with_even = [](std::string_view s) {
    std::string out;
    for (const char c : s) {
      const auto b = static_cast<unsigned char>(c);
      out.push_back(static_cast<char>(__builtin_parity(b) ? (b | 0x80) : b));
    }
    return out;
  };
  CHECK(parity_in_bit7(with_even("\x02"
                                 "01 0 003254000000\r")) == Parity::even);
  CHECK_FALSE(
      parity_in_bit7("\x02"
                     "01 0 003254000000\r"));
  CHECK_FALSE(parity_in_bit7(""));
}

TEST_CASE("probe: the settings list starts with the common 9600 8N1 and covers 7E1 and 7O1") {
  const auto settings = probe_settings();
  REQUIRE(!settings.empty());
  CHECK(describe_settings(settings.front()) == "9600 8N1");
  std::set<std::string> labels;
  for (const auto& s : settings) labels.insert(describe_settings(s));
  for (const char* want : {"1200 7E1", "115200 8N1", "4800 7O1", "19200 7E1"}) {
    CHECK(labels.count(want) == 1);
  }
}
