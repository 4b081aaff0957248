#include <algorithm>
#include <boost/json.hpp>
#include <compare>
#include <stdexcept>

#include "weighlink/agent/station.hpp"
#include "weighlink/record/exact_json.hpp"
#include "weighlink/scale/reading.hpp"

namespace weighlink::agent {
namespace json = boost::json;

namespace {

constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;

ReferenceField field(std::string id, std::string en, std::string sw, std::string type = "text",
                     std::vector<std::string> choices = {}) {
  ReferenceField f;
  f.id = std::move(id);
  f.label = {{"en", std::move(en)}, {"sw", std::move(sw)}};
  f.type = std::move(type);
  f.choices = std::move(choices);
  return f;
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f;
  });
}

// Characters of UTF-8 text (continuation bytes not counted).
std::size_t characters(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

FieldError invalid(const std::string& field, const std::string& message) {
  return {"invalid_reference", field, "reference." + field + ": " + message};
}

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::int64_t int_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v ? v->to_number<std::int64_t>() : 0;
}

json::object transaction_doc(const Transaction& t) {
  auto o = to_json(t);
  o["number"] = t.number;
  o["operator"] = t.operator_id;
  o["ended_at_ms"] = t.ended_at_ms;
  o["opened_at_ms"] = t.opened_at_ms;
  o["cancel_key"] = t.cancel_key;
  o["first"] = to_json(t.first);
  if (t.stored_tare) o["stored_tare"] = to_json(*t.stored_tare);
  return o;
}

Transaction transaction_from(const json::object& o) {
  Transaction t;
  t.id = str(o, "id");
  t.number = o.at("number").to_number<std::uint64_t>();
  t.mode = str(o, "mode");
  t.state = str(o, "state");
  t.plate = str(o, "plate");
  t.reference = o.at("reference").as_object();
  t.operator_id = str(o, "operator");
  t.opened_at_ms = int_at(o, "opened_at_ms");
  t.ended_at_ms = int_at(o, "ended_at_ms");
  t.first = pass_from_json(o.at("first").as_object());
  if (const auto* s = o.if_contains("second"); s && s->is_object()) {
    t.second = pass_from_json(s->as_object());
  }
  if (const auto* s = o.if_contains("stored_tare"); s && s->is_object()) {
    t.stored_tare = pass_from_json(s->as_object());
  }
  t.gross = str(o, "gross");
  t.tare = str(o, "tare");
  t.net = str(o, "net");
  t.unit = str(o, "unit");
  t.cancel_reason = str(o, "cancel_reason");
  t.cancel_key = str(o, "cancel_key");
  if (t.id.empty() || t.plate.empty()) throw std::invalid_argument("transaction without id/plate");
  return t;
}

}  // namespace

std::vector<ReferenceField> StationConfig::default_fields() {
  return {field("customer", "Customer", "Mteja"), field("product", "Product", "Bidhaa"),
          field("direction", "Direction", "Mwelekeo", "choice", {"in", "out"}),
          field("driver", "Driver", "Dereva"), field("order", "Order", "Oda")};
}

std::optional<FieldError> normalize_plate(std::string_view text, std::string& out) {
  out.clear();
  for (char c : text) {
    if (c == ' ' || c == '-') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
      return FieldError{"invalid_plate", "plate",
                        "plate: only letters A-Z, digits, spaces and dashes are allowed"};
    }
    out.push_back(c);
  }
  if (out.empty() || out.size() > kPlateMaxLength) {
    return FieldError{"invalid_plate", "plate",
                      "plate: 1 to 16 letters and digits (spaces and dashes are removed)"};
  }
  return std::nullopt;
}

std::optional<FieldError> check_reference(const json::object& reference,
                                          const std::vector<ReferenceField>& fields,
                                          json::object& out) {
  out.clear();
  for (const auto& [key, value] : reference) {
    const auto id = std::string(key);
    const auto it = std::find_if(fields.begin(), fields.end(),
                                 [&](const ReferenceField& f) { return f.id == id; });
    if (it == fields.end()) {
      std::string known;
      for (const auto& f : fields) known += (known.empty() ? "" : ", ") + f.id;
      return invalid(id, "not a field of this station (its fields: " + known + ")");
    }
    if (value.is_null()) continue;
    if (it->type == "number") {
      auto text = value.is_string() ? std::optional(std::string(value.as_string()))
                                    : record::number_text(value);
      const auto d = text ? scale::Decimal::parse(*text) : std::nullopt;
      if (!d) return invalid(id, "must be a decimal number such as 12 or 0.5");
      out[id] = d->to_string();
      continue;
    }
    if (!value.is_string()) return invalid(id, "must be a string");
    const auto text = std::string(value.as_string());
    if (it->type == "choice") {
      if (std::find(it->choices.begin(), it->choices.end(), text) == it->choices.end()) {
        std::string list;
        for (const auto& c : it->choices) list += (list.empty() ? "" : ", ") + c;
        return invalid(id, "'" + text + "' is not one of: " + list);
      }
    } else if (has_control(text) || characters(text) > it->max_length) {
      return invalid(id, "at most " + std::to_string(it->max_length) +
                             " characters and no control characters");
    }
    if (text.empty()) continue;
    out[id] = text;
  }
  for (const auto& f : fields) {
    if (f.required && !out.contains(f.id)) return invalid(f.id, "is required at this station");
  }
  return std::nullopt;
}

