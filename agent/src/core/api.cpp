#include "weighlink/agent/api.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <memory>
#include <random>

#include "core/api_common.hpp"
#include "random_id.hpp"
#include "weighlink/agent/cors.hpp"
#include "weighlink/agent/page.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/base/log_text.hpp"
#include "weighlink/record/exact_json.hpp"
#include "weighlink/record/mutation_rules.hpp"

namespace weighlink::agent {
namespace json = boost::json;
using namespace api;

namespace {

std::string new_correlation_id() { return detail::random_id(); }

}  // namespace

HttpResponse error_response(int status, const std::string& code, const std::string& message,
                            const std::string& correlation_id) {
  auto r = json_response(
      status,
      json::object{{"error", code}, {"message", message}, {"correlation_id", correlation_id}});
  r.headers.emplace_back("X-Correlation-Id", correlation_id);
  return r;
}

Api::Api(ApiContext context) : ctx_(std::move(context)) {}

std::optional<HttpResponse> Api::refuse(const HttpRequest& request, std::string_view surface) {
  return refuse(request, surface, new_correlation_id());
}

std::optional<HttpResponse> Api::refuse(const HttpRequest& request, std::string_view surface,
                                        const std::string& correlation_id) {
  const auto host = request.header("host");
  if (!host_allowed(host, ctx_.security)) {
    return error_response(
        421, "host_not_allowed",
        "Host '" + host + "' is not a local name; use localhost or add it to allowed_hosts",
        correlation_id);
  }
  const auto origin = request.header("origin");
  if (origin.empty() || is_own_origin(origin, host)) return std::nullopt;
  const auto shown = base::log_safe(origin, 120);
  if (!ctx_.pairing) {
    if (origin_allowed(origin, host, ctx_.security)) return std::nullopt;
    return error_response(403, "origin_not_allowed",
                          "Origin '" + shown +
                              "' is not in allowed_origins of the agent's "
                              "configuration",
                          correlation_id);
  }
  const auto normalized = normalize_origin(origin);
  if (!normalized) {
    return error_response(
        403, "origin_invalid",
        "Origin '" + shown + "' cannot use this station: " + normalized.error().message,
        correlation_id);
  }
  switch (ctx_.pairing->check(*normalized)) {
    case OriginVerdict::allowed:
      return std::nullopt;
    case OriginVerdict::denied:
      return error_response(403, "origin_denied",
                            "Origin '" + *normalized +
                                "' was denied by this station's operator; they can undo it on "
                                "the agent's page or with `weighlink-agent origins revoke " +
                                *normalized + "`",
                            correlation_id);
    case OriginVerdict::unknown:
      break;
  }
  ctx_.pairing->note_refused(*normalized, surface, to_ms(ctx_.clock->now()));
  return error_response(403, "origin_not_allowed",
                        "Origin '" + *normalized +
                            "' is not paired with this station yet: the operator allows it on "
                            "the agent's page (http://" +
                            base::log_safe(host, 80) +
                            "/) or with `weighlink-agent origins allow " + *normalized +
                            "`; then retry",
                        correlation_id);
}

void Api::handle(const HttpRequest& request, Respond respond) {
  const auto correlation_id = new_correlation_id();
  if (auto refusal = refuse(request, "api", correlation_id)) {
    spdlog::warn("[{}] refused {} {}: {}", correlation_id, base::log_safe(request.method),
                 base::log_safe(request.target), refusal->body);
    respond(std::move(*refusal));
    return;
  }
  const auto origin = request.header("origin");
  // Every answer carries the correlation id, and CORS headers for an allowed browser origin.
  // Origin pairing is for the agent's own page (same origin, no CORS needed): no CORS header
  // ever lets another site read or preflight it.
  const bool pairing_route = request.target.starts_with("/v1/origins");
  auto finish = [respond = std::move(respond), correlation_id, origin,
                 cors = !pairing_route](HttpResponse r) {
    bool has_id = false;
    bool has_cors = false;
    for (const auto& h : r.headers) {
      has_id = has_id || h.first == "X-Correlation-Id";
      has_cors = has_cors || h.first == "Access-Control-Allow-Origin";
    }
    if (!has_id) r.headers.emplace_back("X-Correlation-Id", correlation_id);
    if (cors && !has_cors) add_cors_headers(r, origin, api_cors());
    respond(std::move(r));
  };

  auto url = boost::urls::parse_origin_form(request.target);
  if (!url) {
    finish(error_response(400, "bad_target", "request target is not a valid path", correlation_id));
    return;
  }
  const std::string path = url->path();
  const auto& m = request.method;

  if (m == "OPTIONS" && !pairing_route) {
    // CORS preflight: only reached for allowed origins (refuse() stopped the others).
    finish(origin.empty() ? HttpResponse{204, "", "", {{"Allow", "GET, POST, DELETE, OPTIONS"}}}
                          : cors_preflight(request, origin, api_cors()));
    return;
  }
  if (m == "GET" && path == "/") {
    HttpResponse r;
    r.content_type = "text/html; charset=utf-8";
    r.body = std::string(operator_page_html());
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; style-src 'unsafe-inline'; "
                           "script-src 'unsafe-inline'; connect-src 'self'");
    finish(std::move(r));
    return;
  }
  if (m == "GET" && path == "/healthz") {
    finish(json_response(200, json::object{{"status", "ok"}}));
    return;
  }
  if (m == "GET" && path == "/readyz") {
    json::array reasons;
    if (ctx_.compat_ports) {
      for (const auto& p : *ctx_.compat_ports) {
        if (!p.listening.empty()) continue;
        reasons.push_back(json::string(p.key + " " + p.address + " is not listening (" + p.error +
                                       "); the agent retries binding it"));
      }
    }
    if (reasons.empty()) {
      finish(json_response(200, json::object{{"status", "ready"}}));
    } else {
      finish(json_response(503, json::object{{"status", "not_ready"}, {"reasons", reasons}}));
    }
    return;
  }
  if (m == "GET" && path == "/metrics") {
    finish(metrics());
    return;
  }
  if (m == "GET" && path == "/v1/status") {
    finish(json_response(200, status()));
    return;
  }
  constexpr std::string_view kOrigins = "/v1/origins";
  if (path == kOrigins || (path.starts_with(kOrigins) && path[kOrigins.size()] == '/')) {
    origins(request, path.substr(std::min(path.size(), kOrigins.size() + 1)), correlation_id,
            std::move(finish));
    return;
  }
  if (m == "GET" && path == "/v1/outbox") {
    get_outbox(request, correlation_id, std::move(finish));
    return;
  }
  if (m == "POST" && path == "/v1/mutations") {
    post_mutation(request, correlation_id, std::move(finish));
    return;
  }
  if (m == "POST" && path == "/v1/captures") {
    post_capture(request, correlation_id, std::move(finish));
    return;
  }
  constexpr std::string_view kAxlePrefix = "/v1/axle-sessions/";
  if (path.starts_with(kAxlePrefix) && path.size() > kAxlePrefix.size()) {
    // /v1/axle-sessions/{scale}[/{action}]
    const auto rest = path.substr(kAxlePrefix.size());
    const auto slash = rest.find('/');
    axle_session(request, rest.substr(0, slash),
                 slash == std::string::npos ? std::string() : rest.substr(slash + 1),
                 correlation_id, std::move(finish));
    return;
  }
  constexpr std::string_view kOutboxPrefix = "/v1/outbox/";
  constexpr std::string_view kRetrySuffix = "/retry";
  constexpr std::string_view kDiscardSuffix = "/discard";
  if (m == "POST" && path.starts_with(kOutboxPrefix) && path.ends_with(kRetrySuffix) &&
      path.size() > kOutboxPrefix.size() + kRetrySuffix.size()) {
    retry_outbox(
        path.substr(kOutboxPrefix.size(), path.size() - kOutboxPrefix.size() - kRetrySuffix.size()),
        correlation_id, std::move(finish));
    return;
  }
  if (m == "POST" && path.starts_with(kOutboxPrefix) && path.ends_with(kDiscardSuffix) &&
      path.size() > kOutboxPrefix.size() + kDiscardSuffix.size()) {
    discard_outbox(request,
                   path.substr(kOutboxPrefix.size(),
                               path.size() - kOutboxPrefix.size() - kDiscardSuffix.size()),
                   correlation_id, std::move(finish));
    return;
  }
  for (auto* group : ctx_.routes) {
    Respond respond_group = finish;
    if (group->handle(request, path, correlation_id, respond_group)) return;
  }
  const bool known = path == "/" || path == "/healthz" || path == "/readyz" || path == "/metrics" ||
                     path.starts_with("/v1/");
  if (known) {
    finish(error_response(405, "method_not_allowed", m + " is not allowed on " + path,
                          correlation_id));
  } else {
    finish(error_response(404, "not_found", "no such resource: " + path, correlation_id));
  }
}

