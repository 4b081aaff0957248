#include "weighlink/agent/station_routes.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "core/api_common.hpp"
#include "station/station_state.hpp"
#include "weighlink/base/log_text.hpp"

namespace weighlink::agent {
namespace json = boost::json;
using namespace api;

namespace {

constexpr std::string_view kTransactions = "/v1/transactions";
constexpr std::string_view kTares = "/v1/tares";
constexpr std::size_t kMaxListed = 200;

std::optional<std::string> query(const HttpRequest& request, std::string_view name) {
  auto url = boost::urls::parse_origin_form(request.target);
  if (!url) return std::nullopt;
  for (const auto& p : url->params()) {
    if (p.key == name) return std::string(p.value);
  }
  return std::nullopt;
}

}  // namespace

StationRoutes::StationRoutes(StationConfig config, const ApiContext& ctx)
    : config_(std::move(config)), ctx_(ctx) {
  for (const auto key :
       {station_state::kTransactions, station_state::kTares, station_state::kPlates}) {
    if (auto text = ctx_.outbox->get_state(std::string(key))) stored_[std::string(key)] = *text;
  }
  const auto stored = [this](std::string_view key) -> std::optional<std::string> {
    const auto it = stored_.find(std::string(key));
    return it == stored_.end() ? std::nullopt : std::optional(it->second);
  };
  try {
    book_.load(stored(station_state::kTransactions), stored(station_state::kTares),
               stored(station_state::kPlates));
  } catch (const std::exception& e) {
    spdlog::error(
        "the workstation's saved transactions, tares or plates cannot be read ({}); starting "
        "with none. The saved text stays in the outbox state until the next weighing replaces it",
        e.what());
    book_ = StationBook();
  }
  // Passes whose record was accepted but not yet filled in when the agent stopped.
  bool filled = false;
  for (auto* pass : book_.unfilled()) {
    if (auto row = ctx_.outbox->find(pass->idempotency_key)) {
      station_state::fill(book_, *row);
      filled = true;
    }
  }
  if (filled) save();
}

std::unique_ptr<StationRoutes> make_station_routes(const StationConfig& config,
                                                   const ApiContext& ctx) {
  return std::make_unique<StationRoutes>(config, ctx);
}

bool StationRoutes::handle(const HttpRequest& request, const std::string& path,
                           const std::string& correlation_id, Respond& respond) {
  const auto& m = request.method;
  if (m == "GET" && path == "/v1/station") {
    get_station(respond);
    return true;
  }
  if (m == "GET" && path == "/v1/plates") {
    get_plates(request, respond);
    return true;
  }
  if (path == kTransactions) {
    if (m == "GET") {
      get_transactions(request, correlation_id, respond);
    } else if (m == "POST") {
      record(request, "POST /v1/transactions", correlation_id, std::move(respond),
             [this, correlation_id](const json::object& body, const std::string& key, Plan& plan) {
               return prepare_open(body, key, plan, correlation_id);
             });
    } else {
      return false;
    }
    return true;
  }
  if (path.starts_with(kTransactions) && path[kTransactions.size()] == '/') {
    // /v1/transactions/{id}[/complete|/cancel]
    const auto rest = path.substr(kTransactions.size() + 1);
    const auto slash = rest.find('/');
    const auto id = rest.substr(0, slash);
    const auto action = slash == std::string::npos ? std::string() : rest.substr(slash + 1);
    if (m == "GET" && action.empty()) {
      const auto* t = book_.find(id);
      respond(t ? json_response(200, to_json(*t))
                : error_response(404, "unknown_transaction",
                                 "no transaction " + id + "; GET /v1/transactions lists them",
                                 correlation_id));
      return true;
    }
    if (m != "POST" || (action != "complete" && action != "cancel")) return false;
    record(request, "POST " + path, correlation_id, std::move(respond),
           [this, id, action, correlation_id](const json::object& body, const std::string& key,
                                              Plan& plan) {
             return action == "complete" ? prepare_complete(id, body, key, plan, correlation_id)
                                         : prepare_cancel(id, body, key, plan, correlation_id);
           });
    return true;
  }
  if (path == kTares && m == "POST") {
    record(request, "POST /v1/tares", correlation_id, std::move(respond),
           [this, correlation_id](const json::object& body, const std::string& key, Plan& plan) {
             return prepare_tare(body, key, plan, correlation_id);
           });
    return true;
  }
  if (m == "GET" && (path == kTares || path.starts_with(std::string(kTares) + "/"))) {
    get_tares(path.size() > kTares.size() ? path.substr(kTares.size() + 1) : std::string(),
              correlation_id, respond);
    return true;
  }
  return false;
}

void StationRoutes::status(json::object& status) const {
  status["station"] = json::object{{"language", config_.language},
                                   {"open_transactions", book_.list("open", kMaxListed).size()}};
}

void StationRoutes::metrics(std::string& out) const {
  out +=
      "# HELP weighlink_agent_open_transactions Two-pass transactions waiting for their second "
      "pass.\n# TYPE weighlink_agent_open_transactions gauge\nweighlink_agent_open_transactions " +
      std::to_string(book_.list("open", kMaxListed).size()) + "\n";
}

void StationRoutes::get_station(const Respond& respond) const {
  json::array fields;
  for (const auto& f : config_.reference_fields) {
    json::object label;
    for (const auto& [lang, text] : f.label) label[lang] = text;
    json::object o{{"id", f.id},
                   {"label", std::move(label)},
                   {"type", f.type},
                   {"required", f.required},
                   {"max_length", f.max_length}};
    if (f.type == "choice") {
      json::array choices;
      for (const auto& c : f.choices) choices.emplace_back(c);
      o["choices"] = std::move(choices);
    }
    fields.push_back(std::move(o));
  }
  json::array scales;
  for (const auto& s : ctx_.live->scales()) scales.emplace_back(s.id);
  respond(json_response(200, json::object{{"station_id", ctx_.station_id},
                                          {"language", config_.language},
                                          {"reference_fields", std::move(fields)},
                                          {"tare_max_age_days", config_.tare_max_age_days},
                                          {"scales", std::move(scales)}}));
}

void StationRoutes::get_plates(const HttpRequest& request, const Respond& respond) const {
  // The prefix as typed: normalized the same way, an invalid one matches nothing.
  std::string prefix;
  const auto typed = query(request, "prefix").value_or("");
  json::array items;
  if (typed.empty() || !normalize_plate(typed, prefix)) {
    for (const auto& p : book_.plates(prefix, 50)) items.emplace_back(p);
  }
  respond(json_response(200, json::object{{"items", std::move(items)}}));
}

void StationRoutes::get_transactions(const HttpRequest& request, const std::string& correlation_id,
                                     const Respond& respond) const {
  const auto state = query(request, "state").value_or("open");
  if (state != "open" && state != "closed" && state != "cancelled") {
    return respond(error_response(
        400, "invalid_state",
        "state must be open, closed or cancelled, not '" + base::log_safe(state, 40) + "'",
        correlation_id));
  }
  json::array items;
  for (const auto* t : book_.list(state, kMaxListed)) items.push_back(to_json(*t));
  respond(json_response(200, json::object{{"state", state}, {"items", std::move(items)}}));
}

void StationRoutes::get_tares(const std::string& plate, const std::string& correlation_id,
                              const Respond& respond) const {
  const auto now = to_ms(ctx_.clock->now());
  if (plate.empty()) {
    json::array items;
    for (const auto& [p, t] : book_.tares()) {
      if (t.pass.seq != 0) items.push_back(station_state::tare_json(t, now, config_));
    }
    return respond(json_response(200, json::object{{"items", std::move(items)}}));
  }
  std::string normalized;
  if (auto e = normalize_plate(plate, normalized)) {
    return respond(error_response(422, e->code, e->message, correlation_id));
  }
  const auto* t = book_.tare(normalized);
  if (!t || t->pass.seq == 0) {
    return respond(error_response(
        404, "no_stored_tare",
        "no stored tare for " + normalized + "; weigh the empty vehicle with POST /v1/tares",
        correlation_id));
  }
  respond(json_response(200, station_state::tare_json(*t, now, config_)));
}

void StationRoutes::record(const HttpRequest& request, const std::string& route,
                           const std::string& correlation_id, Respond respond, Prepare prepare) {
  json::value body;
  if (auto refusal = check_capture_request(request, correlation_id, body)) {
    return respond(std::move(*refusal));
  }
  const auto key = request.header("idempotency-key");
  const auto hash = canonical_hash(route, body);
  auto run = [this, key, hash, correlation_id, body = std::move(body), respond = std::move(respond),
              prepare = std::move(prepare)]() mutable {
    // A retry answers with what the first request recorded, never a new weighing.
    if (auto existing = ctx_.outbox->find(key)) {
      auto r = replay_or_conflict(*existing, hash, correlation_id);
      const auto* t = book_.find_by_key(key);
      respond(r.status == 200 ? with_subject(std::move(r), key, t ? t->id : "", "") : std::move(r));
      return run_next();
    }
    auto plan = std::make_shared<Plan>();
    plan->next = book_;
    if (auto refusal = prepare(body.as_object(), key, *plan)) {
      respond(std::move(*refusal));
      return run_next();
    }
    auto done = [this, plan, hash, key, correlation_id,
                 respond = std::move(respond)](CaptureOutcome outcome) mutable {
      if (outcome.error) {
        spdlog::info("[{}] station request refused: {}", correlation_id, outcome.error->code);
      } else {
        finish(*plan, outcome.enqueued);
      }
      auto r = capture_response(outcome, hash, correlation_id);
      respond(r.status < 300
                  ? with_subject(std::move(r), key, plan->transaction_id, plan->tare_plate)
                  : std::move(r));
      run_next();
    };
    if (plan->mutation) {
      plan->mutation->idempotency_key = key;
      plan->mutation->request_hash = hash;
      plan->mutation->created_at_ms = to_ms(ctx_.clock->now());
      plan->writes = writes(plan->next);
      plan->mutation->state_writes = plan->writes;
      ctx_.outbox->enqueue(std::move(*plan->mutation), [post = ctx_.post, done = std::move(done)](
                                                           sync::EnqueueResult result) mutable {
        post([done = std::move(done), result = std::move(result)]() mutable {
          done(CaptureOutcome{std::nullopt, std::move(result)});
        });
      });
      return;
    }
    plan->capture.idempotency_key = key;
    plan->capture.request_hash = hash;
    plan->writes = writes(plan->next);
    plan->capture.state_writes = plan->writes;
    ctx_.captures->capture(std::move(plan->capture), std::move(done));
  };
  // One at a time: a retry sent while its first request runs waits for it and gets its answer.
  waiting_.emplace_back(std::move(run));
  if (!busy_) run_next();
}

void StationRoutes::run_next() {
  busy_ = !waiting_.empty();
  if (!busy_) return;
  auto next = std::move(waiting_.front());
  waiting_.pop_front();
  next();
}

}  // namespace weighlink::agent
