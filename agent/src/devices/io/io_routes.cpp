// IoStation's routes (io_station.hpp; docs/local-api.md "Lights and barriers"): GET /v1/io and
// the operator's override, each recorded in the audit trail before it takes effect.
#include <boost/json.hpp>

#include "core/api_common.hpp"
#include "devices/io/io_station.hpp"
#include "weighlink/agent/legal.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/record/mutation_rules.hpp"

namespace weighlink::agent::io {
namespace json = boost::json;

bool IoStation::handle(const HttpRequest& request, const std::string& path,
                       const std::string& correlation_id, Respond& respond) {
  if (path == "/v1/io") {
    if (request.method != "GET") {
      respond(error_response(405, "method_not_allowed", "GET /v1/io only", correlation_id));
    } else {
      respond(api::json_response(200, to_json()));
    }
    return true;
  }
  if (path != "/v1/io/override" && path != "/v1/io/override/clear") return false;
  if (request.method != "POST") {
    respond(error_response(405, "method_not_allowed", "POST " + path + " only", correlation_id));
    return true;
  }
  override_route(request, path.ends_with("/clear"), correlation_id, respond);
  return true;
}

void IoStation::override_route(const HttpRequest& request, bool clear,
                               const std::string& correlation_id, const Respond& respond) {
  json::value body;
  if (auto refused = api::check_capture_request(request, correlation_id, body)) {
    return respond(*refused);
  }
  const auto& o = body.as_object();
  std::optional<HttpResponse> error;
  std::string scale_id, target, state, operator_id, reason;
  if (!api::optional_string(o, "scale", scale_id, error, correlation_id) ||
      !api::optional_string(o, "target", target, error, correlation_id) ||
      !api::optional_string(o, "state", state, error, correlation_id) ||
      !api::optional_string(o, "operator", operator_id, error, correlation_id) ||
      !api::optional_string(o, "reason", reason, error, correlation_id)) {
    return respond(*error);
  }
  if (scale_id.empty() && !lanes_.empty()) scale_id = lanes_.front().config.scale;
  auto* l = lane(scale_id);
  if (!l) {
    return respond(error_response(
        404, "unknown_lane",
        "no io lane for scale '" + scale_id + "': the lanes are listed by GET /v1/io (io.lanes)",
        correlation_id));
  }
  if (operator_id.empty() || reason.empty()) {
    return respond(error_response(
        400, "operator_and_reason_required",
        "an override is recorded in the audit trail: give \"operator\" (who) and \"reason\" (why)",
        correlation_id));
  }
  const bool known_target =
      std::find(std::begin(kTargets), std::end(kTargets), target) != std::end(kTargets);
  if (!clear || !target.empty()) {
    if (!known_target) {
      return respond(error_response(
          400, "invalid_target",
          "\"target\" must be entry_light, exit_light, entry_barrier or exit_barrier",
          correlation_id));
    }
  }
  const auto view = to_json();
  const auto& outputs = view.at("lanes")
                            .as_array()
                            .at(static_cast<std::size_t>(l - lanes_.data()))
                            .at("outputs")
                            .as_object();
  if (!target.empty() && !outputs.contains(target)) {
    return respond(error_response(
        409, "output_not_configured",
        "lane '" + scale_id + "' has no " + target + " (io.lanes[].outputs)", correlation_id));
  }
  // The audit event's own key, within the 255 characters every key may have.
  auto key = "io-override:" + request.header("idempotency-key");
  if (key.size() > record::kMaxKeyLength) key = "io-override:" + base::sha256_hex(key);
  LanePolicy probe = l->policy;
  if (clear ? !probe.clear_override(target) : !probe.set_override(target, state)) {
    if (!clear) {
      return respond(error_response(400, "invalid_state",
                                    "\"state\" of a light is red, green or off; of a barrier "
                                    "open or closed",
                                    correlation_id));
    }
    // Nothing held: a retry of a clear recorded earlier is answered as it was.
    if (!env_.outbox->find(key)) {
      return respond(error_response(409, "no_override",
                                    "nothing is overridden on lane '" + scale_id + "'" +
                                        (target.empty() ? "" : " for " + target),
                                    correlation_id));
    }
  }
  if (!env_.legal) {
    return respond(error_response(503, "audit_unavailable",
                                  "overrides need the audit trail, which is not running",
                                  correlation_id));
  }
  AuditChange change;
  change.scope = "io/" + scale_id;
  change.setting = target.empty() ? "override" : target;
  if (!target.empty()) {
    change.old_value = std::string(outputs.at(target).at("state").as_string());
  }
  change.new_value = clear ? std::string("policy") : state;
  const auto result = env_.legal->record_action(change, operator_id, reason, key);
  if (result.status != sync::EnqueueStatus::accepted &&
      result.status != sync::EnqueueStatus::replayed) {
    return respond(api::enqueue_response(result, result.row.request_hash, correlation_id));
  }
  const bool replayed = result.status == sync::EnqueueStatus::replayed;
  if (!replayed) {
    l->policy = std::move(probe);
    ++overrides_recorded_;
    apply(*l);
  }
  const auto audit = api::parse_payload(result.row.payload_json);
  respond(api::json_response(
      200, json::object{{"replayed", replayed},
                        {"audit", json::object{{"n", audit.at("n")}, {"seq", result.row.seq}}},
                        {"io", to_json()}}));
}

}  // namespace weighlink::agent::io
