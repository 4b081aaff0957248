#include "weighlink/service/replay.hpp"

#include <boost/json.hpp>
#include <limits>
#include <map>
#include <set>

#include "weighlink/base/log_text.hpp"
#include "weighlink/record/evidence.hpp"
#include "weighlink/record/mutation_rules.hpp"
#include "weighlink/service/token.hpp"

namespace weighlink::service {

const char* to_string(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::applied:
      return "applied";
    case Outcome::duplicate:
      return "duplicate";
    case Outcome::rejected:
      return "rejected";
    case Outcome::unspecified:
      break;
  }
  return "unspecified";
}

std::string payload_sha256(std::string_view kind, std::string_view payload_json) {
  std::string material;
  material.reserve(kind.size() + 1 + payload_json.size());
  material.append(kind).append("\n").append(payload_json);
  return sha256_hex(material);
}

namespace {

constexpr std::size_t kMaxEvidenceLength = 128;  // hex SHA-256 / HMAC-SHA256 are 64
constexpr std::size_t kMaxWithheldReason = 200;
// What is kept of a payload that could not be stored as JSON (the agent keeps the whole of it).
constexpr std::size_t kMaxKeptInvalidPayload = std::size_t{64} * 1024;
// 9999-12-31T23:59:59.999Z: timestamptz holds it; created_at beyond would overflow the column.
constexpr std::int64_t kMaxCreatedAtMs = 253'402'300'799'999;
constexpr auto kMaxSeq = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
constexpr std::string_view kInvalidKeyPrefix = "invalid-key:";

using record::Refusal;

// Evidence ends up in text columns and is compared as text: visible ASCII only, bounded.
bool visible_ascii(std::string_view text, std::size_t max_length) {
  if (text.empty() || text.size() > max_length) return false;
  for (char c : text) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

bool lower_hex(std::string_view text, std::size_t length) {
  if (text.size() != length) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::optional<Refusal> evidence_refusal(const Mutation& m) {
  for (const std::string* field : {&m.prev_hash, &m.record_hash, &m.signature}) {
    if (!field->empty() && !visible_ascii(*field, kMaxEvidenceLength)) {
      return Refusal{"invalid_evidence",
                     "prev_hash, record_hash and signature must be empty or 1 to 128 visible "
                     "ASCII characters"};
    }
  }
  return std::nullopt;
}

std::optional<Refusal> created_at_refusal(const Mutation& m) {
  if (m.created_at_unix_ms >= 0 && m.created_at_unix_ms <= kMaxCreatedAtMs) return std::nullopt;
  return Refusal{"invalid_created_at",
                 "created_at_unix_ms must be 0 (unknown) or milliseconds since 1970 up to the "
                 "year 9999"};
}

// The first 16 hex digits of a hash, for reasons and logs.
std::string short_hash(std::string_view hash) {
  return hash.empty() ? std::string("(none)") : reason_text(hash.substr(0, 16), 16);
}

// `text` cut to at most `max` bytes without splitting a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

// A payload that is not storable JSON, as a JSON object the jsonb column can hold: its text (at
// most kMaxKeptInvalidPayload bytes, NUL characters as '?') and its size.
std::string wrapped_payload(std::string_view payload_json) {
  std::string text(utf8_prefix(payload_json, kMaxKeptInvalidPayload));
  for (auto& c : text) {
    if (c == '\0') c = '?';
  }
  boost::json::object wrapper;
  wrapper["invalid_payload"] = text;
  if (text.size() != payload_json.size()) {
    wrapper["payload_bytes"] = static_cast<std::uint64_t>(payload_json.size());
  }
  return boost::json::serialize(wrapper);
}

std::optional<std::string> as_reason(const std::optional<Refusal>& refusal) {
  if (!refusal) return std::nullopt;
  return refusal->reason();
}

// The form checks every recorded mutation passes through first: key, kind, evidence, created_at.
std::optional<Refusal> form_refusal(const Mutation& m) {
  if (auto r = record::check_key(m.idempotency_key)) return r;
  if (auto r = record::check_kind(m.kind)) return r;
  if (auto r = evidence_refusal(m)) return r;
  return created_at_refusal(m);
}

// rejection_reason, with check_payload_json's verdict already known.
std::optional<Refusal> content_refusal(const Mutation& mutation,
                                       const std::optional<Refusal>& payload) {
  if (auto r = form_refusal(mutation)) return r;
  if (payload) return payload;
  if (mutation.kind == kWeighingCapturedKind) {
    if (!mutation.weighing) {
      return Refusal{"invalid_payload", "a weighing.captured payload must be a JSON object"};
    }
    if (mutation.weighing_problem) return mutation.weighing_problem;
    WeighingCaptured numbered = *mutation.weighing;
    number_by_position(numbered);
    return weighing_refusal(numbered);
  }
  return std::nullopt;
}

}  // namespace

std::string reason_text(std::string_view text, std::size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string safe = base::log_safe(text, max);
  std::string out;
  out.reserve(safe.size());
  for (unsigned char c : safe) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string storable_key(std::string_view key) {
  if (!record::check_key(key)) return std::string(key);
  return std::string(kInvalidKeyPrefix) + sha256_hex(key);
}

std::optional<Refusal> weighing_refusal(const WeighingCaptured& w) {
  if (w.scale.empty()) return Refusal{"invalid_payload", "a weighing needs its scale"};
  if (w.unit.empty()) return Refusal{"invalid_payload", "a weighing needs its unit"};
  const std::pair<const char*, const std::string*> texts[] = {{"scale", &w.scale},
                                                              {"unit", &w.unit},
                                                              {"mode", &w.mode},
                                                              {"type", &w.type},
                                                              {"operator", &w.operator_id},
                                                              {"agent_version", &w.agent_version},
                                                              {"reading_ts", &w.reading_ts}};
  for (const auto& [what, text] : texts) {
    if (auto r = record::check_short_text(what, *text)) return r;
  }
  if (auto r = record::check_weight("weight", w.weight)) return r;
  if (!w.tare.empty()) {
    if (auto r = record::check_weight("tare", w.tare)) return r;
  }
  if (!w.gvw.empty()) {
    if (auto r = record::check_weight("gvw", w.gvw)) return r;
  }
  if (w.decks.size() > record::kMaxWeighingParts || w.axles.size() > record::kMaxWeighingParts) {
    return Refusal{"too_many_parts", "a weighing has at most " +
                                         std::to_string(record::kMaxWeighingParts) +
                                         " decks and at most as many axles"};
  }
  auto part_number = [](const char* what, std::uint32_t index) -> std::optional<Refusal> {
    if (index <= record::kMaxPartNumber) return std::nullopt;
    return Refusal{"part_out_of_range", std::string(what) + " number " + std::to_string(index) +
                                            " is above " + std::to_string(record::kMaxPartNumber)};
  };
  auto frame = [](const std::string& what, const std::string& raw) -> std::optional<Refusal> {
    if (raw.size() <= record::kMaxRawFrame) return std::nullopt;
    return Refusal{"frame_too_large", what + " is " + std::to_string(raw.size()) +
                                          " bytes; at most " +
                                          std::to_string(record::kMaxRawFrame) + " are kept"};
  };
  if (w.reading_seq > kMaxSeq) {
    return Refusal{"value_out_of_range", "reading_seq is above 2^63 - 1"};
  }
  if (auto r = frame("the raw frame", w.raw)) return r;
  std::set<std::uint32_t> numbers;
  for (const auto& deck : w.decks) {
    if (auto r = part_number("deck", deck.index)) return r;
    const std::string which = "deck " + std::to_string(deck.index);
    if (auto r = record::check_weight(which + " weight", deck.weight)) return r;
    if (!numbers.insert(deck.index).second) {
      return Refusal{"duplicate_part", which + " appears twice"};
    }
  }
  numbers.clear();
  for (const auto& axle : w.axles) {
    if (auto r = part_number("axle", axle.index)) return r;
    const std::string which = "axle " + std::to_string(axle.index);
    if (auto r = record::check_weight(which + " weight", axle.weight)) return r;
    if (!numbers.insert(axle.index).second) {
      return Refusal{"duplicate_part", which + " appears twice"};
    }
    if (!axle.reading.empty()) {
      if (auto r = record::check_weight(which + " reading", axle.reading)) return r;
    }
    if (axle.reading_seq > kMaxSeq) {
      return Refusal{"value_out_of_range", which + " reading_seq is above 2^63 - 1"};
    }
    if (auto r = frame(which + " raw frame", axle.raw)) return r;
    if (auto r = record::check_short_text(which + " captured_at", axle.captured_at)) return r;
  }
  // A weighing comes from the capture path: the reading it was taken from (its seq and raw
  // frame), or for an axle weighing each axle's.
  if (!w.axles.empty()) {
    for (const auto& axle : w.axles) {
      if (axle.reading_seq == 0 || axle.raw.empty()) {
        return Refusal{"missing_evidence",
                       "axle " + std::to_string(axle.index) +
                           " has no reading_seq and raw frame: weighings are recorded only from "
                           "the agent's capture path, with the reading behind each axle"};
      }
    }
  } else if (w.reading_seq == 0 || w.raw.empty()) {
    return Refusal{"missing_evidence",
                   "the weighing has no reading_seq and raw frame: weighings are recorded only "
                   "from the agent's capture path, with the reading behind them"};
  }
  return std::nullopt;
}

std::optional<std::string> rejection_reason(const Mutation& mutation) {
  auto reason =
      as_reason(content_refusal(mutation, record::check_payload_json(mutation.payload_json)));
  if (!reason) return std::nullopt;
  return reason_text(*reason);
}

void number_by_position(WeighingCaptured& weighing) {
  for (std::size_t i = 0; i < weighing.decks.size(); ++i) {
    if (weighing.decks[i].index == 0) weighing.decks[i].index = static_cast<std::uint32_t>(i + 1);
  }
  for (std::size_t i = 0; i < weighing.axles.size(); ++i) {
    if (weighing.axles[i].index == 0) weighing.axles[i].index = static_cast<std::uint32_t>(i + 1);
  }
}

std::optional<std::string> signature_problem(const Mutation& m,
                                             std::span<const unsigned char> key) {
  if (m.record_hash.empty() || m.signature.empty()) {
    return "bad_signature: the mutation carries no record_hash and signature, but the station "
           "has a signing key (an agent that predates them, or the evidence was stripped)";
  }
  const auto recomputed = record::chain_hash(
      m.prev_hash, record::EvidenceFields{m.station_id, m.seq, m.idempotency_key, m.kind,
                                          m.created_at_unix_ms, m.payload_json});
  if (!record::same_signature(recomputed, m.record_hash)) {
    return "bad_signature: record_hash " + short_hash(m.record_hash) +
           " does not match the mutation's content (altered after it was recorded or in "
           "transit)";
  }
  if (!record::same_signature(record::sign_record(key, m.record_hash), m.signature)) {
    return std::string(
        "bad_signature: the signature is not made with the station's key (another key signed "
        "it, or it was recomputed without the key); if the agent's station key was replaced, "
        "register the new one with `weighlink-backend station set-key`");
  }
  return std::nullopt;
}

std::optional<std::string> chain_problem(const Mutation& m,
                                         const std::optional<std::string>& previous_hash) {
  if (!previous_hash || previous_hash->empty()) return std::nullopt;
  if (m.prev_hash == *previous_hash || m.prev_hash == record::kGenesisHash) return std::nullopt;
  return "chain_broken: prev_hash " + short_hash(m.prev_hash) + " does not continue seq " +
         std::to_string(m.seq - 1) + " (record_hash " + short_hash(*previous_hash) + ")";
}

std::optional<std::string> malformed_batch_reason(const std::vector<Mutation>& mutations) {
  for (std::size_t i = 0; i < mutations.size(); ++i) {
    const auto& m = mutations[i];
    const std::string where = "mutation " + std::to_string(i);
    if (m.seq == 0) return where + ": seq must be at least 1";
    if (m.seq > kMaxSeq) return where + ": seq is out of range (above 2^63 - 1)";
  }
  return std::nullopt;
}

namespace {

// The payload hash a mutation is identified by: of its kind and payload, or for a withheld
// mutation the one its agent computed of the payload it holds back.
std::string identifying_sha256(const Mutation& m) {
  if (!m.withheld_reason.empty() && lower_hex(m.withheld_payload_sha256, 64)) {
    return m.withheld_payload_sha256;
  }
  return payload_sha256(m.kind, m.payload_json);
}

// A withheld mutation's record: no payload, no checks but the marker's own form, no effect.
void plan_withheld(const Mutation& mutation, NewRecord& record) {
  record.stored_payload_json = R"({"withheld_by_agent":true})";
  if (!lower_hex(mutation.withheld_payload_sha256, 64)) {
    record.reason =
        "invalid_withheld: withheld_payload_sha256 must be 64 lower-case hex digits (the SHA-256 "
        "of kind, a newline and payload_json)";
  } else {
    record.reason =
        "withheld_by_agent: " + reason_text(mutation.withheld_reason, kMaxWithheldReason);
  }
  record.outcome = Outcome::rejected;
}

}  // namespace

ReplayPlan plan_batch(const StationState& station, const std::vector<StoredMutation>& existing,
                      const std::vector<Mutation>& mutations, std::int64_t now_unix_ms) {
  ReplayPlan plan;
  plan.high_water_seq = station.high_water_seq;
  const bool keyed = !station.signing_key.empty();
  // The record_hash the next new mutation's prev_hash must continue, when known.
  std::optional<std::string> chain_tip = station.last_record_hash;

  // Stored records plus those recorded earlier in this batch, by the key they are stored under.
  std::map<std::string, StoredMutation, std::less<>> known;
  for (const auto& stored : existing) known.emplace(stored.idempotency_key, stored);

  for (const auto& mutation : mutations) {
    MutationResult result;
    result.idempotency_key = mutation.idempotency_key;  // the original, even when substituted
    result.seq = mutation.seq;
    const std::string sha = identifying_sha256(mutation);
    const std::string key = storable_key(mutation.idempotency_key);

    // A marker's record is a placeholder: the mutation it stood for, sent later with the payload
    // the marker named (a dead letter retried on the agent once the backend is fixed), is
    // processed now in its place, at its seq.
    bool fills = false;
    if (auto it = known.find(key); it != known.end()) {
      fills = it->second.payload_sha256 == sha && it->second.seq == mutation.seq &&
              it->second.outcome == Outcome::rejected &&
              it->second.reason.starts_with("withheld_by_agent") &&
              mutation.withheld_reason.empty();
    }
    if (auto it = known.find(key); !fills && it != known.end()) {
      if (it->second.payload_sha256 == sha) {
        result.outcome = Outcome::duplicate;
        result.original_outcome = it->second.outcome;
        result.applied_at_unix_ms = it->second.applied_at_unix_ms;
        result.reason = it->second.reason;
      } else {
        // Never overwritten; nothing recorded, the high water does not move.
        result.outcome = Outcome::rejected;
        result.reason = "idempotency_key_reused";
      }
      plan.results.push_back(std::move(result));
      continue;
    }
    if (!fills && mutation.seq <= plan.high_water_seq) {
      result.outcome = Outcome::rejected;
      result.reason = "seq_already_used";
      plan.results.push_back(std::move(result));
      continue;
    }
    if (!fills && mutation.seq != plan.high_water_seq + 1) {
      plan.expected_seq = plan.high_water_seq + 1;
      break;
    }

    NewRecord record;
    record.fills_withheld = fills;
    record.payload_sha256 = sha;
    record.applied_at_unix_ms = now_unix_ms;
    record.mutation = mutation;
    // What the columns get: values no column could hold are replaced (the answer keeps them).
    Mutation& stored = record.mutation;
    stored.idempotency_key = key;
    if (record::check_kind(mutation.kind)) stored.kind = reason_text(mutation.kind, 100);
    if (evidence_refusal(mutation)) {
      stored.prev_hash.clear();
      stored.record_hash.clear();
      stored.signature.clear();
    }
    if (created_at_refusal(mutation)) stored.created_at_unix_ms = 0;
    // The typed weighing came with the copy above: kept (numbered) only for an applied weighing.
    if (mutation.kind != kWeighingCapturedKind || !mutation.withheld_reason.empty()) {
      stored.weighing.reset();
    }

    if (!mutation.withheld_reason.empty()) {
      plan_withheld(mutation, record);
    } else {
      std::optional<std::string> reason = as_reason(form_refusal(mutation));
      if (!reason && keyed) {
        // Authenticity first: a forged or altered mutation is refused whatever its content.
        reason = signature_problem(mutation, station.signing_key);
        if (!reason) {
          record.signature_verified = true;
          // A late fill's place in the chain was checked when its marker came, with the same
          // record_hash; the chain has moved on since.
          if (!fills) reason = chain_problem(mutation, chain_tip);
        }
      }
      // Parsed once: it decides both the rejection and how the jsonb column holds the payload.
      const auto payload = record::check_payload_json(mutation.payload_json);
      const bool weighing = mutation.kind == kWeighingCapturedKind;
      if (!reason && weighing && !keyed && !station.accept_unsigned_weighings) {
        reason =
            "unsigned_weighing: this station has no signing key and does not accept unsigned "
            "weighings; register the agent's key (`weighlink-backend station set-key`) or allow "
            "them (`weighlink-backend station set-unsigned-weighings --id ID allow`)";
      }
      if (!reason) reason = as_reason(content_refusal(mutation, payload));
      // What is stored is what the payload says (and the station signed), never a typed copy.
      if (!reason && weighing) number_by_position(*stored.weighing);
      record.outcome = reason ? Outcome::rejected : Outcome::applied;
      if (reason) record.reason = reason_text(*reason);
      record.stored_payload_json =
          payload ? wrapped_payload(mutation.payload_json) : mutation.payload_json;
    }
    if (record.outcome == Outcome::rejected) stored.weighing.reset();
    if (!fills) {
      chain_tip = stored.record_hash.empty() ? std::nullopt
                                             : std::optional<std::string>(stored.record_hash);
      plan.high_water_seq = mutation.seq;
    }

    result.outcome = record.outcome;
    result.reason = record.reason;
    result.applied_at_unix_ms = now_unix_ms;
    known.insert_or_assign(
        key, StoredMutation{key, mutation.seq, sha, record.outcome, record.reason, now_unix_ms});
    plan.record_results.push_back(plan.results.size());
    plan.records.push_back(std::move(record));
    plan.results.push_back(std::move(result));
  }
  return plan;
}

void refuse_record(ReplayPlan& plan, std::size_t index, const StorageRefusal& refusal) {
  NewRecord& record = plan.records.at(index);
  record.outcome = Outcome::rejected;
  record.reason = "storage_refused: " + reason_text(refusal.sqlstate, 5) + " " +
                  reason_text(refusal.message, 200) +
                  " (the database refused this mutation's values; recorded without its effect)";
  record.mutation.weighing.reset();
  boost::json::object minimal;
  minimal["storage_refused"] = reason_text(refusal.sqlstate, 5);
  record.stored_payload_json = boost::json::serialize(minimal);
  const std::size_t at = plan.record_results.at(index);
  MutationResult& answer = plan.results.at(at);
  answer.outcome = Outcome::rejected;
  answer.reason = record.reason;
  // The same key again later in the batch was answered as a duplicate of what is now a
  // rejection.
  for (std::size_t i = at + 1; i < plan.results.size(); ++i) {
    MutationResult& later = plan.results[i];
    if (later.outcome == Outcome::duplicate && later.idempotency_key == answer.idempotency_key) {
      later.original_outcome = Outcome::rejected;
      later.reason = record.reason;
    }
  }
}

pg::Result<ReplayOutcome> apply_batch(ReplayStore& store, std::string_view station_id,
                                      const std::vector<Mutation>& mutations,
                                      std::int64_t now_unix_ms, InsertMode mode) {
  auto station = store.lock_station(station_id);
  if (!station) return station.error();

  std::vector<std::string> keys;
  keys.reserve(mutations.size());
  for (const auto& mutation : mutations) keys.push_back(storable_key(mutation.idempotency_key));
  std::vector<StoredMutation> existing;
  if (!keys.empty()) {
    auto found = store.find_existing(station_id, keys);
    if (!found) return found.error();
    existing = std::move(*found);
  }

  ReplayPlan plan = plan_batch(*station, existing, mutations, now_unix_ms);
  if (!plan.records.empty() && mode == InsertMode::batch) {
    if (auto inserted = store.insert(station_id, plan.records); !inserted) {
      return inserted.error();
    }
  } else if (!plan.records.empty()) {
    for (std::size_t i = 0; i < plan.records.size(); ++i) {
      auto guarded = store.insert_guarded(station_id, plan.records[i]);
      if (!guarded) return guarded.error();
      if (!*guarded) continue;
      // Refused: the row goes in as a rejection without its effect, so its seq still counts.
      refuse_record(plan, i, **guarded);
      if (auto inserted = store.insert(station_id, {plan.records[i]}); !inserted) {
        return inserted.error();
      }
    }
  }
  if (plan.high_water_seq != station->high_water_seq) {
    if (auto updated = store.set_high_water(station_id, plan.high_water_seq); !updated) {
      return updated.error();
    }
  }

  ReplayOutcome outcome;
  outcome.results = std::move(plan.results);
  outcome.expected_seq = plan.expected_seq;
  // Without a key nothing was checked: every new record counts as unsigned.
  outcome.unsigned_recorded = station->signing_key.empty() ? plan.records.size() : 0;
  outcome.watermark = {plan.high_water_seq, station->durable_seq, station->generation};
  return outcome;
}

bool should_retry(const boost::system::error_code& error, int attempt) noexcept {
  if (error == pg::Errc::unique_violation) return attempt < 2;
  if (error == pg::Errc::serialization_failure) return attempt < 4;
  if (error == pg::Errc::connection_lost) return attempt < 2;
  return false;
}

}  // namespace weighlink::service
