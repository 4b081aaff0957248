#include <doctest/doctest.h>

#include "helpers.hpp"
#include "weighlink/scale/parser.hpp"

using namespace weighlink::scale;
using namespace weighlink::scale::test;

namespace {

struct Vector {
  const char* name;
  std::string frame;
  const char* weight;
  const char* tare;
  const char* unit;
  WeighMode mode;
  bool stable;
  bool overload;
  bool underload;
};

std::string out_of_range_frame() {
  std::string body = hex("02 2C 74 60 30 30 37 30 39 34 30 30 30 30 30 30 0D");
  return body + toledo_checksum(body);
}

// Every sample of scale-protocols.md §1.1, with the checksum bytes as printed there.
std::vector<Vector> reference_vectors() {
  return {
      {"zero", hex("02 2C 70 60 30 30 30 30 30 30 30 30 30 30 30 30 0D 35"), "0.00", "0.00", "kg",
       WeighMode::gross, true, false, false},
      {"5.67 kg", hex("02 2C 70 60 30 30 30 35 36 37 30 30 30 30 30 30 0D 23"), "5.67", "0.00",
       "kg", WeighMode::gross, true, false, false},
      {"motion", hex("02 2C 78 60 30 30 33 38 34 35 30 30 30 30 30 30 0D 19"), "38.45", "0.00",
       "kg", WeighMode::gross, false, false, false},
      {"out of range", out_of_range_frame(), "70.94", "0.00", "kg", WeighMode::gross, true, true,
       false},
      {"net negative", hex("02 2C 73 60 30 30 30 30 38 39 30 30 30 36 30 30 0D 1B"), "-0.89",
       "6.00", "kg", WeighMode::net, true, false, false},
      {"weighbridge", hex("02 31 30 20 30 30 33 32 35 34 30 30 30 30 30 30 0D 22"), "32540", "0",
       "kg", WeighMode::gross, true, false, false},
  };
}

void check_vector(const Reading& r, const Vector& v) {
  INFO(v.name);
  CHECK(r.protocol == "mt-continuous");
  CHECK(r.weight.to_string() == v.weight);
  REQUIRE(r.tare.has_value());
  CHECK(r.tare->to_string() == v.tare);
  CHECK(r.unit == v.unit);
  CHECK(r.mode == v.mode);
  CHECK(r.stable == v.stable);
  CHECK(r.stable_source == StableSource::indicator);
  CHECK(r.overload == v.overload);
  CHECK(r.underload == v.underload);
  CHECK_FALSE(r.center_zero);
  CHECK_FALSE(r.stale);
  CHECK(r.decks.empty());
}

std::string strip_checksum(const std::string& frame) { return frame.substr(0, 17); }

std::string frame_of(const std::string& body17) { return body17 + toledo_checksum(body17); }

}  // namespace

TEST_CASE("mt-continuous: every reference sample decodes exactly, split at every byte") {
  for (const auto& v : reference_vectors()) {
    for (const bool checksum : {true, false}) {
      const std::string bytes = checksum ? v.frame : strip_checksum(v.frame);
      const auto d = decode_every_split("mt-continuous", bytes);
      INFO(v.name << (checksum ? " with checksum" : " without checksum"));
      REQUIRE(d.readings.size() == 1);
      check_vector(d.readings[0], v);
      CHECK(d.readings[0].raw == bytes);
      CHECK(d.stats.frames == 1);
      CHECK(d.stats.bad_frames == 0);
      CHECK(d.stats.skipped_bytes == 0);
    }
  }
}

TEST_CASE("mt-continuous: the reference checksums verify with the manual's formula") {
  for (const auto& v : reference_vectors()) {
    INFO(v.name);
    CHECK(toledo_checksum(v.frame.substr(0, 17)) == v.frame[17]);
  }
}

TEST_CASE("mt-continuous: a stream of frames with checksums locks on and decodes them all") {
  std::string stream;
  for (const auto& v : reference_vectors()) stream += v.frame;
  const auto d = decode_every_split("mt-continuous", stream);
  const auto vectors = reference_vectors();
  REQUIRE(d.readings.size() == vectors.size());
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    check_vector(d.readings[i], vectors[i]);
    CHECK(d.readings[i].raw.size() == 18);
  }
  CHECK(d.stats.bad_frames == 0);
  CHECK(d.stats.skipped_bytes == 0);
}

TEST_CASE("mt-continuous: a stream without checksums is learned from the next STX") {
  std::string stream;
  for (const auto& v : reference_vectors()) stream += strip_checksum(v.frame);
  const auto d = decode_every_split("mt-continuous", stream);
  const auto vectors = reference_vectors();
  REQUIRE(d.readings.size() == vectors.size());
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    check_vector(d.readings[i], vectors[i]);
    CHECK(d.readings[i].raw.size() == 17);
  }
  CHECK(d.stats.bad_frames == 0);
  CHECK(d.stats.skipped_bytes == 0);
}

