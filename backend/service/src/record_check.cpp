#include "weighlink/service/record_check.hpp"

#include <boost/json.hpp>

#include "weighlink/record/evidence.hpp"
#include "weighlink/record/exact_json.hpp"

namespace weighlink::service {

namespace {

// -0 and -0.0 are 0 and 0.0 in PostgreSQL's numeric (jsonb drops the sign of a zero): the same
// number. Any other difference of spelling (1.50 vs 1.5) is a different value here.
std::string zero_unsigned(std::string text) {
  if (!text.empty() && text.front() == '-' && text.find_first_not_of("-0.") == std::string::npos) {
    text.erase(0, 1);
  }
  return text;
}

}  // namespace

bool same_json(const boost::json::value& a, const boost::json::value& b) {
  const auto a_number = record::number_text(a);
  const auto b_number = record::number_text(b);
  if (a_number || b_number) {
    return a_number && b_number && zero_unsigned(*a_number) == zero_unsigned(*b_number);
  }
  if (a.kind() != b.kind()) return false;
  if (const auto* array = a.if_array()) {
    const auto& other = b.get_array();
    if (array->size() != other.size()) return false;
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (!same_json((*array)[i], other[i])) return false;
    }
    return true;
  }
  if (const auto* object = a.if_object()) {
    const auto& other = b.get_object();
    if (object->size() != other.size()) return false;
    for (const auto& member : *object) {
      const auto* match = other.if_contains(member.key());
      if (!match || !same_json(member.value(), *match)) return false;
    }
    return true;
  }
  return a == b;  // strings, booleans, null
}

namespace {

// Whether record_hash is the hash of the stored content: true, false, or null with the reason it
// cannot be recomputed. Appends an "altered" problem when false.
boost::json::value recomputed_hash_check(const StoredRecord& r, std::string_view station_id,
                                         boost::json::array& problems, std::string& why_unknown) {
  if (!r.payload_text) {
    why_unknown =
        "the exact payload text is not stored (recorded before schema v5, withheld, or not "
        "JSON): the signature and chain link are checked, the hash cannot be recomputed";
    return nullptr;
  }
  if (r.record_hash.empty()) {
    why_unknown = "the record carries no record_hash (an unsigned agent)";
    return nullptr;
  }
  auto altered = [&](const std::string& message) {
    problems.push_back({{"code", record::to_string(record::EvidenceProblemCode::altered)},
                        {"seq", r.seq},
                        {"message", message}});
    return boost::json::value(false);
  };
  const auto recomputed = record::chain_hash(
      r.prev_hash, record::EvidenceFields{station_id, r.seq, r.idempotency_key, r.kind,
                                          r.created_at_ms, *r.payload_text});
  if (recomputed != r.record_hash) {
    return altered("the hash of the stored content (payload_text and the other columns) is " +
                   recomputed + ", not the stored record_hash");
  }
  if (!r.payload_jsonb) return true;  // stored once (schema v7): the text is all there is
  const auto text = record::parse_exact(*r.payload_text);
  const auto stored = record::parse_exact(*r.payload_jsonb);
  if (text.refusal || stored.refusal || !same_json(text.value, stored.value)) {
    return altered("payload (jsonb) does not say what payload_text, the signed text, says");
  }
  return true;
}

}  // namespace

boost::json::object stored_record_check(const StoredRecord& r, std::string_view station_id,
                                        std::span<const unsigned char> key) {
  boost::json::array problems;
  const bool signature_ok =
      !r.record_hash.empty() &&
      record::same_signature(record::sign_record(key, r.record_hash), r.signature);
  if (!signature_ok) {
    problems.push_back({{"code", "bad_signature"},
                        {"seq", r.seq},
                        {"message",
                         "the stored signature is not the station key's over the "
                         "stored record_hash"}});
  }
  std::optional<std::string> expected = r.previous_hash;
  if (r.seq == 1) expected = std::string(record::kGenesisHash);
  boost::json::value chain_ok = nullptr;  // unknown: seq - 1 is not stored
  if (expected) {
    chain_ok = *expected == r.prev_hash;
    if (*expected != r.prev_hash) {
      problems.push_back({{"code", "reordered"},
                          {"seq", r.seq},
                          {"message", "prev_hash is not the record_hash stored for seq " +
                                          std::to_string(r.seq - 1)}});
    }
  }
  std::string why_unknown;
  const auto hash_ok = recomputed_hash_check(r, station_id, problems, why_unknown);
  const bool ok = signature_ok && (!expected || *expected == r.prev_hash) && hash_ok != false;
  boost::json::object report{{"seq", r.seq},
                             {"ok", ok},
                             {"signature_ok", signature_ok},
                             {"chain_ok", chain_ok},
                             {"hash_ok", hash_ok},
                             {"hash_verified_on_arrival", r.verified_on_arrival},
                             {"prev_hash", r.prev_hash},
                             {"record_hash", r.record_hash},
                             {"problems", std::move(problems)}};
  if (hash_ok.is_null()) report["hash_unknown_reason"] = why_unknown;
  return report;
}

}  // namespace weighlink::service
