// The axle-session routes of the local API: /v1/axle-sessions/{scale}[/start|axles|complete].
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "core/api_common.hpp"
#include "weighlink/agent/api.hpp"

namespace weighlink::agent {
namespace json = boost::json;
using namespace api;

void Api::axle_session(const HttpRequest& request, const std::string& scale_id,
                       const std::string& action, const std::string& correlation_id,
                       Respond respond) {
  auto& captures = *ctx_.captures;
  auto refused = [&](const CaptureError& e) {
    respond(error_response(e.status, e.code, e.message, correlation_id));
  };
  if (!captures.has_scale(scale_id)) return refused(unknown_scale(scale_id));
  const auto& m = request.method;
  auto session_ok = [&] { respond(json_response(200, captures.session_json(scale_id))); };
  if (action.empty() && m == "GET") return session_ok();
  if (action.empty() && m == "DELETE") {
    if (auto e = captures.reset_session(scale_id)) return refused(*e);
    spdlog::info("[{}] axle session on scale {} reset", correlation_id, scale_id);
    return session_ok();
  }
  const bool known = action == "start" || action == "axles" || action == "complete";
  if (m != "POST" || !known) {
    return respond(error_response(
        known || action.empty() ? 405 : 404,
        known || action.empty() ? "method_not_allowed" : "not_found",
        "axle sessions: GET or DELETE /v1/axle-sessions/{scale}, POST .../start, .../axles, "
        ".../complete",
        correlation_id));
  }
  if (action == "start") {
    auto parsed = record::parse_exact(request.body.empty() ? std::string("{}") : request.body,
                                      kBodyJsonLimits);
    const auto& body = parsed.value;
    if (parsed.refusal || !record::is_json_object(body)) {
      return respond(error_response(400, "invalid_json",
                                    "the body must be a JSON object like {\"expected_axles\":3}",
                                    correlation_id));
    }
    int expected = 0;
    bool restart = false;
    if (const auto* n = body.as_object().if_contains("expected_axles")) {
      const auto axles = record::exact_int64(*n);
      if (!axles || *axles < 0 || *axles > 20) {
        return respond(error_response(400, "invalid_expected_axles",
                                      "\"expected_axles\" must be 0 (not known) to 20",
                                      correlation_id));
      }
      expected = static_cast<int>(*axles);
    }
    if (const auto* r = body.as_object().if_contains("restart")) {
      if (!r->is_bool()) {
        return respond(error_response(400, "invalid_restart", "\"restart\" must be true or false",
                                      correlation_id));
      }
      restart = r->as_bool();
    }
    if (auto e = captures.start_session(scale_id, expected, restart)) return refused(*e);
    return session_ok();
  }
  json::value body;
  if (auto refusal = check_capture_request(request, correlation_id, body)) {
    return respond(std::move(*refusal));
  }
  const auto key = request.header("idempotency-key");
  const auto route = "POST /v1/axle-sessions/" + scale_id + "/" + action;
  const auto hash = canonical_hash(route, body);
  std::optional<HttpResponse> error;
  if (action == "axles") {
    auto timeout = ctx_.capture_timeout;
    if (!optional_timeout(body.as_object(), timeout, error, correlation_id)) {
      return respond(std::move(*error));
    }
    captures.capture_axle(
        scale_id, key, hash, timeout,
        [this, scale_id, correlation_id, respond = std::move(respond)](AxleOutcome outcome) {
          if (outcome.error) {
            return respond(error_response(outcome.error->status, outcome.error->code,
                                          outcome.error->message, correlation_id));
          }
          json::object axle{{"number", outcome.axle.number},
                            {"weight", outcome.axle.weight.to_string()},
                            {"reading", outcome.axle.reading.to_string()},
                            {"reading_seq", outcome.axle.seq},
                            {"captured_at", scale::format_timestamp(outcome.axle.at)}};
          auto r =
              json_response(200, json::object{{"axle", std::move(axle)},
                                              {"session", ctx_.captures->session_json(scale_id)}});
          if (outcome.replayed) r.headers.emplace_back("Idempotent-Replayed", "true");
          respond(std::move(r));
        });
    return;
  }
  CaptureRequest req;
  req.scale_id = scale_id;
  req.idempotency_key = key;
  req.request_hash = hash;
  if (!optional_string(body.as_object(), "operator", req.operator_id, error, correlation_id)) {
    return respond(std::move(*error));
  }
  if (!optional_reference(body.as_object(), req.reference, error, correlation_id)) {
    return respond(std::move(*error));
  }
  if (auto existing = ctx_.outbox->find(key)) {
    return respond(replay_or_conflict(*existing, hash, correlation_id));
  }
  if (auto busy = hold_key(key, correlation_id)) return respond(std::move(*busy));
  captures.complete_session(std::move(req), [this, key, respond = std::move(respond), hash,
                                             correlation_id](const CaptureOutcome& outcome) {
    release_key(key);
    respond(capture_response(outcome, hash, correlation_id));
  });
}

}  // namespace weighlink::agent
