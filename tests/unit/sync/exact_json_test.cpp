// Client JSON read without binary floating point: numbers kept as written, or refused.
#include "weighlink/record/exact_json.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "weighlink/record/mutation_rules.hpp"

namespace json = boost::json;
using weighlink::record::canonical_exact;
using weighlink::record::check_payload_json;
using weighlink::record::check_weight;
using weighlink::record::exact_int64;
using weighlink::record::parse_exact;
using weighlink::record::serialize_exact;

namespace {
std::string round_trip(const std::string& text) {
  auto parsed = parse_exact(text);
  REQUIRE_MESSAGE(!parsed.refusal, text);
  return serialize_exact(parsed.value);
}
std::string refusal_code(const std::string& text) {
  auto parsed = parse_exact(text);
  return parsed.refusal ? parsed.refusal->code : std::string("accepted");
}
}  // namespace

TEST_CASE("exact json: numbers come back byte for byte, never through a double") {
  CHECK(round_trip(R"({"n":12345678901234567890123})") == R"({"n":12345678901234567890123})");
  CHECK(round_trip(R"({"w":32540.10})") == R"({"w":32540.10})");
  CHECK(round_trip(R"({"w":-0.005,"z":-0,"i":-9223372036854775808,"u":18446744073709551615})") ==
        R"({"w":-0.005,"z":-0,"i":-9223372036854775808,"u":18446744073709551615})");
  CHECK(round_trip(R"([0.1,0.2,0.30000000000000004,1.0,100])") ==
        "[0.1,0.2,0.30000000000000004,1.0,100]");
  CHECK(round_trip(R"( { "b" : [ true , null , "x\n\"y" ] , "a" : {} } )") ==
        R"({"b":[true,null,"x\n\"y"],"a":{}})");
}

TEST_CASE("exact json: two bodies that differ in one digit never have the same canonical text") {
  const auto a = parse_exact(R"({"n":12345678901234567890123})");
  const auto b = parse_exact(R"({"n":12345678901234567890124})");
  CHECK(canonical_exact(a.value) != canonical_exact(b.value));
  // As doubles both would be 1.2345678901234568E22.
  CHECK(json::serialize(json::parse(R"({"n":12345678901234567890123})")) ==
        json::serialize(json::parse(R"({"n":12345678901234567890124})")));
  // Member order and whitespace do not matter; trailing zeros do (32540.10 is not 32540.1).
  CHECK(canonical_exact(parse_exact(R"({"b":1,"a":{"d":2.50,"c":[1]}})").value) ==
        canonical_exact(parse_exact(R"({ "a":{"c":[1],"d":2.50}, "b":1 })").value));
  CHECK(canonical_exact(parse_exact(R"({"w":32540.10})").value) !=
        canonical_exact(parse_exact(R"({"w":32540.1})").value));
}

TEST_CASE("exact json: what cannot be kept exactly is refused with a code that says why") {
  CHECK(refusal_code(R"({"n":1e400})") == "inexact_number");
  CHECK(refusal_code(R"({"n":1.5E3})") == "inexact_number");
  CHECK(refusal_code(R"({"n":-2e-5})") == "inexact_number");
  CHECK(refusal_code("{\"n\":" + std::string(41, '7') + "}") == "number_too_long");
  CHECK(refusal_code("{\"n\":" + std::string(40, '7') + "}") == "accepted");
  CHECK(refusal_code("{\"n\":0." + std::string(40, '1') + "}") == "number_too_long");
  CHECK(refusal_code(R"({"s":"a\u0000b"})") == "nul_character");
  CHECK(refusal_code(R"({"a\u0000":1})") == "nul_character");
  CHECK(refusal_code(R"({"a":1,"a":2})") == "duplicate_member");
  CHECK(refusal_code(std::string(33, '[') + std::string(33, ']')) == "too_deep");
  CHECK(refusal_code(std::string(32, '[') + std::string(32, ']')) == "accepted");
  CHECK(refusal_code("{\"a\":1") == "invalid_json");
  CHECK(refusal_code("{} {}") == "invalid_json");
  CHECK(refusal_code("") == "invalid_json");
  CHECK(refusal_code("NaN") == "invalid_json");
  CHECK(refusal_code("Infinity") == "invalid_json");
}

