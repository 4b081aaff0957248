// What the web app's captures become: axles of the agent's axle session, static and multi-deck
// captures, each recorded with the app's own values beside the agent's.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "truconnect/fields.hpp"
#include "weighlink/agent/app_record.hpp"
#include "weighlink/agent/truconnect.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/base/log_text.hpp"
#include "weighlink/record/exact_json.hpp"

namespace weighlink::agent {
namespace json = boost::json;
using namespace truconnect;

void TruConnect::on_axle_captured(Event& e) {
  const auto& data = e.data;
  auto& reply = e.reply;
  // The axle the browser names keys the capture: a re-sent axle-captured for the same axle
  // answers with the axle already captured instead of capturing the next one. The browser's
  // weight is not recorded as the axle's: the agent binds its own stable reading, and keeps the
  // browser's beside it (the record's `app`).
  const auto* session = captures_.session(scale_id_);
  if (!session) {
    const auto e = unknown_scale(scale_id_);
    reply("axle-captured-ack", failure(e.code, e.message));
    return;
  }
  const int last = app_.recorded.empty() ? session->last_number() : app_.recorded.back().number;
  const auto number = int_field(data, "axleNumber");
  const int n = number && *number > 0 ? *number : last + 1;
  if (app_.config_changed && n <= last) restart_vehicle();
  const auto* live = captures_.context().live->find(scale_id_);
  const std::string unit = live && live->latest ? live->latest->unit : std::string();
  if (!app_.recorded.empty()) {
    // The weighing is recorded: a re-sent axle answers with what it recorded; another axle is
    // refused (the app changes the axle configuration, or resets, to weigh the vehicle again).
    for (const auto& a : app_.recorded) {
      if (a.number != n) continue;
      reply("axle-captured-ack",
            json::object{{"success", true},
                         {"axleNumber", a.number},
                         {"weight", exact_number(in_kg(a.weight, unit))},
                         {"isComplete", true},
                         {"readingSeq", a.seq},
                         {"idempotencyKey", vehicle_key() + ":axle:" + std::to_string(n)}});
      return;
    }
    const auto message = "the weighing of this vehicle is recorded already (axles 1.." +
                         std::to_string(last) + "); reset, or change the axle configuration, " +
                         "to weigh it again";
    notice("axle-captured", "already_recorded", "axle " + std::to_string(n) + ": " + message,
           vehicle_key());
    reply("axle-captured-ack", failure("already_recorded", message));
    return;
  }
  if (session->state() != scale::AxleSession::State::weighing) {
    (void)captures_.start_session(scale_id_, session->options().expected_axles, true);
  }
  if (auto w = decimal_field(data, "weight")) app_.axle_weights[n] = *w;
  app_.refusals.erase(n);
  const auto key = vehicle_key() + ":axle:" + std::to_string(n);
  const auto hash = base::sha256_hex("truconnect axle-captured\n" + std::to_string(n));
  const auto timeout = std::chrono::milliseconds(3000);
  // The app has moved on once it sends the next axle: an axle still waiting for the scale to
  // settle is given up (recorded as missing, with the reason) instead of refusing the next one.
  const AxleRequest how{n, true};
  captures_.capture_axle(
      scale_id_, key, hash, timeout,
      [this, reply, key, n](AxleOutcome outcome) {
        const auto* session = captures_.session(scale_id_);
        const int captured = session ? static_cast<int>(session->axles().size()) : 0;
        const int expected = session ? session->options().expected_axles : 0;
        const auto gvw = session ? session->running_gvw() : scale::Decimal{};
        const auto* live = captures_.context().live->find(scale_id_);
        const std::string unit = live && live->latest ? live->latest->unit : std::string();
        // The app's last axle is in (captured or not): the weighing goes to the outbox now, so
        // it is recorded even if the browser never confirms (TruConnect's auto-weigh moment).
        const bool last_axle = expected > 0 && n >= expected;
        if (outcome.error) {
          // Still this vehicle (not reset or restarted meanwhile): its refusal is kept.
          if (const auto now = current_vehicle_key(); !now.empty() && key.starts_with(now + ":")) {
            app_.refusals[n] = outcome.error->code + ": " + outcome.error->message;
            save();
          }
          notice("axle-captured", outcome.error->code,
                 "axle " + std::to_string(n) + ": " + outcome.error->message, key);
          auto body = failure(outcome.error->code, outcome.error->message);
          body["capturedAxles"] = captured;
          body["expectedAxles"] = expected;
          body["gvw"] = exact_number(in_kg(gvw, unit));
          reply("axle-captured-ack", std::move(body));
          reply("error",
                json::object{{"message", outcome.error->message}, {"code", outcome.error->code}});
          // The app's last axle refused by the scale: the vehicle is recorded without it. Not
          // when the axle was given up because the app moved on (reset, restart, next axle).
          const auto& code = outcome.error->code;
          if (last_axle && captured > 0 && code != "session_busy" && code != "session_reset" &&
              code != "superseded") {
            complete_session(
                vehicle_key() + ":complete", [](const std::string&, const json::object&) {}, "");
          }
          return;
        }
        reply("axle-captured-ack",
              json::object{{"success", true},
                           {"axleNumber", outcome.axle.number},
                           {"weight", exact_number(in_kg(outcome.axle.weight, unit))},
                           {"isComplete", last_axle},
                           {"capturedAxles", captured},
                           {"expectedAxles", expected},
                           {"gvw", exact_number(in_kg(gvw, unit))},
                           {"readingSeq", outcome.axle.seq},
                           {"idempotencyKey", key}});
        if (last_axle && !outcome.replayed) {
          complete_session(
              vehicle_key() + ":complete", [](const std::string&, const json::object&) {}, "");
        }
      },
      how);
}

namespace {

using ReplyFn = std::function<void(std::string, json::object)>;

// The ack for a capture that ends in the outbox: refused (with an `error` event the web app
// shows), not recorded, or recorded with its key, seq, GVW (kg) and capture time.
void answer_capture(const std::string& ack, const std::string& key, const CaptureOutcome& outcome,
                    const ReplyFn& reply) {
  if (ack.empty()) return;
  if (outcome.error) {
    reply(ack, failure(outcome.error->code, outcome.error->message));
    reply("error",
          json::object{{"message", outcome.error->message}, {"code", outcome.error->code}});
    return;
  }
  const auto& e = outcome.enqueued;
  if (e.status != sync::EnqueueStatus::accepted && e.status != sync::EnqueueStatus::replayed) {
    spdlog::error("truconnect: weighing {} not recorded: {}", base::log_safe(key), e.message);
    reply(ack, failure(e.status == sync::EnqueueStatus::full ? "outbox_full" : "outbox_error",
                       "the weighing was not recorded: " + e.message));
    return;
  }
  json::object body{{"success", true}, {"idempotencyKey", key}, {"seq", e.row.seq}};
  json::error_code ec;
  auto payload = json::parse(e.row.payload_json, ec);
  if (!ec && payload.is_object()) {
    const auto& p = payload.as_object();
    const auto* w = p.if_contains("gvw") ? p.if_contains("gvw") : p.if_contains("weight");
    const auto* u = p.if_contains("unit");
    if (w && w->is_string() && u && u->is_string()) {
      if (auto d = scale::Decimal::parse(w->as_string())) {
        body["gvw"] = exact_number(in_kg(*d, std::string(u->as_string())));
      }
    }
    if (const auto* at = p.if_contains("captured_at")) body["capturedAt"] = *at;
  }
  reply(ack, std::move(body));
}

// The outcome recorded under `key` already, if any: a re-sent message answers with it.
std::optional<CaptureOutcome> recorded(sync::Outbox& outbox, const std::string& key) {
  auto existing = outbox.find(key);
  if (!existing) return std::nullopt;
  CaptureOutcome o;
  o.enqueued.status = sync::EnqueueStatus::replayed;
  o.enqueued.row = std::move(*existing);
  return o;
}

}  // namespace

json::object TruConnect::reference() const {
  json::object ref{{"source", "truconnect"}, {"bound", bound_}};
  if (!transaction_id_.empty()) ref["transaction_id"] = transaction_id_;
  if (!vehicle_reg_.empty()) ref["vehicle_reg_number"] = vehicle_reg_;
  if (!plate_.empty()) ref["plate"] = plate_;
  if (!axle_config_code_.empty()) ref["axle_configuration_code"] = axle_config_code_;
  return ref;
}

void TruConnect::complete_session(const std::string& key, const Reply& reply,
                                  const std::string& ack_event) {
  if (auto done = recorded(*captures_.context().outbox, key)) {
    (void)captures_.reset_session(scale_id_);
    return answer_capture(ack_event, key, *done, reply);
  }
  CaptureRequest req;
  req.scale_id = scale_id_;
  req.idempotency_key = key;
  req.request_hash = base::sha256_hex("truconnect complete\n" + key);
  req.reference = reference();
  // The app has committed the vehicle: it is recorded with the axles the agent captured, an axle
  // it could not capture listed as missing with the reason, and the app's own values beside.
  req.allow_missing_axles = true;
  req.annotate = axle_annotation(key);
  const auto* session = captures_.session(scale_id_);
  auto axles = session ? session->axles() : std::vector<scale::AxleCapture>{};
  const int epoch = app_.epoch;
  captures_.complete_session(std::move(req), [this, reply, ack_event, key, epoch,
                                              axles = std::move(axles)](CaptureOutcome outcome) {
    const auto st = outcome.enqueued.status;
    if (!outcome.error && epoch == app_.epoch &&
        (st == sync::EnqueueStatus::accepted || st == sync::EnqueueStatus::replayed)) {
      app_.recorded = axles;
      save();
    }
    if (outcome.error) {
      notice(ack_event.empty() ? "axle-captured" : ack_event, outcome.error->code,
             "the vehicle's weighing was not recorded: " + outcome.error->message, key);
    }
    answer_capture(ack_event, key, outcome, reply);
  });
}

void TruConnect::capture_now(CaptureRequest req, const std::string& ack_event, const Reply& reply) {
  const auto key = req.idempotency_key;
  req.scale_id = scale_id_;
  req.request_hash = base::sha256_hex("truconnect " + ack_event + "\n" + key);
  req.timeout = std::chrono::milliseconds(3000);
  if (auto done = recorded(*captures_.context().outbox, key)) {
    return answer_capture(ack_event, key, *done, reply);
  }
  captures_.capture(std::move(req), [this, reply, ack_event, key](CaptureOutcome outcome) {
    if (outcome.error) notice(ack_event, outcome.error->code, outcome.error->message, key);
    answer_capture(ack_event, key, outcome, reply);
  });
}

void TruConnect::on_vehicle_complete(Event& e) {
  const auto& client = e.client;
  const auto& data = e.data;
  auto& reply = e.reply;
  const auto id = string_field(data, "transactionId");
  if (!id.empty() && transaction_id_.empty()) transaction_id_ = id;
  const auto* session = captures_.session(scale_id_);
  if (mode_of(client) == "mobile" && session &&
      session->state() != scale::AxleSession::State::idle) {
    return complete_session(vehicle_key() + ":complete", reply, "vehicle-complete-ack");
  }
  // Multi-deck: the operator pressed "Take Weight" in the app, which tells the agent nothing; it
  // hears of the weighing only now, when the app confirms, and the truck may have left. The
  // weight recorded is the vehicle's stable deck weight the app took (its GVW), else the stable
  // weight now, else the vehicle's last stable weight; the app's values are kept beside it.
  CaptureRequest req;
  req.idempotency_key = vehicle_key() + ":vehicle-complete";
  req.reference = reference();
  const auto* live = captures_.context().live->find(scale_id_);
  const std::string unit = live && live->latest ? live->latest->unit : std::string();
  const auto app_gvw = decimal_field(data, "gvw");
  auto now = captures_.pin(scale_id_);
  if (now && std::is_lteq(now->reading.weight.compare(config_.vehicle_on_deck))) now.reset();
  std::vector<scale::Decimal> plateaus;
  for (const auto& p : app_.plateaus) plateaus.push_back(in_kg(p.reading.weight, unit));
  const auto like =
      now ? now->reading.weight
          : (app_.plateaus.empty() ? scale::Decimal{} : app_.plateaus.back().reading.weight);
  const auto div = division(like);
  const auto choice = choose_take_weight(
      plateaus, now ? std::optional(in_kg(now->reading.weight, unit)) : std::nullopt, app_gvw, div);
  if (choice.from == TakeChoice::From::current) req.pinned = std::move(now);
  if (choice.from == TakeChoice::From::earlier) req.pinned = app_.plateaus[choice.plateau];
  json::object extra{{"source", "truconnect"}, {"reading_choice", choice.reason}};
  if (const auto* w = data.if_contains("axleWeights"); w && w->is_array()) {
    extra["axle_weights"] = *w;  // as the app sent them (numbers kept exactly)
    req.reference["client_axle_weights"] = *w;
  }
  req.annotate = [this, app_gvw, key = req.idempotency_key,
                  extra = std::move(extra)](json::object& payload) {
    const auto unit = std::string(payload.at("unit").as_string());
    const auto weight = decimal_text(payload.if_contains("weight"));
    std::vector<PartValues> parts{PartValues{
        "gvw", app_gvw, weight ? std::optional(in_kg(*weight, unit)) : std::nullopt, {}}};
    annotate_record(payload, parts, division(weight.value_or(scale::Decimal{})), out_unit(unit),
                    extra);
    notice_discrepancy(payload, key);
  };
  const auto key = req.idempotency_key;
  capture_now(std::move(req), "vehicle-complete-ack",
              [this, key, reply = std::move(reply)](std::string event, json::object body) {
                if (event == "vehicle-complete-ack" && body.contains("success") &&
                    body.at("success") == json::value(true)) {
                  app_.plateaus.clear();  // the next vehicle's weights start afresh
                }
                reply(std::move(event), std::move(body));
              });
}

void TruConnect::on_capture_request(Event& e) {
  const auto& data = e.data;
  auto& reply = e.reply;
  const auto type = string_field(data, "type");
  const auto deck = string_field(data, "deck");
  CaptureRequest req;
  req.idempotency_key = vehicle_key() + ":capture:" + key_part(type.empty() ? "weight" : type) +
                        (deck.empty() ? "" : ":" + key_part(deck));
  req.reference = reference();
  if (!type.empty()) req.reference["type"] = type;
  capture_now(std::move(req), "capture-ack", reply);
}

}  // namespace weighlink::agent
