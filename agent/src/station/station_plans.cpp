// What each recording request of the workstation changes (station_routes.hpp): the plan checked
// against the current book, the record's transaction member, and the book once it is accepted.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "core/api_common.hpp"
#include "station/station_state.hpp"
#include "weighlink/agent/station_routes.hpp"
#include "weighlink/record/exact_json.hpp"
#include "weighlink/record/mutation_rules.hpp"
#include "weighlink/scale/reading.hpp"

namespace weighlink::agent {
namespace json = boost::json;
using namespace api;

namespace {

HttpResponse refused(int status, const FieldError& e, const std::string& correlation_id) {
  return error_response(status, e.code, e.message, correlation_id);
}

json::object first_link(const Pass& p) {
  return {{"seq", p.seq},
          {"idempotency_key", p.idempotency_key},
          {"weight", p.weight},
          {"captured_at", p.captured_at},
          {"record_hash", p.record_hash}};
}

// The record's gross, tare and net against `other` (the first pass or the stored tare).
void add_net(json::object& payload, json::object& transaction, const Pass& other) {
  NetWeights w;
  const auto weight = std::string(payload.at("weight").as_string());
  const auto unit = std::string(payload.at("unit").as_string());
  if (auto e = compute_net(other.weight, other.unit, weight, unit, w)) {
    transaction["error"] = e->message;  // checked before the capture: only a unit switched since
    return;
  }
  transaction["gross"] = w.gross.to_string();
  transaction["tare"] = w.tare.to_string();
  transaction["net"] = w.net.to_string();
  transaction["unit"] = unit;
}

std::string text_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

namespace station_state {

void fill(StationBook& book, const sync::OutboxRow& row) {
  json::object payload;
  try {
    payload = json::parse(row.payload_json).as_object();
  } catch (const std::exception& e) {
    spdlog::error("record {} cannot be read back for the workstation: {}", row.seq, e.what());
    return;
  }
  for (auto* pass : book.unfilled()) {
    if (pass->idempotency_key != row.idempotency_key) continue;
    pass->seq = row.seq;
    pass->record_hash = row.record_hash;
    pass->weight = text_at(payload, "weight");
    pass->unit = text_at(payload, "unit");
    pass->scale = text_at(payload, "scale");
    pass->captured_at = text_at(payload, "captured_at");
  }
  const auto* tx = payload.if_contains("transaction");
  if (!tx || !tx->is_object()) return;
  auto* t = book.find(text_at(tx->as_object(), "id"));
  if (!t || !tx->as_object().contains("net")) return;
  t->gross = text_at(tx->as_object(), "gross");
  t->tare = text_at(tx->as_object(), "tare");
  t->net = text_at(tx->as_object(), "net");
  t->unit = text_at(tx->as_object(), "unit");
}

json::object tare_json(const StoredTare& t, std::int64_t now_ms, const StationConfig& config) {
  const auto age_days = (now_ms - t.pass.at_ms) / (24LL * 3600 * 1000);
  return {{"plate", t.plate},
          {"weight", t.pass.weight},
          {"unit", t.pass.unit},
          {"seq", t.pass.seq},
          {"idempotency_key", t.pass.idempotency_key},
          {"captured_at", t.pass.captured_at},
          {"scale", t.pass.scale},
          {"reference", t.reference},
          {"operator", t.operator_id},
          {"age_days", age_days},
          {"expired", config.tare_max_age_days > 0 && age_days >= config.tare_max_age_days}};
}

}  // namespace station_state

std::string StationRoutes::live_unit(const std::string& scale_id) const {
  const auto* s = ctx_.live->find(scale_id);
  return s && s->latest ? s->latest->unit : std::string();
}

std::optional<HttpResponse> StationRoutes::weighing_request(const json::object& body,
                                                            const std::string& key, bool with_plate,
                                                            Plan& plan,
                                                            const std::string& correlation_id) {
  auto& req = plan.capture;
  req.idempotency_key = key;
  req.scale_id = ctx_.live->scales().empty() ? "main" : ctx_.live->scales().front().id;
  req.timeout = ctx_.capture_timeout;
  std::optional<HttpResponse> error;
  if (!optional_string(body, "scale", req.scale_id, error, correlation_id) ||
      !optional_string(body, "operator", req.operator_id, error, correlation_id)) {
    return error;
  }
  if (!ctx_.captures->has_scale(req.scale_id)) {
    const auto e = unknown_scale(req.scale_id);
    return error_response(e.status, e.code, e.message, correlation_id);
  }
  if (!with_plate) return std::nullopt;
  const auto* plate = body.if_contains("plate");
  std::string normalized;
  if (!plate || !plate->is_string()) {
    return error_response(422, "invalid_plate",
                          "plate: required, a string such as \"KCB 123A\" (1 to 16 letters and "
                          "digits; spaces and dashes are removed)",
                          correlation_id);
  }
  if (auto e = normalize_plate(plate->as_string(), normalized)) {
    return refused(422, *e, correlation_id);
  }
  json::object reference;
  const auto* given = body.if_contains("reference");
  if (given && !given->is_null() && !record::is_json_object(*given)) {
    return error_response(422, "invalid_reference", "reference: must be a JSON object of fields",
                          correlation_id);
  }
  if (auto e = check_reference(given && !given->is_null() ? given->as_object() : json::object{},
                               config_.reference_fields, reference)) {
    return refused(422, *e, correlation_id);
  }
  req.reference = std::move(reference);
  req.reference["plate"] = normalized;
  return std::nullopt;
}

std::optional<HttpResponse> StationRoutes::prepare_open(const json::object& body,
                                                        const std::string& key, Plan& plan,
                                                        const std::string& correlation_id) {
  const auto mode = body.contains("mode") && body.at("mode").is_string()
                        ? std::string(body.at("mode").as_string())
                        : std::string(body.contains("mode") ? "?" : "two_pass");
  if (mode != "two_pass" && mode != "stored_tare") {
    return error_response(422, "invalid_mode", "mode: two_pass or stored_tare", correlation_id);
  }
  if (auto e = weighing_request(body, key, true, plan, correlation_id)) return e;
  auto& req = plan.capture;
  const auto plate = std::string(req.reference.at("plate").as_string());
  if (const auto* open = plan.next.open_for_plate(plate)) {
    return error_response(409, "transaction_open",
                          plate + " already has an open transaction, " + open->id +
                              ": complete it (POST /v1/transactions/" + open->id +
                              "/complete) or cancel it first",
                          correlation_id);
  }
  const auto now = to_ms(ctx_.clock->now());
  Transaction t;
  t.number = plan.next.take_number();
  t.id = ctx_.station_id + "-T" + std::to_string(t.number);
  t.mode = mode;
  t.plate = plate;
  t.reference = req.reference;
  t.reference.erase("plate");
  t.operator_id = req.operator_id;
  t.opened_at_ms = now;
  t.first = Pass{key, 0, req.scale_id, {}, {}, {}, {}, now};
  json::object link{{"id", t.id}, {"mode", mode}, {"pass", 1}};
  if (mode == "two_pass") {
    req.annotate = [link](json::object& payload) { payload["transaction"] = link; };
  } else {
    const StoredTare* tare = nullptr;
    if (auto e = plan.next.usable_tare(plate, now, config_.tare_max_age_days, tare)) {
      return refused(409, *e, correlation_id);
    }
    const auto unit = live_unit(req.scale_id);
    if (!unit.empty() && unit != tare->pass.unit) {
      return error_response(409, "unit_mismatch",
                            "the stored tare of " + plate + " is in " + tare->pass.unit +
                                " and the scale shows " + unit + "; set the indicator to " +
                                tare->pass.unit,
                            correlation_id);
    }
    t.state = "closed";
    t.ended_at_ms = now;
    t.stored_tare = tare->pass;
    link["stored_tare"] = json::object{{"weight", tare->pass.weight},
                                       {"unit", tare->pass.unit},
                                       {"seq", tare->pass.seq},
                                       {"idempotency_key", tare->pass.idempotency_key},
                                       {"captured_at", tare->pass.captured_at}};
    req.annotate = [link, tare_pass = tare->pass](json::object& payload) mutable {
      add_net(payload, link, tare_pass);
      payload["transaction"] = link;
    };
  }
  plan.transaction_id = t.id;
  plan.next.note_plate(plate);
  plan.next.put(std::move(t));
  return std::nullopt;
}

std::optional<HttpResponse> StationRoutes::prepare_complete(const std::string& id,
                                                            const json::object& body,
                                                            const std::string& key, Plan& plan,
                                                            const std::string& correlation_id) {
  auto* t = plan.next.find(id);
  if (!t) {
    return error_response(404, "unknown_transaction",
                          "no transaction " + id + "; GET /v1/transactions lists the open ones",
                          correlation_id);
  }
  if (auto e = weighing_request(body, key, false, plan, correlation_id)) return e;
  if (const auto* plate = body.if_contains("plate")) {
    std::string normalized;
    if (!plate->is_string() || normalize_plate(plate->as_string(), normalized) ||
        normalized != t->plate) {
      return error_response(409, "plate_mismatch",
                            "transaction " + id + " is for " + t->plate +
                                "; the second pass must weigh the same vehicle",
                            correlation_id);
    }
  }
  const auto now = to_ms(ctx_.clock->now());
  const auto unit = live_unit(plan.capture.scale_id);
  if (auto e = plan.next.check_complete(*t, unit.empty() ? t->first.unit : unit, now)) {
    return refused(409, *e, correlation_id);
  }
  auto& req = plan.capture;
  req.reference = t->reference;
  req.reference["plate"] = t->plate;
  json::object link{{"id", t->id}, {"mode", t->mode}, {"pass", 2}, {"first", first_link(t->first)}};
  req.annotate = [link, first = t->first](json::object& payload) mutable {
    add_net(payload, link, first);
    payload["transaction"] = link;
  };
  t->state = "closed";
  t->ended_at_ms = now;
  t->second = Pass{key, 0, req.scale_id, {}, {}, {}, {}, now};
  plan.next.note_plate(t->plate);
  plan.transaction_id = t->id;
  plan.next.put(*t);
  return std::nullopt;
}

std::optional<HttpResponse> StationRoutes::prepare_cancel(const std::string& id,
                                                          const json::object& body,
                                                          const std::string& key, Plan& plan,
                                                          const std::string& correlation_id) {
  auto* t = plan.next.find(id);
  if (!t) {
    return error_response(404, "unknown_transaction", "no transaction " + id, correlation_id);
  }
  if (t->state != "open") {
    return error_response(
        409, "transaction_not_open",
        "transaction " + id + " is " + t->state + "; only an open one is cancelled",
        correlation_id);
  }
  std::string reason;
  std::string operator_id;
  std::optional<HttpResponse> error;
  if (!optional_string(body, "reason", reason, error, correlation_id) ||
      !optional_string(body, "operator", operator_id, error, correlation_id)) {
    return error;
  }
  if (reason.empty()) {
    return error_response(422, "reason_required",
                          "reason: say why the transaction is cancelled (e.g. \"driver left\")",
                          correlation_id);
  }
  const auto now =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(to_ms(ctx_.clock->now())));
  json::object payload{{"station_id", ctx_.station_id},
                       {"id", t->id},
                       {"plate", t->plate},
                       {"reason", reason},
                       {"operator", operator_id},
                       {"first_seq", t->first.seq},
                       {"first_idempotency_key", t->first.idempotency_key},
                       {"cancelled_at", scale::format_timestamp(now)}};
  sync::NewMutation m;
  m.kind = "weighlink.transaction_cancelled";
  m.payload_json = record::serialize_exact(payload);
  plan.mutation = std::move(m);
  t->state = "cancelled";
  t->cancel_reason = reason;
  t->cancel_key = key;
  t->ended_at_ms = to_ms(now);
  plan.transaction_id = t->id;
  plan.next.put(*t);
  return std::nullopt;
}

std::optional<HttpResponse> StationRoutes::prepare_tare(const json::object& body,
                                                        const std::string& key, Plan& plan,
                                                        const std::string& correlation_id) {
  if (auto e = weighing_request(body, key, true, plan, correlation_id)) return e;
  auto& req = plan.capture;
  const auto now = to_ms(ctx_.clock->now());
  StoredTare tare;
  tare.plate = std::string(req.reference.at("plate").as_string());
  tare.reference = req.reference;
  tare.reference.erase("plate");
  tare.operator_id = req.operator_id;
  tare.pass = Pass{key, 0, req.scale_id, {}, {}, {}, {}, now};
  const auto id = ctx_.station_id + "-T" + std::to_string(plan.next.take_number());
  req.annotate = [link = json::object{{"id", id}, {"mode", "tare"}, {"pass", 1}}](
                     json::object& payload) { payload["transaction"] = link; };
  plan.tare_plate = tare.plate;
  plan.next.note_plate(tare.plate);
  plan.next.put_tare(std::move(tare));
  return std::nullopt;
}

void StationRoutes::finish(Plan& plan, const sync::EnqueueResult& result) {
  if (result.status != sync::EnqueueStatus::accepted) return;
  book_ = std::move(plan.next);
  for (const auto& w : plan.writes) stored_[w.key] = w.value.value_or("");
  station_state::fill(book_, result.row);
  save();
}

HttpResponse StationRoutes::with_subject(HttpResponse response, const std::string& key,
                                         const std::string& transaction_id,
                                         const std::string& tare_plate) const {
  auto parsed = record::parse_exact(response.body, kBodyJsonLimits);
  if (parsed.refusal || !record::is_json_object(parsed.value)) return response;
  auto& body = parsed.value.as_object();
  if (const auto* t = book_.find(transaction_id)) body["transaction"] = to_json(*t);
  for (const auto& [plate, tare] : book_.tares()) {
    if (tare.pass.idempotency_key == key && (tare_plate.empty() || plate == tare_plate)) {
      body["tare"] = station_state::tare_json(tare, to_ms(ctx_.clock->now()), config_);
    }
  }
  response.body = record::serialize_exact(body);
  return response;
}

std::vector<sync::StateWrite> StationRoutes::writes(const StationBook& next) const {
  std::vector<sync::StateWrite> out;
  for (auto [key, text] : {std::pair{station_state::kTransactions, next.transactions_json()},
                           std::pair{station_state::kTares, next.tares_json()},
                           std::pair{station_state::kPlates, next.plates_json()}}) {
    const auto it = stored_.find(std::string(key));
    if (it == stored_.end() || it->second != text) out.push_back({std::string(key), text});
  }
  return out;
}

void StationRoutes::save() {
  for (auto& w : writes(book_)) {
    auto key = w.key;
    stored_[key] = w.value.value_or("");
    ctx_.outbox->put_state(std::move(w), [key](boost::system::result<void> r) {
      if (!r)
        spdlog::error("workstation state {} could not be saved: {}", key, r.error().message());
    });
  }
}

}  // namespace weighlink::agent