json::object to_json(const Pass& p) {
  return {{"seq", p.seq},
          {"idempotency_key", p.idempotency_key},
          {"scale", p.scale},
          {"weight", p.weight},
          {"unit", p.unit},
          {"captured_at", p.captured_at},
          {"record_hash", p.record_hash},
          {"at_ms", p.at_ms}};
}

Pass pass_from_json(const json::object& o) {
  Pass p;
  p.idempotency_key = str(o, "idempotency_key");
  p.seq = o.at("seq").to_number<std::uint64_t>();
  p.scale = str(o, "scale");
  p.weight = str(o, "weight");
  p.unit = str(o, "unit");
  p.captured_at = str(o, "captured_at");
  p.record_hash = str(o, "record_hash");
  p.at_ms = int_at(o, "at_ms");
  return p;
}

std::optional<FieldError> compute_net(const std::string& first_weight,
                                      const std::string& first_unit,
                                      const std::string& second_weight,
                                      const std::string& second_unit, NetWeights& out) {
  if (first_unit != second_unit) {
    return FieldError{"unit_mismatch", "unit",
                      "the first weight is in " + first_unit + " and the second in " + second_unit +
                          "; set the indicator back to " + first_unit};
  }
  const auto a = scale::Decimal::parse(first_weight);
  const auto b = scale::Decimal::parse(second_weight);
  if (!a || !b) return FieldError{"invalid_weight", "weight", "a weight is not a decimal number"};
  const bool a_heavier = std::is_gteq(a->compare(*b));
  out.gross = a_heavier ? *a : *b;
  out.tare = a_heavier ? *b : *a;
  auto net = out.gross.minus(out.tare);
  if (!net) return FieldError{"invalid_weight", "weight", "the net weight does not fit"};
  out.net = *net;
  return std::nullopt;
}

json::object to_json(const Transaction& t) {
  json::object o{{"id", t.id},
                 {"plate", t.plate},
                 {"reference", t.reference},
                 {"mode", t.mode},
                 {"state", t.state},
                 {"opened_at", scale::format_timestamp(std::chrono::system_clock::time_point(
                                   std::chrono::milliseconds(t.opened_at_ms)))},
                 {"first", to_json(t.first)},
                 {"second", t.second ? json::value(to_json(*t.second)) : json::value(nullptr)},
                 {"gross", t.gross},
                 {"tare", t.tare},
                 {"net", t.net},
                 {"unit", t.unit},
                 {"cancel_reason", t.cancel_reason}};
  if (t.stored_tare) o["stored_tare"] = to_json(*t.stored_tare);
  return o;
}

const Transaction* StationBook::find(const std::string& id) const {
  const auto it = transactions_.find(id);
  return it == transactions_.end() ? nullptr : &it->second;
}

Transaction* StationBook::find(const std::string& id) {
  const auto it = transactions_.find(id);
  return it == transactions_.end() ? nullptr : &it->second;
}

const Transaction* StationBook::find_by_key(const std::string& key) const {
  for (const auto& [id, t] : transactions_) {
    if (t.first.idempotency_key == key || (t.second && t.second->idempotency_key == key) ||
        t.cancel_key == key) {
      return &t;
    }
  }
  return nullptr;
}

const Transaction* StationBook::open_for_plate(const std::string& plate) const {
  for (const auto& [id, t] : transactions_) {
    if (t.state == "open" && t.plate == plate) return &t;
  }
  return nullptr;
}

