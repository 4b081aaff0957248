#include "weighlink/backend/replay.hpp"

#include <boost/json.hpp>
#include <limits>
#include <map>
#include <set>

#include "weighlink/backend/token.hpp"
#include "weighlink/sync/evidence.hpp"

namespace weighlink::backend {

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

bool is_exact_decimal(std::string_view text) noexcept {
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) text.remove_prefix(1);
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  auto all_digits = [](std::string_view part) {
    for (char c : part) {
      if (c < '0' || c > '9') return false;
    }
    return true;
  };
  if (whole.empty() || !all_digits(whole)) return false;
  if (dot != std::string_view::npos && (fraction.empty() || !all_digits(fraction))) return false;
  return true;
}

namespace {

constexpr std::size_t kMaxKeyLength = 255;
constexpr std::size_t kMaxKindLength = 100;
constexpr std::size_t kMaxEvidenceLength = 128;  // hex SHA-256 / HMAC-SHA256 are 64

// Keys and kinds end up in text columns and log lines: visible ASCII only, bounded.
bool visible_ascii(std::string_view text, std::size_t max_length) {
  if (text.empty() || text.size() > max_length) return false;
  for (char c : text) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

// PostgreSQL text and jsonb cannot hold NUL characters.
bool has_nul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

std::optional<std::string> weighing_problem(const WeighingCaptured& w) {
  if (w.scale.empty()) return "scale is empty";
  if (!is_exact_decimal(w.weight)) return "weight \"" + w.weight + "\" is not an exact decimal";
  if (w.unit.empty()) return "unit is empty";
  if (!w.tare.empty() && !is_exact_decimal(w.tare)) {
    return "tare \"" + w.tare + "\" is not an exact decimal";
  }
  for (const auto& deck : w.decks) {
    if (!is_exact_decimal(deck.weight)) {
      return "deck " + std::to_string(deck.index) + " weight \"" + deck.weight +
             "\" is not an exact decimal";
    }
  }
  for (const auto& axle : w.axles) {
    if (!is_exact_decimal(axle.weight)) {
      return "axle " + std::to_string(axle.index) + " weight \"" + axle.weight +
             "\" is not an exact decimal";
    }
  }
  if (!w.gvw.empty() && !is_exact_decimal(w.gvw)) {
    return "gvw \"" + w.gvw + "\" is not an exact decimal";
  }
  constexpr auto kMaxSeq = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (w.reading_seq > kMaxSeq) return "reading_seq is out of range";
  std::set<std::uint32_t> numbers;
  for (const auto& deck : w.decks) {
    if (!numbers.insert(deck.index).second) {
      return "deck " + std::to_string(deck.index) + " appears twice";
    }
  }
  numbers.clear();
  for (const auto& axle : w.axles) {
    const std::string which = "axle " + std::to_string(axle.index);
    if (!numbers.insert(axle.index).second) return which + " appears twice";
    if (!axle.reading.empty() && !is_exact_decimal(axle.reading)) {
      return which + " reading \"" + axle.reading + "\" is not an exact decimal";
    }
    if (axle.reading_seq > kMaxSeq) return which + " reading_seq is out of range";
    if (has_nul(axle.captured_at)) return "a text field contains a NUL character";
  }
  for (const std::string* field : {&w.scale, &w.unit, &w.mode, &w.reading_ts, &w.operator_id,
                                   &w.agent_version, &w.signature, &w.type}) {
    if (has_nul(*field)) return "a text field contains a NUL character";
  }
  return std::nullopt;
}

// The first 16 hex digits of a hash, for reasons and logs.
std::string short_hash(std::string_view hash) {
  return hash.empty() ? std::string("(none)") : std::string(hash.substr(0, 16));
}

// The payload as the jsonb column can hold it.
std::string storable_payload(const Mutation& mutation, bool valid_object) {
  if (valid_object) return mutation.payload_json;
  std::string text = mutation.payload_json;
  for (auto& c : text) {
    if (c == '\0') c = '?';
  }
  boost::json::object wrapper;
  wrapper["invalid_payload"] = text;
  return boost::json::serialize(wrapper);
}

bool payload_is_object(std::string_view payload_json) {
  // jsonb rejects \u0000 escapes; such a payload could never be stored as it is.
  if (payload_json.find("\\u0000") != std::string_view::npos) return false;
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(payload_json, ec);
  return !ec && value.is_object();
}

// rejection_reason, with payload_is_object(mutation.payload_json) already known.
std::optional<std::string> rejection_reason(const Mutation& mutation, bool payload_object) {
  if (!payload_object) return "invalid_payload: payload_json is not a JSON object";
  if (mutation.kind == kWeighingCapturedKind) {
    if (!mutation.weighing) {
      return "invalid_payload: weighing.captured needs the typed weighing_captured message";
    }
    if (auto problem = weighing_problem(*mutation.weighing)) return "invalid_payload: " + *problem;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> rejection_reason(const Mutation& mutation) {
  return rejection_reason(mutation, payload_is_object(mutation.payload_json));
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
  const auto recomputed = sync::chain_hash(
      m.prev_hash, sync::EvidenceFields{m.station_id, m.seq, m.idempotency_key, m.kind,
                                        m.created_at_unix_ms, m.payload_json});
  if (!sync::same_signature(recomputed, m.record_hash)) {
    return "bad_signature: record_hash " + short_hash(m.record_hash) +
           " does not match the mutation's content (altered after it was recorded or in "
           "transit)";
  }
  if (!sync::same_signature(sync::sign_record(key, m.record_hash), m.signature)) {
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
  if (m.prev_hash == *previous_hash || m.prev_hash == sync::kGenesisHash) return std::nullopt;
  return "chain_broken: prev_hash " + short_hash(m.prev_hash) + " does not continue seq " +
         std::to_string(m.seq - 1) + " (record_hash " + short_hash(*previous_hash) + ")";
}

std::optional<std::string> malformed_batch_reason(const std::vector<Mutation>& mutations) {
  for (std::size_t i = 0; i < mutations.size(); ++i) {
    const auto& m = mutations[i];
    const std::string where = "mutation " + std::to_string(i);
    if (!visible_ascii(m.idempotency_key, kMaxKeyLength)) {
      return where + ": idempotency_key must be 1..255 visible ASCII characters";
    }
    if (m.seq == 0) return where + ": seq must be at least 1";
    if (m.seq > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return where + ": seq is out of range";
    if (!visible_ascii(m.kind, kMaxKindLength)) {
      return where + ": kind must be 1..100 visible ASCII characters";
    }
    for (const std::string* field : {&m.prev_hash, &m.record_hash, &m.signature}) {
      if (!field->empty() && !visible_ascii(*field, kMaxEvidenceLength)) {
        return where +
               ": prev_hash, record_hash and signature must be empty or 1..128 visible "
               "ASCII characters";
      }
    }
  }
  return std::nullopt;
}

ReplayPlan plan_batch(const StationState& station, const std::vector<StoredMutation>& existing,
                      const std::vector<Mutation>& mutations, std::int64_t now_unix_ms) {
  ReplayPlan plan;
  plan.high_water_seq = station.high_water_seq;
  const bool keyed = !station.signing_key.empty();
  // The record_hash the next new mutation's prev_hash must continue, when known.
  std::optional<std::string> chain_tip = station.last_record_hash;

  // Stored records plus those recorded earlier in this batch, by key.
  std::map<std::string, StoredMutation, std::less<>> known;
  for (const auto& stored : existing) known.emplace(stored.idempotency_key, stored);

  for (const auto& mutation : mutations) {
    MutationResult result;
    result.idempotency_key = mutation.idempotency_key;
    result.seq = mutation.seq;
    const std::string sha = payload_sha256(mutation.kind, mutation.payload_json);

    if (auto it = known.find(mutation.idempotency_key); it != known.end()) {
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
    if (mutation.seq <= plan.high_water_seq) {
      result.outcome = Outcome::rejected;
      result.reason = "seq_already_used";
      plan.results.push_back(std::move(result));
      continue;
    }
    if (mutation.seq != plan.high_water_seq + 1) {
      plan.expected_seq = plan.high_water_seq + 1;
      break;
    }

    NewRecord record;
    record.payload_sha256 = sha;
    record.applied_at_unix_ms = now_unix_ms;
    record.mutation = mutation;
    std::optional<std::string> reason;
    if (keyed) {
      // Authenticity first: a forged or altered mutation is refused whatever its content.
      reason = signature_problem(mutation, station.signing_key);
      if (!reason) {
        record.signature_verified = true;
        reason = chain_problem(mutation, chain_tip);
        // What is stored is what the station signed, never the unsigned typed copy.
        if (mutation.kind == kWeighingCapturedKind) {
          record.mutation.weighing = mutation.weighing_from_payload;
        }
      }
    }
    if (record.mutation.weighing) number_by_position(*record.mutation.weighing);
    // Parsed once: it decides both the rejection and how the jsonb column holds the payload.
    const bool payload_object = payload_is_object(mutation.payload_json);
    if (!reason) reason = rejection_reason(record.mutation, payload_object);
    record.outcome = reason ? Outcome::rejected : Outcome::applied;
    if (reason) record.reason = *reason;
    record.stored_payload_json = storable_payload(mutation, payload_object);
    record.mutation.weighing_from_payload.reset();
    chain_tip = mutation.record_hash.empty() ? std::nullopt
                                             : std::optional<std::string>(mutation.record_hash);

    result.outcome = record.outcome;
    result.reason = record.reason;
    result.applied_at_unix_ms = now_unix_ms;
    plan.high_water_seq = mutation.seq;
    known.emplace(mutation.idempotency_key,
                  StoredMutation{mutation.idempotency_key, mutation.seq, sha, record.outcome,
                                 record.reason, now_unix_ms});
    plan.records.push_back(std::move(record));
    plan.results.push_back(std::move(result));
  }
  return plan;
}

Result<ReplayOutcome> apply_batch(ReplayStore& store, std::string_view station_id,
                                  const std::vector<Mutation>& mutations,
                                  std::int64_t now_unix_ms) {
  auto station = store.lock_station(station_id);
  if (!station) return station.error();

  std::vector<std::string> keys;
  keys.reserve(mutations.size());
  for (const auto& mutation : mutations) keys.push_back(mutation.idempotency_key);
  std::vector<StoredMutation> existing;
  if (!keys.empty()) {
    auto found = store.find_existing(station_id, keys);
    if (!found) return found.error();
    existing = std::move(*found);
  }

  ReplayPlan plan = plan_batch(*station, existing, mutations, now_unix_ms);
  if (!plan.records.empty()) {
    if (auto inserted = store.insert(station_id, plan.records); !inserted) {
      return inserted.error();
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
  if (error == Errc::unique_violation) return attempt < 2;
  if (error == Errc::serialization_failure) return attempt < 4;
  if (error == Errc::connection_lost) return attempt < 2;
  return false;
}

}  // namespace weighlink::backend