void Api::post_mutation(const HttpRequest& request, const std::string& correlation_id,
                        Respond respond) {
  const auto key = request.header("idempotency-key");
  if (key.empty()) {
    respond(error_response(400, "idempotency_key_missing",
                           "the Idempotency-Key header is required: send a unique key per "
                           "mutation and reuse it when you retry",
                           correlation_id));
    return;
  }
  if (!valid_key(key)) {
    respond(error_response(400, "idempotency_key_invalid",
                           "Idempotency-Key must be 1 to 255 visible ASCII characters",
                           correlation_id));
    return;
  }
  if (!is_json(request)) {
    respond(error_response(415, "unsupported_media_type",
                           "send the mutation as Content-Type: application/json", correlation_id));
    return;
  }
  auto parsed = record::parse_exact(request.body, kBodyJsonLimits);
  if (parsed.refusal) return respond(json_refused(*parsed.refusal, correlation_id));
  const auto& body = parsed.value;
  if (!record::is_json_object(body)) {
    respond(error_response(400, "invalid_json",
                           "the body must be a JSON object {\"kind\":...,\"payload\":{...}}",
                           correlation_id));
    return;
  }
  const auto& o = body.as_object();
  const auto* kind = o.if_contains("kind");
  const auto* payload = o.if_contains("payload");
  if (!kind || !kind->is_string() || record::check_kind(kind->as_string())) {
    respond(error_response(400, "invalid_kind",
                           "\"kind\" must be a string of lower-case letters, digits, '.', '_' or "
                           "'-', e.g. \"transaction.created\"",
                           correlation_id));
    return;
  }
  if (record::is_reserved_kind(kind->as_string())) {
    // A weighing has a reading, its raw frame and its seq behind it: only the capture path
    // (POST /v1/captures, axle sessions, TruConnect) makes one.
    respond(error_response(422, "reserved_kind",
                           "kind \"" + std::string(kind->as_string()) +
                               "\" is made by the agent itself (weighing.* and weighlink.* "
                               "kinds); record a weighing with POST /v1/captures or an axle "
                               "session",
                           correlation_id));
    return;
  }
  if (!payload || !record::is_json_object(*payload)) {
    respond(error_response(400, "invalid_payload", "\"payload\" must be a JSON object",
                           correlation_id));
    return;
  }
  sync::NewMutation mutation;
  mutation.idempotency_key = key;
  mutation.kind = std::string(kind->as_string());
  mutation.payload_json = record::serialize_exact(*payload);
  // The backend checks the same rules (mutation_rules.hpp): what is accepted here is never
  // refused there for its form.
  if (auto refusal = record::check_payload_json(mutation.payload_json)) {
    respond(error_response(refusal->code == "payload_too_large" ? 413 : 400, refusal->code,
                           refusal->message, correlation_id));
    return;
  }
  mutation.request_hash = canonical_hash("POST /v1/mutations", body);
  mutation.created_at_ms = to_ms(ctx_.clock->now());
  if (held_keys_.contains(key)) return respond(key_in_progress(key, correlation_id));
  spdlog::info("[{}] mutation {} key {} received", correlation_id, mutation.kind, key);
  auto hash = mutation.request_hash;
  ctx_.outbox->enqueue(std::move(mutation), [post = ctx_.post, respond = std::move(respond), hash,
                                             correlation_id](sync::EnqueueResult result) mutable {
    post([respond = std::move(respond), result = std::move(result), hash, correlation_id] {
      if (result.status == sync::EnqueueStatus::accepted) {
        spdlog::info("[{}] key {} queued as seq {}", correlation_id, result.row.idempotency_key,
                     result.row.seq);
      }
      respond(enqueue_response(result, hash, correlation_id));
    });
  });
}

