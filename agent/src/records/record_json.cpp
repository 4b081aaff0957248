// Records and their verification as JSON (record_json.hpp).
#include "records/record_json.hpp"

#include <boost/json.hpp>
#include <chrono>

#include "core/api_common.hpp"
#include "weighlink/scale/reading.hpp"

namespace weighlink::agent::records {
namespace json = boost::json;
using api::parse_payload;

namespace {

json::array problems_json(const std::vector<record::EvidenceProblem>& problems) {
  json::array out;
  for (const auto& p : problems) {
    out.push_back(
        json::object{{"code", record::to_string(p.code)}, {"seq", p.seq}, {"message", p.message}});
  }
  return out;
}

void copy_members(const json::object& from, json::object& to,
                  std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (const auto* v = from.if_contains(name)) to[name] = *v;
  }
}

}  // namespace

json::object record_json(const sync::StoredRecord& record) {
  const auto& r = record.row;
  return json::object{{"seq", r.seq},
                      {"idempotency_key", r.idempotency_key},
                      {"kind", r.kind},
                      {"created_at_ms", r.created_at_ms},
                      {"created_at", scale::format_timestamp(std::chrono::system_clock::time_point(
                                         std::chrono::milliseconds(r.created_at_ms)))},
                      {"payload", parse_payload(r.payload_json)},
                      {"prev_hash", r.prev_hash},
                      {"record_hash", r.record_hash},
                      {"signature", r.signature},
                      {"state", sync::to_string(r.state)},
                      {"archived", record.archived}};
}

json::value reading_json(const sync::OutboxRow& row) {
  const auto payload = parse_payload(row.payload_json);
  const auto* p = payload.if_object();
  if (!p || !row.kind.starts_with("weighing.")) return nullptr;
  json::object out;
  copy_members(*p, out, {"scale", "reading_seq", "reading_ts", "protocol", "raw"});
  if (const auto* evidence = p->if_contains("evidence"); evidence && evidence->is_object()) {
    copy_members(evidence->as_object(), out, {"frames", "stale_after_ms"});
  }
  if (const auto* axles = p->if_contains("axles"); axles && axles->is_array()) {
    json::array readings;
    for (const auto& a : axles->as_array()) {
      if (!a.is_object()) continue;
      json::object one;
      copy_members(a.as_object(), one, {"number", "reading_seq", "reading", "raw", "captured_at"});
      readings.push_back(std::move(one));
    }
    out["axles"] = std::move(readings);
  }
  return out;
}

json::object check_json(const sync::RecordCheck& check) {
  const auto& r = check.record.row;
  return json::object{{"seq", r.seq},
                      {"ok", check.ok()},
                      {"hash_ok", check.hash_ok},
                      {"signature_ok", check.signature_ok},
                      {"chain_ok", check.chain_ok},
                      {"attachments_ok", check.attachments_ok},
                      {"archived", check.record.archived},
                      {"record_hash", r.record_hash},
                      {"prev_hash", r.prev_hash},
                      {"problems", problems_json(check.problems)},
                      {"reading", reading_json(r)}};
}

json::object evidence_json(const sync::EvidenceCheck& check) {
  const auto& rep = check.report;
  const auto& c = check.chain;
  return json::object{
      {"ok", rep.ok()},
      {"checked", rep.records},
      {"archived", check.archived},
      {"attachments", check.attachments},
      {"anchor_seq", c.archive_anchor_seq},
      {"pruned_through_seq", c.anchor_seq},
      {"head_seq", c.head_seq ? json::value(*c.head_seq) : json::value(nullptr)},
      {"first_seq", rep.records ? json::value(rep.first_seq) : json::value(nullptr)},
      {"last_seq", rep.records ? json::value(rep.last_seq) : json::value(nullptr)},
      {"problems", problems_json(rep.problems)}};
}

std::string absent_reason(std::uint64_t seq, const sync::OutboxStats& stats,
                          std::uint32_t retention_days, bool& pruned) {
  pruned = false;
  if (seq == 0 || seq > stats.last_seq) {
    return "no record " + std::to_string(seq) + " was written at this station (the newest is " +
           std::to_string(stats.last_seq) + ")";
  }
  if (seq <= stats.archive_trimmed_through_seq) {
    pruned = true;
    return "record " + std::to_string(seq) +
           " is no longer held at this station: it was older than the retention period (" +
           std::to_string(retention_days) +
           " days, evidence.retention_days) and was deleted after the backend had it in a "
           "verified backup; ask the backend for it";
  }
  return {};
}

}  // namespace weighlink::agent::records
