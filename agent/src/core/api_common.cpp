#include "core/api_common.hpp"

#include <boost/json.hpp>

#include "weighlink/base/hash.hpp"

namespace weighlink::agent::api {
namespace json = boost::json;

namespace {

json::object accepted_body(const sync::OutboxRow& row) {
  json::object body{
      {"idempotency_key", row.idempotency_key}, {"seq", row.seq}, {"state", "queued"}};
  if (row.kind == "weighing.captured") body["weighing"] = parse_payload(row.payload_json);
  return body;
}

}  // namespace

// Bodies may hold a client's exact numbers (sync/exact_json.hpp): always written back verbatim.
HttpResponse json_response(int status, const json::value& body) {
  HttpResponse r;
  r.status = status;
  r.body = record::serialize_exact(body);
  return r;
}

// An Idempotency-Key is 1..255 visible ASCII characters (IETF draft: a string, unique per request).
bool valid_key(const std::string& key) { return !record::check_key(key); }

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

// A stored payload as JSON, its numbers as they were written.
// A payload an older agent stored that the exact reader refuses (a double written as 1.5E22) is
// shown as Boost.JSON reads it.
json::value parse_payload(const std::string& text) {
  auto parsed = record::parse_exact(text, kBodyJsonLimits);
  if (!parsed.refusal) return std::move(parsed.value);
  json::error_code ec;
  auto v = json::parse(text, ec);
  return ec ? json::value(nullptr) : v;
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
    case sync::EnqueueStatus::readback_failed:
      return error_response(500, "record_readback_failed", result.message, correlation_id);
    case sync::EnqueueStatus::failed:
      break;
  }
  return error_response(500, "outbox_error", result.message, correlation_id);
}

// Two bodies that differ only in member order or whitespace are the same request; two that
// differ in any digit never are (the numbers are exact).
std::string canonical_hash(std::string_view route, const json::value& body) {
  return base::sha256_hex(std::string(route) + "\n" + record::canonical_exact(body));
}

HttpResponse json_refused(const record::JsonRefusal& refusal, const std::string& correlation_id) {
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
      record::parse_exact(request.body.empty() ? std::string("{}") : request.body, kBodyJsonLimits);
  if (parsed.refusal) return json_refused(*parsed.refusal, correlation_id);
  body = std::move(parsed.value);
  if (!record::is_json_object(body)) {
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
    if (!v->is_string() || record::check_short_text(name, v->as_string())) {
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
constexpr std::size_t kMaxReferenceBytes = std::size_t{16} * 1024;
bool optional_reference(const json::object& o, json::object& out,
                        std::optional<HttpResponse>& error, const std::string& correlation_id) {
  const auto* ref = o.if_contains("reference");
  if (!ref) return true;
  if (!record::is_json_object(*ref)) {
    error =
        error_response(400, "invalid_reference",
                       "\"reference\" must be a JSON object (plate, ticket, ...)", correlation_id);
    return false;
  }
  if (record::serialize_exact(*ref).size() > kMaxReferenceBytes) {
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
    const auto ms = record::exact_int64(*t);
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

}  // namespace weighlink::agent::api