void Api::post_capture(const HttpRequest& request, const std::string& correlation_id,
                       Respond respond) {
  json::value body;
  if (auto refusal = check_capture_request(request, correlation_id, body)) {
    return respond(std::move(*refusal));
  }
  const auto& o = body.as_object();
  CaptureRequest req;
  req.idempotency_key = request.header("idempotency-key");
  req.scale_id = ctx_.live->scales().empty() ? "main" : ctx_.live->scales().front().id;
  req.timeout = ctx_.capture_timeout;
  std::optional<HttpResponse> error;
  if (!optional_string(o, "scale", req.scale_id, error, correlation_id) ||
      !optional_string(o, "operator", req.operator_id, error, correlation_id) ||
      !optional_timeout(o, req.timeout, error, correlation_id)) {
    return respond(std::move(*error));
  }
  if (!optional_reference(o, req.reference, error, correlation_id)) {
    return respond(std::move(*error));
  }
  if (!ctx_.captures->has_scale(req.scale_id)) {
    const auto e = unknown_scale(req.scale_id);
    return respond(error_response(e.status, e.code, e.message, correlation_id));
  }
  req.request_hash = canonical_hash("POST /v1/captures", body);
  // A retried capture must answer with the weighing it already captured, not a new weight.
  if (auto existing = ctx_.outbox->find(req.idempotency_key)) {
    return respond(replay_or_conflict(*existing, req.request_hash, correlation_id));
  }
  if (auto busy = hold_key(req.idempotency_key, correlation_id)) return respond(std::move(*busy));
  spdlog::info("[{}] capture requested on scale {} key {}", correlation_id, req.scale_id,
               req.idempotency_key);
  auto hash = req.request_hash;
  auto key = req.idempotency_key;
  ctx_.captures->capture(std::move(req), [this, key = std::move(key), respond = std::move(respond),
                                          hash, correlation_id](CaptureOutcome outcome) {
    release_key(key);
    if (outcome.error) {
      spdlog::info("[{}] capture refused: {}", correlation_id, outcome.error->code);
    }
    respond(capture_response(outcome, hash, correlation_id));
  });
}

