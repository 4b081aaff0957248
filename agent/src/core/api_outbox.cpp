// The outbox routes of the local API: the list, and a dead letter released or discarded.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "core/api_common.hpp"
#include "weighlink/agent/api.hpp"
#include "weighlink/base/log_text.hpp"

namespace weighlink::agent {
namespace json = boost::json;
using namespace api;

void Api::get_outbox(const HttpRequest& request, const std::string& correlation_id,
                     const Respond& respond) {
  auto url = boost::urls::parse_origin_form(request.target);
  std::optional<sync::MutationState> state;
  std::uint64_t after = 0;
  std::size_t limit = 100;
  for (const auto& param : url->params()) {
    if (param.key == "state") {
      state = sync::parse_state(param.value);
      if (!state) {
        respond(error_response(400, "invalid_state",
                               "state must be pending, acknowledged, dead or discarded",
                               correlation_id));
        return;
      }
    } else if (param.key == "limit" || param.key == "after") {
      std::uint64_t v = 0;
      bool ok = !param.value.empty() && param.value.size() <= 18;
      for (char c : param.value) ok = ok && c >= '0' && c <= '9';
      if (ok) v = std::stoull(param.value);
      if (!ok || (param.key == "limit" && (v == 0 || v > 1000))) {
        respond(error_response(
            400, "invalid_" + param.key,
            param.key + " must be a number" + (param.key == "limit" ? " from 1 to 1000" : ""),
            correlation_id));
        return;
      }
      if (param.key == "limit") {
        limit = static_cast<std::size_t>(v);
      } else {
        after = v;
      }
    }
  }
  const auto rows = ctx_.outbox->list(state, after, limit + 1);
  json::array items;
  for (std::size_t i = 0; i < rows.size() && i < limit; ++i) {
    const auto& r = rows[i];
    json::object item{{"idempotency_key", r.idempotency_key},
                      {"seq", r.seq},
                      {"kind", r.kind},
                      {"state", sync::to_string(r.state)},
                      {"created_at_ms", r.created_at_ms},
                      {"attempts", r.attempts},
                      {"last_error", r.last_error},
                      {"outcome", r.outcome},
                      {"payload", parse_payload(r.payload_json)}};
    if (r.state == sync::MutationState::discarded) {
      item["discard_reason"] = r.discard_reason;
      item["discarded_at_ms"] = r.discarded_at_ms;
    }
    items.push_back(std::move(item));
  }
  json::value next = nullptr;
  if (rows.size() > limit) next = rows[limit - 1].seq;
  respond(json_response(200, json::object{{"items", std::move(items)}, {"next_after", next}}));
}

void Api::retry_outbox(const std::string& key, const std::string& correlation_id,
                       const Respond& respond) {
  auto r = ctx_.outbox->retry_dead(key);
  if (!r) {
    respond(error_response(500, "outbox_error", r.error().message(), correlation_id));
  } else if (!*r) {
    respond(error_response(404, "not_dead", "no dead mutation has the key '" + key + "'",
                           correlation_id));
  } else {
    spdlog::info("[{}] dead mutation {} released for retry", correlation_id, base::log_safe(key));
    if (ctx_.replay) ctx_.replay->notify();
    respond(json_response(200, json::object{{"idempotency_key", key}, {"state", "pending"}}));
  }
}

// Ends a dead letter for good, with a reason: {"reason":"..."} (JSON, like every mutation-like
// request, so a browser needs CORS preflight).
void Api::discard_outbox(const HttpRequest& request, const std::string& key,
                         const std::string& correlation_id, const Respond& respond) {
  if (!is_json(request)) {
    return respond(error_response(415, "unsupported_media_type",
                                  "send {\"reason\":\"...\"} as Content-Type: application/json",
                                  correlation_id));
  }
  auto parsed = record::parse_exact(request.body, kBodyJsonLimits);
  if (parsed.refusal) return respond(json_refused(*parsed.refusal, correlation_id));
  const auto* reason = record::is_json_object(parsed.value)
                           ? parsed.value.as_object().if_contains("reason")
                           : nullptr;
  if (!reason || !reason->is_string() || reason->as_string().empty() ||
      record::check_short_text("reason", reason->as_string())) {
    return respond(error_response(400, "invalid_reason",
                                  "say why the mutation is discarded: {\"reason\":\"...\"}, 1 to "
                                  "200 bytes with no control characters",
                                  correlation_id));
  }
  const auto now = to_ms(ctx_.clock->now());
  auto r = ctx_.outbox->discard_dead(key, std::string(reason->as_string()), now);
  if (!r) {
    return respond(error_response(500, "outbox_error", r.error().message(), correlation_id));
  }
  if (!*r) {
    return respond(error_response(404, "not_dead", "no dead mutation has the key '" + key + "'",
                                  correlation_id));
  }
  spdlog::warn("[{}] dead mutation {} discarded for good: {}", correlation_id, base::log_safe(key),
               base::log_safe(reason->as_string()));
  respond(json_response(200, json::object{{"idempotency_key", key},
                                          {"state", "discarded"},
                                          {"discard_reason", reason->as_string()}}));
}

}  // namespace weighlink::agent
