// The recent weighings' query and items (GET /v1/weighings, docs/local-api.md).
#include "weighlink/agent/weighings.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <chrono>

#include "core/api_common.hpp"
#include "weighlink/agent/station.hpp"
#include "weighlink/base/timestamp.hpp"

namespace weighlink::agent {
namespace json = boost::json;
namespace {

// The bound on captured_at (written to the millisecond) for `from` (captured at or after it) or
// `to` (captured at or before it; a date: during it), as the first millisecond inside or after.
std::optional<std::string> time_bound(const std::string& text, bool to) {
  using namespace std::chrono;
  const bool date = text.size() == 10;
  const auto at = base::parse_rfc3339(date ? text + "T00:00:00Z" : text);
  if (!at) return std::nullopt;
  const auto floor_ms = floor<milliseconds>(*at);
  if (date) return base::format_utc_timestamp_ms(to ? floor_ms + days(1) : floor_ms);
  if (to) return base::format_utc_timestamp_ms(floor_ms + milliseconds(1));
  return base::format_utc_timestamp_ms(floor_ms < *at ? floor_ms + milliseconds(1) : floor_ms);
}

json::value parts(const json::object& p, std::string_view name, std::string_view number) {
  const auto* v = p.if_contains(name);
  if (!v || !v->is_array()) return nullptr;
  json::array out;
  for (const auto& part : v->as_array()) {
    if (!record::is_json_object(part)) continue;
    const auto& o = part.as_object();
    json::object item;
    if (const auto* n = o.if_contains(number)) item[number] = *n;
    if (const auto* w = o.if_contains("weight")) item["weight"] = *w;
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace

std::optional<std::uint64_t> parse_count(std::string_view text) {
  std::uint64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

std::variant<sync::WeighingQuery, QueryRefusal> parse_weighings_query(
    const std::vector<std::pair<std::string, std::string>>& params) {
  sync::WeighingQuery q;
  q.limit = kWeighingsDefaultLimit;
  for (const auto& [name, value] : params) {
    if (value.empty()) continue;  // an empty field of the page's search form: no filter
    if (name == "plate") {
      std::string plate;
      if (normalize_plate(value, plate)) {
        return QueryRefusal{name, "'" + value +
                                      "' is not a plate: 1 to 16 letters and digits (spaces "
                                      "and dashes are ignored)"};
      }
      q.plate = std::move(plate);
    } else if (name == "q") {
      if (value.size() > 100) return QueryRefusal{name, "at most 100 characters"};
      q.text = value;
    } else if (name == "from" || name == "to") {
      auto bound = time_bound(value, name == "to");
      if (!bound) {
        return QueryRefusal{name, "'" + value +
                                      "' is neither a date (2026-12-07) nor an RFC 3339 time "
                                      "(2026-12-07T08:00:00Z)"};
      }
      (name == "from" ? q.captured_from : q.captured_before) = std::move(*bound);
    } else if (name == "state") {
      if (value == "queued") {
        q.states = {sync::MutationState::pending};
      } else if (value == "sent") {
        q.states = {sync::MutationState::acknowledged};
      } else if (value == "dead") {
        q.states = {sync::MutationState::dead, sync::MutationState::discarded};
      } else {
        return QueryRefusal{name, "'" + value + "': expected queued, sent or dead"};
      }
    } else if (name == "limit") {
      const auto n = parse_count(value);
      if (!n || *n < 1 || *n > kWeighingsMaxLimit) {
        return QueryRefusal{name,
                            "'" + value + "': expected 1 to " + std::to_string(kWeighingsMaxLimit)};
      }
      q.limit = *n;
    } else if (name == "before") {
      const auto n = parse_count(value);
      if (!n || *n < 1) return QueryRefusal{name, "'" + value + "': expected a seq (1 or more)"};
      q.before_seq = *n;
    } else {
      return QueryRefusal{name,
                          "unknown parameter (known: plate, q, from, to, state, limit, "
                          "before)"};
    }
  }
  return q;
}

std::string_view weighing_state(sync::MutationState state) {
  switch (state) {
    case sync::MutationState::pending:
      return "queued";
    case sync::MutationState::acknowledged:
      return "sent";
    case sync::MutationState::dead:
    case sync::MutationState::discarded:
      break;
  }
  return "dead";
}

json::object weighing_item(const sync::StoredRecord& record) {
  const auto& row = record.row;
  const auto parsed = api::parse_payload(row.payload_json);
  static const json::object kEmpty;
  const auto& p = record::is_json_object(parsed) ? parsed.as_object() : kEmpty;
  const auto get = [&](std::string_view name) -> json::value {
    const auto* v = p.if_contains(name);
    return v ? *v : json::value(nullptr);
  };
  json::value plate = nullptr;
  const auto* reference = p.if_contains("reference");
  if (reference && record::is_json_object(*reference)) {
    if (const auto* v = reference->as_object().if_contains("plate")) plate = *v;
  }
  return json::object{{"seq", row.seq},
                      {"idempotency_key", row.idempotency_key},
                      {"captured_at", get("captured_at")},
                      {"scale", get("scale")},
                      {"type", get("type")},
                      {"weight", get("weight")},
                      {"unit", get("unit")},
                      {"decks", parts(p, "decks", "index")},
                      {"axles", parts(p, "axles", "number")},
                      {"plate", plate},
                      {"reference", reference ? *reference : json::value(nullptr)},
                      {"transaction", get("transaction")},
                      {"operator", get("operator")},
                      {"state", weighing_state(row.state)},
                      {"record_hash", row.record_hash},
                      {"archived", record.archived}};
}

}  // namespace weighlink::agent