TEST_CASE("mt-continuous: without finish() the last frame waits for the byte after CR") {
  auto parser = make_parser("mt-continuous");
  std::vector<Reading> out;
  const auto frame = reference_vectors()[1].frame;
  parser->put(strip_checksum(frame), out);
  CHECK(out.empty());  // could still be followed by a checksum
  parser->put(strip_checksum(frame).substr(0, 1), out);
  REQUIRE(out.size() == 1);  // STX: no checksum on this line
  parser->finish(out);
  CHECK(out.size() == 1);
  CHECK(parser->stats().skipped_bytes == 1);  // the partial frame
}

TEST_CASE("mt-continuous: wrong checksum is refused and the next frame decodes") {
  const auto vectors = reference_vectors();
  std::string bad = vectors[1].frame;
  bad[17] = static_cast<char>(bad[17] ^ 0x01);
  const std::string stream = vectors[0].frame + bad + vectors[4].frame;
  const auto d = decode_every_split("mt-continuous", stream);
  REQUIRE(d.readings.size() == 2);
  check_vector(d.readings[0], vectors[0]);
  check_vector(d.readings[1], vectors[4]);
  CHECK(d.stats.bad_frames == 1);
  CHECK(d.stats.skipped_bytes == 18);
}

TEST_CASE("mt-continuous: checksum modes") {
  const auto vectors = reference_vectors();
  std::string with;
  std::string without;
  for (const auto& v : vectors) {
    with += v.frame;
    without += strip_checksum(v.frame);
  }
  SUBCASE("required refuses frames that carry none") {
    ParserOptions o;
    o.checksum = ChecksumMode::required;
    const auto d = decode_every_split("mt-continuous", without, o);
    CHECK(d.readings.empty());
    CHECK(d.stats.bad_frames == vectors.size() - 1);
    CHECK(d.stats.skipped_bytes == without.size());
  }
  SUBCASE("required accepts frames that carry a good one") {
    ParserOptions o;
    o.checksum = ChecksumMode::required;
    const auto d = decode_every_split("mt-continuous", with, o);
    CHECK(d.readings.size() == vectors.size());
    CHECK(d.stats.bad_frames == 0);
  }
  SUBCASE("absent skips checksum bytes as garbage and still decodes") {
    ParserOptions o;
    o.checksum = ChecksumMode::absent;
    const auto d = decode_every_split("mt-continuous", with, o);
    REQUIRE(d.readings.size() == vectors.size());
    CHECK(d.readings[0].raw.size() == 17);
    CHECK(d.stats.skipped_bytes == vectors.size());
  }
  SUBCASE("absent decodes a checksum-free stream without waiting") {
    ParserOptions o;
    o.checksum = ChecksumMode::absent;
    auto parser = make_parser("mt-continuous", o);
    std::vector<Reading> out;
    parser->put(strip_checksum(vectors[5].frame), out);
    CHECK(out.size() == 1);
  }
}

TEST_CASE("mt-continuous: parity-set bytes decode identically") {
  const auto vectors = reference_vectors();
  for (const auto& v : vectors) {
    INFO(v.name);
    for (const auto& noisy : {with_bit7(v.frame), with_even_parity(v.frame)}) {
      const auto d = decode_every_split("mt-continuous", noisy);
      REQUIRE(d.readings.size() == 1);
      check_vector(d.readings[0], v);
      CHECK(d.readings[0].raw == noisy);  // raw keeps the bytes as received
    }
  }
  // The start of the real capture, as read at 8N1 from a 7E1 line.
  CHECK(with_even_parity(vectors[0].frame).substr(0, 3) == hex("82 AC F0"));
}

TEST_CASE("mt-continuous: garbage between frames is skipped and counted") {
  const auto vectors = reference_vectors();
  const std::string garbage = std::string("\xff\x00hello\r\n", 9) + std::string("\x7f\x80", 2);
  const std::string stream =
      garbage + vectors[0].frame + garbage + vectors[1].frame + garbage + vectors[2].frame;
  const auto d = decode_every_split("mt-continuous", stream);
  REQUIRE(d.readings.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) check_vector(d.readings[i], vectors[i]);
  CHECK(d.stats.bad_frames == 0);
  CHECK(d.stats.skipped_bytes == 3 * garbage.size());
}