TEST_CASE("exact json: the check-only mode agrees with the full parse") {
  const std::vector<std::string> texts = {R"({"w":32540.10})",
                                          R"({"n":1e400})",
                                          R"({"a":1,"a":2})",
                                          R"({"s":"a\u0000"})",
                                          "[1,2]",
                                          "{} x",
                                          "",
                                          R"({"a":{"b":1,"b":2}})",
                                          R"([{"a":1},{"a":1}])",
                                          "{" +
                                              [] {
                                                std::string members;
                                                for (int i = 0; i < 40; ++i)
                                                  members += "\"k" + std::to_string(i) + "\":1,";
                                                return members;
                                              }() +
                                              "\"k7\":2}",
                                          std::string(33, '[') + std::string(33, ']')};
  for (const auto& text : texts) {
    CAPTURE(text);
    const auto full = parse_exact(text);
    bool object = false;
    const auto checked = weighlink::record::check_exact(text, {}, &object);
    REQUIRE(checked.has_value() == full.refusal.has_value());
    if (checked) {
      CHECK(checked->code == full.refusal->code);
    } else {
      CHECK(object == full.value.is_object());
    }
  }
}

TEST_CASE("exact json: a client cannot forge an exact-number node") {
  // The node's member name holds a NUL character, which parse_exact refuses in any member name.
  CHECK(refusal_code("{\"\\u0000decimal\":\"1e400\"}") == "nul_character");
}

TEST_CASE("exact json: whole numbers read as int64 however they are written") {
  CHECK(exact_int64(parse_exact("3").value) == 3);
  CHECK(exact_int64(parse_exact("3.000").value) == 3);
  CHECK(exact_int64(parse_exact("-12").value) == -12);
  CHECK_FALSE(exact_int64(parse_exact("3.5").value));
  CHECK_FALSE(exact_int64(parse_exact("9223372036854775808").value));
  CHECK_FALSE(exact_int64(parse_exact("\"3\"").value));
}

TEST_CASE("mutation rules: payloads, weights and their codes") {
  CHECK_FALSE(check_payload_json(R"({"w":32540.10})"));
  CHECK(check_payload_json("[1]")->code == "invalid_payload");
  CHECK(check_payload_json(R"({"w":1e400})")->code == "inexact_number");
  CHECK(check_payload_json(std::string(weighlink::record::kMaxPayloadBytes + 1, ' '))->code ==
        "payload_too_large");
  CHECK_FALSE(check_weight("weight", "32540"));
  CHECK_FALSE(check_weight("weight", "-12.500"));
  CHECK_FALSE(check_weight("weight", "999999999999.999999"));
  CHECK(check_weight("weight", std::string(200'000, '9'))->code == "weight_out_of_range");
  CHECK(check_weight("weight", "1.1234567")->code == "weight_out_of_range");
  CHECK(check_weight("weight", "1e5")->code == "invalid_weight");
  CHECK(check_weight("weight", "")->code == "invalid_weight");
  CHECK(check_weight("weight", "12.")->code == "invalid_weight");
  CHECK(weighlink::record::check_key("truconnect:TX-1:capture:gross weight")->code ==
        "invalid_key");
  CHECK(weighlink::record::check_key(std::string(256, 'k'))->code == "invalid_key");
  CHECK_FALSE(weighlink::record::check_key(std::string(255, 'k')));
  CHECK(weighlink::record::is_reserved_kind("weighing.captured"));
  CHECK(weighlink::record::is_reserved_kind("weighlink.withheld"));
  CHECK_FALSE(weighlink::record::is_reserved_kind("transaction.created"));
  CHECK(weighlink::record::check_short_text("operator", "op\nFAKE LOG LINE")->code ==
        "control_character");
}

#include "weighlink/base/log_text.hpp"

TEST_CASE("log text: client text cannot start a forged log line") {
  using weighlink::base::log_safe;
  CHECK(log_safe("wb-07\n[info] backup verified") == "wb-07\\n[info] backup verified");
  CHECK(log_safe("a\r\tb\\c\x01\x7f") == "a\\r\\tb\\\\c\\x01\\x7f");
  CHECK(log_safe("plate KCA 123Z") == "plate KCA 123Z");
  CHECK(log_safe(std::string(300, 'x')).size() == 259);
  CHECK(log_safe("ÄÖ") == "ÄÖ");  // UTF-8 is kept
}

TEST_CASE("exact json: a number kept exactly is not an object, whatever its representation") {
  using weighlink::record::is_json_object;
  using weighlink::record::parse_exact;
  for (const char* text : {"1.5", "-0", "-0.0", "12345678901234567890123", "0"}) {
    INFO(text);
    const auto parsed = parse_exact(text);
    REQUIRE_FALSE(parsed.refusal);
    CHECK_FALSE(is_json_object(parsed.value));
  }
  CHECK(is_json_object(parse_exact(R"({"w":1.5})").value));
  CHECK(is_json_object(parse_exact("{}").value));
  CHECK_FALSE(is_json_object(parse_exact("[]").value));
  // An object that merely looks like the tag is a real object the client sent.
  CHECK(is_json_object(parse_exact(R"({"decimal":"1.5"})").value));
}
