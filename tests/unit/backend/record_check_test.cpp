#include "weighlink/service/record_check.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "weighlink/record/evidence.hpp"
#include "weighlink/record/exact_json.hpp"

using namespace weighlink;
using service::StoredRecord;

namespace {

const std::vector<unsigned char> kKey(32, 0x5a);
constexpr std::string_view kStation = "st-1";

// A record as replay stores it: hashed and signed over `text`, jsonb rendered as `jsonb`.
StoredRecord signed_record(const std::string& text, const std::string& jsonb) {
  StoredRecord r;
  r.seq = 1;
  r.idempotency_key = "cap-1";
  r.kind = "weighing.captured";
  r.created_at_ms = 1'700'000'000'123;
  r.payload_text = text;
  r.payload_jsonb = jsonb;
  r.prev_hash = std::string(record::kGenesisHash);
  r.record_hash = record::chain_hash(
      r.prev_hash,
      record::EvidenceFields{kStation, r.seq, r.idempotency_key, r.kind, r.created_at_ms, text});
  r.signature = record::sign_record(kKey, r.record_hash);
  r.verified_on_arrival = true;
  return r;
}

std::string codes(const boost::json::object& report) {
  std::string out;
  for (const auto& p : report.at("problems").as_array()) {
    out += std::string(p.at("code").as_string()) + ";";
  }
  return out;
}

bool same(std::string_view a, std::string_view b) {
  return service::same_json(record::parse_exact(a).value, record::parse_exact(b).value);
}

}  // namespace

TEST_CASE("records verify: JSON values compare exactly, numbers as written, members in any order") {
  CHECK(same(R"({"weight":"32540.10","n":1.50,"a":[1,2]})",
             R"({"a": [1, 2], "n": 1.50, "weight": "32540.10"})"));
  CHECK_FALSE(same(R"({"n":1.50})", R"({"n":1.5})"));  // another spelling, another value
  CHECK_FALSE(same(R"({"n":1})", R"({"n":"1"})"));
  CHECK_FALSE(same(R"({"a":[1,2]})", R"({"a":[2,1]})"));
  CHECK_FALSE(same(R"({"a":1})", R"({"a":1,"b":null})"));
  CHECK(same(R"({"t":"\u00e9"})", "{\"t\": \"\xC3\xA9\"}"));
  // PostgreSQL's numeric has no negative zero: jsonb shows -0.0 as 0.0.
  CHECK(same(R"({"z":-0.0,"i":-0})", R"({"i": 0, "z": 0.0})"));
  CHECK_FALSE(same(R"({"z":-0.1})", R"({"z":0.1})"));
}

TEST_CASE("records verify: the hash is recomputed from the exact text, the jsonb must agree") {
  const std::string text = R"({"weight":"6100","gross":32540.10,"scale":"main"})";
  const std::string jsonb = R"({"gross": 32540.10, "scale": "main", "weight": "6100"})";
  auto report = service::stored_record_check(signed_record(text, jsonb), kStation, kKey);
  CHECK(report.at("ok") == true);
  CHECK(report.at("hash_ok") == true);
  CHECK(report.at("chain_ok") == true);
  CHECK(codes(report).empty());

  SUBCASE("the jsonb payload edited") {
    auto r = signed_record(text, R"({"gross": 32540.10, "scale": "main", "weight": "9999"})");
    report = service::stored_record_check(r, kStation, kKey);
    CHECK(report.at("ok") == false);
    CHECK(report.at("hash_ok") == false);
    CHECK(report.at("signature_ok") == true);
    CHECK(codes(report) == "altered;");
  }
  SUBCASE("a number's spelling changed in the jsonb") {
    auto r = signed_record(text, R"({"gross": 32540.1, "scale": "main", "weight": "6100"})");
    CHECK(service::stored_record_check(r, kStation, kKey).at("hash_ok") == false);
  }
  SUBCASE("the exact text edited") {
    auto r = signed_record(text, jsonb);
    r.payload_text = R"({"weight":"6101","gross":32540.10,"scale":"main"})";
    report = service::stored_record_check(r, kStation, kKey);
    CHECK(report.at("hash_ok") == false);
    CHECK(codes(report) == "altered;");
  }
  SUBCASE("another column edited: the hash covers it") {
    auto r = signed_record(text, jsonb);
    r.created_at_ms += 1;
    CHECK(service::stored_record_check(r, kStation, kKey).at("hash_ok") == false);
  }
  SUBCASE("no exact text (a row from before schema 5): unknown, said why, not a failure") {
    auto r = signed_record(text, jsonb);
    r.payload_text.reset();
    report = service::stored_record_check(r, kStation, kKey);
    CHECK(report.at("ok") == true);
    CHECK(report.at("hash_ok").is_null());
    CHECK(report.at("hash_unknown_reason").as_string().find("schema") != boost::json::string::npos);
  }
}

TEST_CASE("records verify: a payload stored once (text, no jsonb) is checked by its hash alone") {
  const std::string text = R"({"weight":"32540.10","n":1})";
  auto r = signed_record(text, "");
  r.payload_jsonb.reset();
  auto report = service::stored_record_check(r, kStation, kKey);
  CHECK(report.at("hash_ok") == true);
  CHECK(codes(report).empty());
  // The text edited: the hash says so, with no jsonb to compare.
  r.payload_text = R"({"weight":"92540.10","n":1})";
  report = service::stored_record_check(r, kStation, kKey);
  CHECK(report.at("hash_ok") == false);
  CHECK(codes(report) == "altered;");
}
