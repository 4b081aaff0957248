#pragma once
// What the local API's routes share (core/api*.cpp): JSON answers, the checks every request body
// passes, the idempotency answers. Pure functions over HttpRequest/HttpResponse.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "weighlink/agent/api.hpp"
#include "weighlink/record/exact_json.hpp"
#include "weighlink/record/mutation_rules.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::agent::api {

// Bodies may hold a client's exact numbers (sync/exact_json.hpp): always written back verbatim.
[[nodiscard]] HttpResponse json_response(int status, const boost::json::value& body);

// An Idempotency-Key is 1..255 visible ASCII characters (IETF draft: a string, unique per request).
[[nodiscard]] bool valid_key(const std::string& key);

// application/json, in any case, alone or with parameters ("application/json; charset=utf-8");
// never a type that merely starts with it ("application/jsonx").
[[nodiscard]] bool is_json(const HttpRequest& request);

// A request body read exactly: every number kept as the client wrote it, or refused (400 with
// the refusal's code). The body nests one level above the payload it carries.
inline constexpr record::JsonLimits kBodyJsonLimits{record::kPayloadJsonLimits.max_depth + 1,
                                                    record::kPayloadJsonLimits.max_number_digits};

// A stored payload as JSON, its numbers as they were written.
// A payload an older agent stored that the exact reader refuses (a double written as 1.5E22) is
// shown as Boost.JSON reads it.
[[nodiscard]] boost::json::value parse_payload(const std::string& text);

// The answer to a request whose key is already in the outbox: the original answer, or 422.
[[nodiscard]] HttpResponse replay_or_conflict(const sync::OutboxRow& row,
                                              const std::string& request_hash,
                                              const std::string& correlation_id);

// The outbox's answer to a new mutation as HTTP: 202, a replay, 409, 422, 507 or 500.
[[nodiscard]] HttpResponse enqueue_response(const sync::EnqueueResult& result,
                                            const std::string& request_hash,
                                            const std::string& correlation_id);

// Two bodies that differ only in member order or whitespace are the same request; two that
// differ in any digit never are (the numbers are exact).
[[nodiscard]] std::string canonical_hash(std::string_view route, const boost::json::value& body);

// 400 with the exact reader's refusal.
[[nodiscard]] HttpResponse json_refused(const record::JsonRefusal& refusal,
                                        const std::string& correlation_id);

// 409 for a key whose first request is still waiting for its reading or the outbox.
[[nodiscard]] HttpResponse key_in_progress(const std::string& key,
                                           const std::string& correlation_id);

// Idempotency-Key, JSON content type and a JSON object body (empty body = {}), the checks
// every capture-like request shares. A response when the request must be refused.
[[nodiscard]] std::optional<HttpResponse> check_capture_request(const HttpRequest& request,
                                                                const std::string& correlation_id,
                                                                boost::json::value& body);

// Optional members of a capture body; false (with `error` set) when present and not valid.
// A string of at most 200 bytes with no control characters.
[[nodiscard]] bool optional_string(const boost::json::object& o, const char* name, std::string& out,
                                   std::optional<HttpResponse>& error,
                                   const std::string& correlation_id);
// The capture's "reference" (plate, ticket, ...): a JSON object of at most 16 KiB, so that the
// weighing it goes into stays within the payload limit the backend checks.
[[nodiscard]] bool optional_reference(const boost::json::object& o, boost::json::object& out,
                                      std::optional<HttpResponse>& error,
                                      const std::string& correlation_id);
// "timeout_ms": 0..60000.
[[nodiscard]] bool optional_timeout(const boost::json::object& o, std::chrono::milliseconds& out,
                                    std::optional<HttpResponse>& error,
                                    const std::string& correlation_id);

// A capture's outcome as HTTP: the refusal, or the outbox's answer.
[[nodiscard]] HttpResponse capture_response(const CaptureOutcome& outcome,
                                            const std::string& request_hash,
                                            const std::string& correlation_id);

}  // namespace weighlink::agent::api
