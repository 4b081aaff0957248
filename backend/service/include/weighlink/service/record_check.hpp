#pragma once
// `records verify`'s judgement of one stored record from its columns: the signature, the chain
// link and the record hash recomputed from the exact payload text. Pure functions, thread-safe.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace weighlink::service {

// The columns of one stored record (mutation_log joined to its station and seq - 1).
struct StoredRecord {
  std::uint64_t seq = 0;
  std::string idempotency_key;
  std::string kind;
  std::int64_t created_at_ms = 0;           // 0: none stored (the hash then covers 0 too)
  std::optional<std::string> payload_text;  // the exact bytes received; NULL before schema v5
  // payload::text, PostgreSQL's rendering; NULL from schema v7 on when payload_text holds the
  // payload alone (stored once: nothing to compare it with).
  std::optional<std::string> payload_jsonb;
  std::string prev_hash;
  std::string record_hash;
  std::string signature;
  bool verified_on_arrival = false;
  std::optional<std::string> previous_hash;  // record_hash of seq - 1, when stored
};

// The same JSON value, numbers compared as their text (never as binary doubles; -0 is 0 as in
// PostgreSQL's numeric), members in any order. Values from record::parse_exact.
[[nodiscard]] bool same_json(const boost::json::value& a, const boost::json::value& b);

// The report of one stored record: seq, ok, signature_ok, chain_ok (null: seq - 1 not stored),
// hash_ok (null with hash_unknown_reason: no payload_text or no record_hash),
// hash_verified_on_arrival, prev_hash, record_hash, problems (bad_signature, reordered, altered).
[[nodiscard]] boost::json::object stored_record_check(const StoredRecord& r,
                                                      std::string_view station_id,
                                                      std::span<const unsigned char> key);

}  // namespace weighlink::service