std::vector<const Transaction*> StationBook::list(const std::string& state,
                                                  std::size_t limit) const {
  std::vector<const Transaction*> out;
  for (const auto& [id, t] : transactions_) {
    if (t.state == state) out.push_back(&t);
  }
  std::sort(out.begin(), out.end(),
            [](const Transaction* a, const Transaction* b) { return a->number > b->number; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

void StationBook::put(Transaction t) {
  const auto state = t.state;
  next_number_ = std::max(next_number_, t.number + 1);
  transactions_[t.id] = std::move(t);
  if (state == "open") return;
  auto ended = list(state, transactions_.size());
  for (std::size_t i = kMaxEnded; i < ended.size(); ++i) transactions_.erase(ended[i]->id);
}

std::optional<FieldError> StationBook::check_complete(const Transaction& t, const std::string& unit,
                                                      std::int64_t now_ms) const {
  if (t.state != "open") {
    return FieldError{"transaction_not_open", "id",
                      "transaction " + t.id + " is " + t.state + "; only an open one is completed"};
  }
  if (t.first.seq == 0) {
    return FieldError{"transaction_not_ready", "id",
                      "the first pass of " + t.id + " is still being recorded; retry"};
  }
  if (t.first.unit != unit) {
    return FieldError{"unit_mismatch", "unit",
                      "the first pass of " + t.id + " was weighed in " + t.first.unit +
                          " and the scale now shows " + unit + "; set the indicator to " +
                          t.first.unit};
  }
  if (now_ms <= t.first.at_ms) {
    return FieldError{"not_later", "id", "the second pass must come after the first"};
  }
  return std::nullopt;
}

std::optional<FieldError> StationBook::usable_tare(const std::string& plate, std::int64_t now_ms,
                                                   int max_age_days, const StoredTare*& out) const {
  out = tare(plate);
  if (!out || out->pass.seq == 0) {
    out = nullptr;
    return FieldError{"no_stored_tare", "plate",
                      "no stored tare for " + plate +
                          "; weigh the empty vehicle first (POST /v1/tares) or weigh in two "
                          "passes"};
  }
  if (max_age_days > 0 && now_ms - out->pass.at_ms > max_age_days * kDayMs) {
    const auto age = (now_ms - out->pass.at_ms) / kDayMs;
    out = nullptr;
    return FieldError{"stored_tare_expired", "plate",
                      "the stored tare of " + plate + " is " + std::to_string(age) +
                          " days old, more than station.tare_max_age_days (" +
                          std::to_string(max_age_days) +
                          "); weigh the empty vehicle again (POST /v1/tares)"};
  }
  return std::nullopt;
}

const StoredTare* StationBook::tare(const std::string& plate) const {
  const auto it = tares_.find(plate);
  return it == tares_.end() ? nullptr : &it->second;
}

void StationBook::put_tare(StoredTare tare) {
  auto plate = tare.plate;
  tares_[plate] = std::move(tare);
  while (tares_.size() > kMaxTares) {
    auto oldest = std::min_element(tares_.begin(), tares_.end(), [](const auto& a, const auto& b) {
      return a.second.pass.at_ms < b.second.pass.at_ms;
    });
    tares_.erase(oldest);
  }
}

void StationBook::note_plate(const std::string& plate) {
  std::erase(plates_, plate);
  plates_.push_front(plate);
  if (plates_.size() > kMaxPlates) plates_.resize(kMaxPlates);
}

std::vector<std::string> StationBook::plates(std::string_view prefix, std::size_t limit) const {
  std::vector<std::string> out;
  for (const auto& p : plates_) {
    if (out.size() >= limit) break;
    if (p.starts_with(prefix)) out.push_back(p);
  }
  return out;
}

std::vector<Pass*> StationBook::unfilled() {
  std::vector<Pass*> out;
  for (auto& [id, t] : transactions_) {
    if (t.first.seq == 0) out.push_back(&t.first);
    if (t.second && t.second->seq == 0) out.push_back(&*t.second);
  }
  for (auto& [plate, tare] : tares_) {
    if (tare.pass.seq == 0) out.push_back(&tare.pass);
  }
  return out;
}

std::string StationBook::transactions_json() const {
  json::array items;
  for (const auto& [id, t] : transactions_) items.push_back(transaction_doc(t));
  return json::serialize(
      json::object{{"version", 1}, {"next", next_number_}, {"items", std::move(items)}});
}

std::string StationBook::tares_json() const {
  json::array items;
  for (const auto& [plate, t] : tares_) {
    items.push_back(json::object{{"plate", plate},
                                 {"pass", to_json(t.pass)},
                                 {"reference", t.reference},
                                 {"operator", t.operator_id}});
  }
  return json::serialize(json::object{{"version", 1}, {"items", std::move(items)}});
}

std::string StationBook::plates_json() const {
  json::array items;
  for (const auto& p : plates_) items.emplace_back(p);
  return json::serialize(json::object{{"version", 1}, {"items", std::move(items)}});
}

void StationBook::load(const std::optional<std::string>& transactions,
                       const std::optional<std::string>& tares,
                       const std::optional<std::string>& plates) {
  if (transactions) {
    const auto doc = json::parse(*transactions).as_object();
    for (const auto& v : doc.at("items").as_array()) put(transaction_from(v.as_object()));
    next_number_ = std::max(next_number_, doc.at("next").to_number<std::uint64_t>());
  }
  if (tares) {
    const auto doc = json::parse(*tares);
    for (const auto& v : doc.as_object().at("items").as_array()) {
      const auto& o = v.as_object();
      put_tare({str(o, "plate"), pass_from_json(o.at("pass").as_object()),
                o.at("reference").as_object(), str(o, "operator")});
    }
  }
  if (plates) {
    const auto doc = json::parse(*plates);
    const auto& items = doc.as_object().at("items").as_array();
    for (const auto& v : items) {
      auto plate = std::string(v.as_string());
      const bool seen = std::find(plates_.begin(), plates_.end(), plate) != plates_.end();
      if (!seen && plates_.size() < kMaxPlates) plates_.push_back(std::move(plate));
    }
  }
}

}  // namespace weighlink::agent