std::optional<HttpResponse> Api::hold_key(const std::string& key,
                                          const std::string& correlation_id) {
  if (held_keys_.insert(key).second) return std::nullopt;
  return key_in_progress(key, correlation_id);
}

void Api::origins(const HttpRequest& request, const std::string& action,
                  const std::string& correlation_id, const Respond& respond) {
  const auto origin = request.header("origin");
  if (!origin.empty() && !is_own_origin(origin, request.header("host"))) {
    // A paired web app uses the scale; it never decides which sites may.
    return respond(error_response(403, "origin_cannot_decide",
                                  "only the agent's own page or a local program (such as "
                                  "`weighlink-agent origins`) may see or change origin pairing",
                                  correlation_id));
  }
  if (!ctx_.pairing) {
    return respond(error_response(503, "pairing_unavailable",
                                  "origin pairing is not available on this agent", correlation_id));
  }
  const bool known = action.empty() || action == "allow" || action == "deny" || action == "revoke";
  if (!known) {
    return respond(error_response(404, "not_found",
                                  "origin pairing: GET /v1/origins, POST /v1/origins/allow, "
                                  "/v1/origins/deny or /v1/origins/revoke",
                                  correlation_id));
  }
  if (action.empty()) {
    if (request.method != "GET") {
      return respond(
          error_response(405, "method_not_allowed", "use GET /v1/origins", correlation_id));
    }
    return respond(json_response(200, ctx_.pairing->registry().to_json()));
  }
  if (request.method != "POST") {
    return respond(error_response(405, "method_not_allowed",
                                  "use POST /v1/origins/" + action + " with {\"origin\":\"...\"}",
                                  correlation_id));
  }
  // JSON only: a cross-site form or simple request cannot send it without a preflight.
  if (!is_json(request)) {
    return respond(error_response(
        415, "unsupported_media_type",
        "send {\"origin\":\"https://...\"} as Content-Type: application/json", correlation_id));
  }
  auto parsed = record::parse_exact(request.body, kBodyJsonLimits);
  if (parsed.refusal) return respond(json_refused(*parsed.refusal, correlation_id));
  const auto* text = record::is_json_object(parsed.value)
                         ? parsed.value.as_object().if_contains("origin")
                         : nullptr;
  if (!text || !text->is_string()) {
    return respond(error_response(400, "invalid_origin",
                                  "the body must be {\"origin\":\"https://host[:port]\"}",
                                  correlation_id));
  }
  const auto normalized = normalize_origin(text->as_string());
  if (!normalized) {
    return respond(
        error_response(400, "invalid_origin", normalized.error().message, correlation_id));
  }
  if (auto failure = ctx_.pairing->decide(action, *normalized, to_ms(ctx_.clock->now()))) {
    return respond(
        error_response(failure->status, failure->code, failure->message, correlation_id));
  }
  auto body = ctx_.pairing->registry().to_json();
  body["origin"] = *normalized;
  body["action"] = action;
  respond(json_response(200, body));
}

}  // namespace weighlink::agent