TEST_CASE("mt-continuous: a frame cut short by the next STX is a bad frame") {
  const auto vectors = reference_vectors();
  // The real capture has frames cut mid-way; here 10 bytes, then a whole frame.
  const std::string stream = vectors[1].frame.substr(0, 10) + vectors[4].frame + vectors[0].frame;
  const auto d = decode_every_split("mt-continuous", stream);
  REQUIRE(d.readings.size() == 2);
  check_vector(d.readings[0], vectors[4]);
  check_vector(d.readings[1], vectors[0]);
  CHECK(d.stats.bad_frames == 1);
  CHECK(d.stats.skipped_bytes == 10);
}

TEST_CASE("mt-continuous: a truncated frame ending in CR is refused") {
  // From the real capture: "... 30 30 30 30 30 8D 27" — the frame ends early.
  const auto vectors = reference_vectors();
  const std::string truncated = hex("02 2C 70 60 30 30 30 30 30 8D 27");
  const auto d = decode_every_split("mt-continuous", truncated + vectors[1].frame);
  REQUIRE(d.readings.size() == 1);
  check_vector(d.readings[0], vectors[1]);
  CHECK(d.stats.bad_frames == 1);
  CHECK(d.stats.skipped_bytes == truncated.size());
}

TEST_CASE("mt-continuous: non-digits in the weight or tare are a bad frame") {
  const auto vectors = reference_vectors();
  for (const std::size_t at : {4u, 9u, 10u, 15u}) {
    INFO("position " << at);
    std::string body = strip_checksum(vectors[1].frame);
    body[at] = 'A';
    const auto d = decode_every_split("mt-continuous", frame_of(body) + vectors[0].frame);
    REQUIRE(d.readings.size() == 1);
    check_vector(d.readings[0], vectors[0]);
    CHECK(d.stats.bad_frames == 1);
  }
}

TEST_CASE("mt-continuous: SWA decimal codes scale the six digits") {
  struct Case {
    char swa;
    const char* digits;
    const char* weight;
    int decimals;
  };
  for (const auto& c : {Case{0x28, "003254", "325400", 0}, Case{0x29, "003254", "32540", 0},
                        Case{0x2A, "032540", "32540", 0}, Case{0x2B, "003254", "325.4", 1},
                        Case{0x2C, "000567", "5.67", 2}, Case{0x2D, "000567", "0.567", 3},
                        Case{0x2E, "000567", "0.0567", 4}, Case{0x2F, "000567", "0.00567", 5}}) {
    INFO(c.weight);
    const std::string body = std::string("\x02") + c.swa + "\x30\x20" + c.digits + "000000\r";
    const auto d = decode("mt-continuous", frame_of(body));
    REQUIRE(d.readings.size() == 1);
    CHECK(d.readings[0].weight.to_string() == c.weight);
    CHECK(d.readings[0].weight.decimals == c.decimals);
  }
}

TEST_CASE("mt-continuous: units from SWB bit 4 and the SWC override") {
  struct Case {
    char swb;
    char swc;
    const char* unit;
  };
  for (const auto& c : {Case{0x30, 0x20, "kg"}, Case{0x20, 0x20, "lb"}, Case{0x30, 0x21, "g"},
                        Case{0x30, 0x22, "t"}, Case{0x20, 0x23, "oz"}, Case{0x30, 0x28, "kg"},
                        Case{0x70, 0x60, "kg"}}) {
    INFO(c.unit);
    const std::string body = std::string("\x02\x2A") + c.swb + c.swc + "001000000000\r";
    const auto d = decode("mt-continuous", frame_of(body));
    REQUIRE(d.readings.size() == 1);
    CHECK(d.readings[0].unit == c.unit);
  }
}

TEST_CASE("mt-continuous: out of range while negative is underload") {
  const std::string body = hex("02 2A 36 20") + "000050000000\r";
  const auto d = decode("mt-continuous", frame_of(body));
  REQUIRE(d.readings.size() == 1);
  CHECK(d.readings[0].underload);
  CHECK_FALSE(d.readings[0].overload);
  CHECK(d.readings[0].weight.to_string() == "-50");
}

TEST_CASE("mt-continuous: a locked-on checksum is learned again after repeated misses") {
  // A garbage byte that happens to verify must not condemn a checksum-free line forever.
  const auto vectors = reference_vectors();
  std::string stream = vectors[0].frame;  // locks "with checksum"
  for (int i = 0; i < 6; ++i) stream += strip_checksum(vectors[1].frame);
  const auto d = decode_every_split("mt-continuous", stream);
  CHECK(d.readings.size() >= 4);
  CHECK(d.readings.back().weight.to_string() == "5.67");
}

TEST_CASE("mt-continuous: a partial frame at the end counts as skipped bytes") {
  const auto vectors = reference_vectors();
  const auto d =
      decode_every_split("mt-continuous", vectors[0].frame + vectors[1].frame.substr(0, 9));
  CHECK(d.readings.size() == 1);
  CHECK(d.stats.skipped_bytes == 9);
  CHECK(d.stats.bad_frames == 0);
}
