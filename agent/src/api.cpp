#include "weighlink/agent/api.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <memory>
#include <random>

#include "random_id.hpp"
#include "weighlink/agent/cors.hpp"
#include "weighlink/agent/page.hpp"
#include "weighlink/sync/exact_json.hpp"
#include "weighlink/sync/hash.hpp"
#include "weighlink/sync/log_text.hpp"
#include "weighlink/sync/mutation_rules.hpp"

namespace weighlink::agent {
namespace json = boost::json;

namespace {

std::string new_correlation_id() { return detail::random_id(); }

// Bodies may hold a client's exact numbers (sync/exact_json.hpp): always written back verbatim.
HttpResponse json_response(int status, const json::value& body) {
  HttpResponse r;
  r.status = status;
  r.body = sync::serialize_exact(body);
  return r;
}

// An Idempotency-Key is 1..255 visible ASCII characters (IETF draft: a string, unique per request).
bool valid_key(const std::string& key) { return !sync::check_key(key); }

// application/json, in any case, alone or with parameters ("application/json; charset=utf-8");
// never a type that merely starts with it ("application/jsonx").
bool is_json(const HttpRequest& request) {
  const auto ct = request.header("content-type");
  const auto end = ct.find(';');
  std::string type = ct.substr(0, end);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type == "application/json";
}

// A request body read exactly: every number kept as the client wrote it, or refused (400 with
// the refusal's code). The body nests one level above the payload it carries.
constexpr sync::JsonLimits kBodyJsonLimits{sync::kPayloadJsonLimits.max_depth + 1,
                                           sync::kPayloadJsonLimits.max_number_digits};

// A stored payload as JSON, its numbers as they were written.
// A payload an older agent stored that the exact reader refuses (a double written as 1.5E22) is
// shown as Boost.JSON reads it.
json::value parse_payload(const std::string& text) {
  auto parsed = sync::parse_exact(text, kBodyJsonLimits);
  if (!parsed.refusal) return std::move(parsed.value);
  json::error_code ec;
  auto v = json::parse(text, ec);
  return ec ? json::value(nullptr) : v;
}

json::object accepted_body(const sync::OutboxRow& row) {
  json::object body{
      {"idempotency_key", row.idempotency_key}, {"seq", row.seq}, {"state", "queued"}};
  if (row.kind == "weighing.captured") body["weighing"] = parse_payload(row.payload_json);
  return body;
}

// The answer to a request whose key is already in the outbox: the original answer, or 422.
HttpResponse replay_or_conflict(const sync::OutboxRow& row, const std::string& request_hash,
                                const std::string& correlation_id) {
  if (row.request_hash != request_hash) {
    return error_response(422, "idempotency_key_reused",
                          "Idempotency-Key '" + row.idempotency_key +
                              "' was already used for a different request; send a new key for "
                              "a new request",
                          correlation_id);
  }
  auto r = json_response(200, accepted_body(row));
  r.headers.emplace_back("Idempotent-Replayed", "true");
  return r;
}

HttpResponse enqueue_response(const sync::EnqueueResult& result, const std::string& request_hash,
                              const std::string& correlation_id) {
  switch (result.status) {
    case sync::EnqueueStatus::accepted:
      return json_response(202, accepted_body(result.row));
    case sync::EnqueueStatus::replayed:
    case sync::EnqueueStatus::key_reused:
      return replay_or_conflict(result.row, request_hash, correlation_id);
    case sync::EnqueueStatus::in_progress:
      return error_response(409, "idempotency_key_in_progress",
                            "a request with this Idempotency-Key is still being processed; retry "
                            "shortly with the same key",
                            correlation_id);
    case sync::EnqueueStatus::full:
      return error_response(507, "outbox_full", result.message, correlation_id);
    case sync::EnqueueStatus::failed:
      break;
  }
  return error_response(500, "outbox_error", result.message, correlation_id);
}

// Two bodies that differ only in member order or whitespace are the same request; two that
// differ in any digit never are (the numbers are exact).
std::string canonical_hash(std::string_view route, const json::value& body) {
  return sync::sha256_hex(std::string(route) + "\n" + sync::canonical_exact(body));
}

HttpResponse json_refused(const sync::JsonRefusal& refusal, const std::string& correlation_id) {
  return error_response(400, refusal.code, "the body was refused: " + refusal.message,
                        correlation_id);
}

// 409 for a key whose first request is still waiting for its reading or the outbox.
HttpResponse key_in_progress(const std::string& key, const std::string& correlation_id) {
  return error_response(409, "idempotency_key_in_progress",
                        "a request with Idempotency-Key '" + key +
                            "' is still being processed; retry with the same key once it has "
                            "been answered",
                        correlation_id);
}

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
  const auto shown = sync::log_safe(origin, 120);
  if (!ctx_.pairing) {
    if (origin_allowed(origin, host, ctx_.security)) return std::nullopt;
    return error_response(403, "origin_not_allowed",
                          "Origin '" + shown +
                              "' is not in allowed_origins of the agent's "
                              "configuration",
                          correlation_id);
  }
  std::string why;
  const auto normalized = normalize_origin(origin, &why);
  if (!normalized) {
    return error_response(403, "origin_invalid",
                          "Origin '" + shown + "' cannot use this station: " + why, correlation_id);
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
                            sync::log_safe(host, 80) +
                            "/) or with `weighlink-agent origins allow " + *normalized +
                            "`; then retry",
                        correlation_id);
}

void Api::handle(const HttpRequest& request, Respond respond) {
  const auto correlation_id = new_correlation_id();
  if (auto refusal = refuse(request, "api", correlation_id)) {
    spdlog::warn("[{}] refused {} {}: {}", correlation_id, sync::log_safe(request.method),
                 sync::log_safe(request.target), refusal->body);
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
  auto parsed = sync::parse_exact(request.body, kBodyJsonLimits);
  if (parsed.refusal) return respond(json_refused(*parsed.refusal, correlation_id));
  const auto& body = parsed.value;
  if (!sync::is_json_object(body)) {
    respond(error_response(400, "invalid_json",
                           "the body must be a JSON object {\"kind\":...,\"payload\":{...}}",
                           correlation_id));
    return;
  }
  const auto& o = body.as_object();
  const auto* kind = o.if_contains("kind");
  const auto* payload = o.if_contains("payload");
  if (!kind || !kind->is_string() || sync::check_kind(kind->as_string())) {
    respond(error_response(400, "invalid_kind",
                           "\"kind\" must be a string of lower-case letters, digits, '.', '_' or "
                           "'-', e.g. \"transaction.created\"",
                           correlation_id));
    return;
  }
  if (sync::is_reserved_kind(kind->as_string())) {
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
  if (!payload || !sync::is_json_object(*payload)) {
    respond(error_response(400, "invalid_payload", "\"payload\" must be a JSON object",
                           correlation_id));
    return;
  }
  sync::NewMutation mutation;
  mutation.idempotency_key = key;
  mutation.kind = std::string(kind->as_string());
  mutation.payload_json = sync::serialize_exact(*payload);
  // The backend checks the same rules (mutation_rules.hpp): what is accepted here is never
  // refused there for its form.
  if (auto refusal = sync::check_payload_json(mutation.payload_json)) {
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

namespace {

// Idempotency-Key, JSON content type and a JSON object body (empty body = {}), the checks
// every capture-like request shares. A response when the request must be refused.
std::optional<HttpResponse> check_capture_request(const HttpRequest& request,
                                                  const std::string& correlation_id,
                                                  json::value& body) {
  const auto key = request.header("idempotency-key");
  if (key.empty() || !valid_key(key)) {
    return error_response(400, key.empty() ? "idempotency_key_missing" : "idempotency_key_invalid",
                          "the Idempotency-Key header (1 to 255 visible ASCII characters) is "
                          "required: reuse it when you retry, so a capture is never doubled",
                          correlation_id);
  }
  if (!request.body.empty() && !is_json(request)) {
    return error_response(415, "unsupported_media_type",
                          "send the request as Content-Type: application/json", correlation_id);
  }
  auto parsed =
      sync::parse_exact(request.body.empty() ? std::string("{}") : request.body, kBodyJsonLimits);
  if (parsed.refusal) return json_refused(*parsed.refusal, correlation_id);
  body = std::move(parsed.value);
  if (!sync::is_json_object(body)) {
    return error_response(400, "invalid_json",
                          "the body must be a JSON object like {\"scale\":\"main\","
                          "\"operator\":\"jdoe\"}",
                          correlation_id);
  }
  return std::nullopt;
}

// An optional string field; false (with `error` set) when present and not a string.
bool optional_string(const json::object& o, const char* name, std::string& out,
                     std::optional<HttpResponse>& error, const std::string& correlation_id) {
  if (const auto* v = o.if_contains(name)) {
    if (!v->is_string() || sync::check_short_text(name, v->as_string())) {
      error = error_response(400, std::string("invalid_") + name,
                             std::string("\"") + name +
                                 "\" must be a string of at most 200 bytes with no control "
                                 "characters",
                             correlation_id);
      return false;
    }
    out = std::string(v->as_string());
  }
  return true;
}

// The capture's "reference" (plate, ticket, ...): a JSON object of at most kMaxReferenceBytes,
// so that the weighing it goes into stays within the payload limit the backend checks.
constexpr std::size_t kMaxReferenceBytes = 16 * 1024;
bool optional_reference(const json::object& o, json::object& out,
                        std::optional<HttpResponse>& error, const std::string& correlation_id) {
  const auto* ref = o.if_contains("reference");
  if (!ref) return true;
  if (!sync::is_json_object(*ref)) {
    error =
        error_response(400, "invalid_reference",
                       "\"reference\" must be a JSON object (plate, ticket, ...)", correlation_id);
    return false;
  }
  if (sync::serialize_exact(*ref).size() > kMaxReferenceBytes) {
    error = error_response(
        400, "reference_too_large",
        "\"reference\" must be at most " + std::to_string(kMaxReferenceBytes) + " bytes of JSON",
        correlation_id);
    return false;
  }
  out = ref->as_object();
  return true;
}

bool optional_timeout(const json::object& o, std::chrono::milliseconds& out,
                      std::optional<HttpResponse>& error, const std::string& correlation_id) {
  if (const auto* t = o.if_contains("timeout_ms")) {
    const auto ms = sync::exact_int64(*t);
    if (!ms || *ms < 0 || *ms > 60'000) {
      error =
          error_response(400, "invalid_timeout", "\"timeout_ms\" must be 0..60000", correlation_id);
      return false;
    }
    out = std::chrono::milliseconds(*ms);
  }
  return true;
}

HttpResponse capture_response(const CaptureOutcome& outcome, const std::string& request_hash,
                              const std::string& correlation_id) {
  if (outcome.error) {
    return error_response(outcome.error->status, outcome.error->code, outcome.error->message,
                          correlation_id);
  }
  return enqueue_response(outcome.enqueued, request_hash, correlation_id);
}

}  // namespace

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
    auto parsed =
        sync::parse_exact(request.body.empty() ? std::string("{}") : request.body, kBodyJsonLimits);
    const auto& body = parsed.value;
    if (parsed.refusal || !sync::is_json_object(body)) {
      return respond(error_response(400, "invalid_json",
                                    "the body must be a JSON object like {\"expected_axles\":3}",
                                    correlation_id));
    }
    int expected = 0;
    bool restart = false;
    if (const auto* n = body.as_object().if_contains("expected_axles")) {
      const auto axles = sync::exact_int64(*n);
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
                                             correlation_id](CaptureOutcome outcome) {
    release_key(key);
    respond(capture_response(outcome, hash, correlation_id));
  });
}

std::optional<HttpResponse> Api::hold_key(const std::string& key,
                                          const std::string& correlation_id) {
  if (held_keys_.insert(key).second) return std::nullopt;
  return key_in_progress(key, correlation_id);
}

void Api::origins(const HttpRequest& request, const std::string& action,
                  const std::string& correlation_id, Respond respond) {
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
  auto parsed = sync::parse_exact(request.body, kBodyJsonLimits);
  if (parsed.refusal) return respond(json_refused(*parsed.refusal, correlation_id));
  const auto* text =
      sync::is_json_object(parsed.value) ? parsed.value.as_object().if_contains("origin") : nullptr;
  if (!text || !text->is_string()) {
    return respond(error_response(400, "invalid_origin",
                                  "the body must be {\"origin\":\"https://host[:port]\"}",
                                  correlation_id));
  }
  std::string why;
  const auto normalized = normalize_origin(text->as_string(), &why);
  if (!normalized) return respond(error_response(400, "invalid_origin", why, correlation_id));
  if (auto failure = ctx_.pairing->decide(action, *normalized, to_ms(ctx_.clock->now()))) {
    return respond(
        error_response(failure->status, failure->code, failure->message, correlation_id));
  }
  auto body = ctx_.pairing->registry().to_json();
  body["origin"] = *normalized;
  body["action"] = action;
  respond(json_response(200, body));
}

void Api::get_outbox(const HttpRequest& request, const std::string& correlation_id,
                     Respond respond) {
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

void Api::retry_outbox(const std::string& key, const std::string& correlation_id, Respond respond) {
  auto r = ctx_.outbox->retry_dead(key);
  if (!r) {
    respond(error_response(500, "outbox_error", r.error().message(), correlation_id));
  } else if (!*r) {
    respond(error_response(404, "not_dead", "no dead mutation has the key '" + key + "'",
                           correlation_id));
  } else {
    spdlog::info("[{}] dead mutation {} released for retry", correlation_id, sync::log_safe(key));
    if (ctx_.replay) ctx_.replay->notify();
    respond(json_response(200, json::object{{"idempotency_key", key}, {"state", "pending"}}));
  }
}

// Ends a dead letter for good, with a reason: {"reason":"..."} (JSON, like every mutation-like
// request, so a browser needs CORS preflight).
void Api::discard_outbox(const HttpRequest& request, const std::string& key,
                         const std::string& correlation_id, Respond respond) {
  if (!is_json(request)) {
    return respond(error_response(415, "unsupported_media_type",
                                  "send {\"reason\":\"...\"} as Content-Type: application/json",
                                  correlation_id));
  }
  auto parsed = sync::parse_exact(request.body, kBodyJsonLimits);
  if (parsed.refusal) return respond(json_refused(*parsed.refusal, correlation_id));
  const auto* reason =
      sync::is_json_object(parsed.value) ? parsed.value.as_object().if_contains("reason") : nullptr;
  if (!reason || !reason->is_string() || reason->as_string().empty() ||
      sync::check_short_text("reason", reason->as_string())) {
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
  spdlog::warn("[{}] dead mutation {} discarded for good: {}", correlation_id, sync::log_safe(key),
               sync::log_safe(reason->as_string()));
  respond(json_response(200, json::object{{"idempotency_key", key},
                                          {"state", "discarded"},
                                          {"discard_reason", reason->as_string()}}));
}

json::object Api::status() const {
  const auto now = ctx_.clock->now();
  json::array scales;
  for (const auto& s : ctx_.live->scales()) {
    json::object o{{"id", s.id},
                   {"protocol", s.protocol},
                   {"connected", s.connected},
                   {"detail", s.detail},
                   {"stale", !s.latest || s.latest->stale},
                   {"readings", s.readings}};
    if (s.latest) o["last_reading_ts"] = scale::format_timestamp(s.latest->ts);
    scales.push_back(std::move(o));
  }
  const auto stats = ctx_.outbox->stats();
  json::object outbox{
      {"pending", stats.pending},   {"acknowledged", stats.acknowledged},
      {"dead", stats.dead},         {"discarded", stats.discarded},
      {"last_seq", stats.last_seq}, {"rows", stats.rows},
      {"max_rows", stats.max_rows}, {"pruned_through_seq", stats.pruned_through_seq},
      {"full", stats.full}};
  if (stats.full) outbox["full_reason"] = stats.full_reason;
  if (stats.oldest_pending_created_at_ms) {
    outbox["oldest_pending_age_s"] =
        std::max<std::int64_t>(0, (to_ms(now) - *stats.oldest_pending_created_at_ms) / 1000);
  } else {
    outbox["oldest_pending_age_s"] = nullptr;
  }
  json::object uplink;
  if (ctx_.replay) {
    const auto u = ctx_.replay->status();
    uplink = {{"state", sync::to_string(u.state)},
              {"backend", u.backend},
              {"last_error", u.last_error},
              {"high_water_seq", u.high_water_seq},
              {"durable_seq", u.durable_seq},
              {"generation", u.generation},
              {"consecutive_failures", u.consecutive_failures},
              {"in_flight", u.in_flight},
              {"batch_size", u.batch_size},
              {"stuck", u.stuck},
              {"withheld", u.withheld},
              {"transport", ctx_.uplink_transport},
              {"plaintext_remote", ctx_.uplink_plaintext_remote}};
    uplink["last_sync"] =
        u.last_sync_ms ? json::value(scale::format_timestamp(std::chrono::system_clock::time_point(
                             std::chrono::milliseconds(*u.last_sync_ms))))
                       : json::value(nullptr);
  } else {
    uplink = {{"state", "disabled"}, {"backend", ""}, {"last_sync", nullptr}};
  }
  json::object out{{"station_id", ctx_.station_id},
                   {"agent_version", ctx_.agent_version},
                   {"scales", std::move(scales)},
                   {"uplink", std::move(uplink)},
                   {"outbox", std::move(outbox)},
                   {"axle_sessions", ctx_.captures->sessions_json()},
                   {"app_notices", ctx_.app_notices ? ctx_.app_notices() : json::array{}}};
  if (ctx_.compat_ports && !ctx_.compat_ports->empty()) {
    json::array ports;
    for (const auto& p : *ctx_.compat_ports) {
      ports.push_back(json::object{
          {"key", p.key},
          {"address", p.address},
          {"listening", p.listening.empty() ? json::value(nullptr) : json::value(p.listening)},
          {"error", p.listening.empty() ? json::value(p.error) : json::value(nullptr)}});
    }
    out["compat_ports"] = std::move(ports);
  }
  if (ctx_.pairing) out["origins"] = ctx_.pairing->registry().to_json();
  out["tls"] = ctx_.tls_status ? ctx_.tls_status() : json::object{{"enabled", false}};
  return out;
}

HttpResponse Api::metrics() const {
  const auto stats = ctx_.outbox->stats();
  std::string out;
  auto gauge = [&out](const std::string& name, const std::string& help, const std::string& labels,
                      std::uint64_t value) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n";
    out += name + labels + " " + std::to_string(value) + "\n";
  };
  gauge("weighlink_agent_outbox_pending", "Mutations waiting to be replayed.", "", stats.pending);
  gauge("weighlink_agent_outbox_dead", "Mutations the backend rejected.", "", stats.dead);
  gauge("weighlink_agent_outbox_discarded",
        "Dead mutations an operator discarded for good (kept, never sent again).", "",
        stats.discarded);
  gauge("weighlink_agent_outbox_acknowledged", "Mutations acknowledged and kept.", "",
        stats.acknowledged);
  gauge("weighlink_agent_outbox_commits", "Outbox transactions committed.", "", stats.commits);
  gauge("weighlink_agent_outbox_rows", "Rows held in the outbox (what outbox.max_rows caps).", "",
        stats.rows);
  gauge("weighlink_agent_outbox_max_rows", "The outbox cap (outbox.max_rows).", "", stats.max_rows);
  gauge("weighlink_agent_outbox_full",
        "1 while new mutations are refused with 507 (the outbox cap or the disk is full).", "",
        stats.full ? 1 : 0);
  gauge("weighlink_agent_outbox_pruned_through_seq",
        "Acknowledged rows up to this seq were pruned (held in a verified backend backup).", "",
        stats.pruned_through_seq);
  const auto uplink = ctx_.replay ? ctx_.replay->status() : sync::UplinkStatus{};
  const bool online = uplink.state == sync::UplinkState::online;
  const auto pending_age_s =
      stats.oldest_pending_created_at_ms
          ? static_cast<std::uint64_t>(std::max<std::int64_t>(
                0, (to_ms(ctx_.clock->now()) - *stats.oldest_pending_created_at_ms) / 1000))
          : 0;
  gauge("weighlink_agent_outbox_oldest_pending_age_seconds",
        "Age of the oldest pending mutation (0 when none is pending).", "", pending_age_s);
  gauge("weighlink_agent_outbox_stuck",
        "1 while the oldest pending mutation has waited longer than outbox.alert_pending_after_s.",
        "", uplink.stuck ? 1 : 0);
  gauge("weighlink_agent_outbox_withheld",
        "Mutations withheld since start: the backend failed every call holding one alone.", "",
        uplink.withheld);
  gauge("weighlink_agent_uplink_online", "1 when the backend answers.", "", online ? 1 : 0);
  gauge("weighlink_agent_live_clients", "WebSocket clients connected (live and TruConnect).", "",
        ctx_.live_clients ? ctx_.live_clients() : 0);
  out +=
      "# HELP weighlink_agent_scale_readings Valid readings decoded per scale.\n"
      "# TYPE weighlink_agent_scale_readings counter\n";
  for (const auto& s : ctx_.live->scales()) {
    out += "weighlink_agent_scale_readings{scale=\"" + s.id + "\"} " + std::to_string(s.readings) +
           "\n";
  }
  out +=
      "# HELP weighlink_agent_scale_frames_flagged_total Frames decoded whole but flagged because "
      "their numbers disagree (shown, not dropped), per scale and reason.\n"
      "# TYPE weighlink_agent_scale_frames_flagged_total counter\n";
  for (const auto& s : ctx_.live->scales()) {
    const auto reason = scale::FlagReason::total_mismatch;
    const auto n = ctx_.flagged_frames ? ctx_.flagged_frames(s.id, reason) : 0;
    out += "weighlink_agent_scale_frames_flagged_total{scale=\"" + s.id + "\",reason=\"" +
           std::string(scale::to_string(reason)) + "\"} " + std::to_string(n) + "\n";
  }
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = std::move(out);
  return r;
}

}  // namespace weighlink::agent
