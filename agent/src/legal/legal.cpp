#include "weighlink/agent/legal.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <utility>

#include "core/api_common.hpp"
#include "random_id.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/record/exact_json.hpp"

namespace weighlink::agent {
namespace json = boost::json;

namespace {

constexpr std::uint64_t kMaxAuditPage = 1000;

json::value text_or_null(const std::optional<std::string>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

// A query number 0..10^18; nullopt when it is not one.
std::optional<std::uint64_t> query_number(std::string_view text) {
  std::uint64_t v = 0;
  if (text.empty() || text.size() > 18) return std::nullopt;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

Legal::Legal(Context context) : ctx_(std::move(context)) {
  for (const auto& sc : ctx_.config->scales) {
    zero_.add_scale(sc, ctx_.config->legal.for_scale(sc.id));
    if (ctx_.outbox->get_state(kZeroReturnPrefix + sc.id)) zero_.restore(sc.id, true);
  }
  if (const auto n = ctx_.outbox->get_state(kAuditCounterKey)) {
    counter_ = query_number(*n).value_or(0);
  }
  const auto saved = ctx_.outbox->get_state(kSettingsKey);
  first_start_ = !saved;
  if (saved) {
    try {
      saved_ = settings_from_json(json::parse(*saved)).value_or(Settings{});
    } catch (const std::exception& e) {
      spdlog::error(
          "the saved settings snapshot cannot be read ({}); every setting is recorded "
          "again as an audit event",
          e.what());
    }
  }
}

Settings Legal::current_settings() const {
  Settings now;
  for (const auto& sc : ctx_.config->scales) {
    now[sc.id] = scale_settings(sc, ctx_.config->legal.for_scale(sc.id));
  }
  if (ctx_.pairing) {
    const auto& reg = ctx_.pairing->registry();
    auto origins = origin_settings(reg.fixed(), reg.decisions());
    if (!origins.empty()) now[kOriginsScope] = std::move(origins);
  }
  return now;
}

std::string Legal::who(const AuditChange& change) const {
  auto file = ctx_.config->config_file.empty() ? std::string("command line (no configuration file)")
                                               : "config file " + ctx_.config->config_file.string();
  if (change.scope != kOriginsScope) return file;
  const auto& v = change.new_value ? *change.new_value : change.old_value.value_or("");
  if (v.ends_with("(paired)")) return "operator (the page or weighlink-agent origins)";
  if (v.ends_with("(preset)")) return "drop-in file in " + ctx_.config->origins_dir.string();
  return file;
}

sync::EnqueueResult Legal::enqueue_event(const AuditChange& change, const std::string& by,
                                         const std::string& reason, const std::string& key,
                                         std::vector<sync::StateWrite> writes) {
  const auto n = counter_ + 1;
  const auto now = ctx_.clock->now();
  json::object event{{"station_id", ctx_.config->station_id},
                     {"n", n},
                     {"at", scale::format_timestamp(now)},
                     {"setting", change.setting},
                     {"scope", change.scope},
                     {"old", text_or_null(change.old_value)},
                     {"new", text_or_null(change.new_value)},
                     {"by", by},
                     {"reason", reason},
                     {"software", ctx_.software.to_json()}};
  sync::NewMutation m;
  m.kind = kAuditEventKind;
  m.payload_json = record::serialize_exact(event);
  if (key.empty()) {
    // A key no client can have chosen before: the event's number alone could collide.
    m.idempotency_key = "weighlink-audit-" + std::to_string(n) + "-" + detail::random_id();
    m.request_hash = base::sha256_hex(m.payload_json);
  } else {
    // The caller's key: a retry of the same action is the event recorded first (its number and
    // time differ, so the hash covers what was asked only).
    m.idempotency_key = key;
    m.request_hash = base::sha256_hex(change.scope + "\n" + change.setting + "\n" +
                                      change.new_value.value_or("") + "\n" + by + "\n" + reason);
  }
  m.created_at_ms = to_ms(now);
  // The counter and the event's index commit with the event, so the counter never goes back
  // and an event is never recorded twice.
  m.state_writes = {{kAuditCounterKey, std::to_string(n)},
                    {kAuditEventPrefix + std::to_string(n), m.idempotency_key}};
  for (auto& w : writes) m.state_writes.push_back(std::move(w));
  auto result = ctx_.outbox->enqueue_wait(std::move(m));
  if (result.status == sync::EnqueueStatus::accepted) counter_ = n;
  return result;
}

sync::EnqueueResult Legal::record_action(const AuditChange& change, const std::string& by,
                                         const std::string& reason, const std::string& key) {
  auto result = enqueue_event(change, by, reason, key, {});
  if (result.status == sync::EnqueueStatus::accepted) {
    spdlog::info("audit event {}: {} {}: {} -> {} by {} ({})", counter_, change.scope,
                 change.setting, change.old_value.value_or("(none)"),
                 change.new_value.value_or("(none)"), by, reason);
  }
  return result;
}

bool Legal::record(const AuditChange& change, const Settings& after) {
  std::string reason = "changed since the previous run";
  if (first_start_) reason = "initial setting (first start)";
  if (change.scope == kOriginsScope) reason = "origin pairing";
  // The snapshot with this change commits with the event.
  const auto result = enqueue_event(change, who(change), reason, {},
                                    {{kSettingsKey, json::serialize(to_json(after))}});
  if (result.status != sync::EnqueueStatus::accepted) {
    // Tried again every status interval: said once per cause, not every second.
    if (std::exchange(last_failure_, result.message) != result.message) {
      spdlog::error("the audit event for {} {} could not be recorded: {}; tried again until it is",
                    change.scope, change.setting, result.message);
    }
    return false;
  }
  last_failure_.clear();
  spdlog::info("audit event {}: {} {}: {} -> {} ({})", counter_, change.scope, change.setting,
               change.old_value.value_or("(none)"), change.new_value.value_or("(none)"),
               who(change));
  return true;
}

bool Legal::check_settings() {
  const auto now = current_settings();
  for (const auto& change : diff_settings(saved_, now)) {
    auto after = saved_;
    apply_change(after, change);
    if (!record(change, after)) return false;
    saved_ = std::move(after);
  }
  first_start_ = false;
  return true;
}

void Legal::stamp(json::object& payload) const {
  payload["software"] = ctx_.software.to_json();
  payload["audit_counter"] = counter_;
}

void Legal::on_reading(const scale::Reading& reading) {
  if (!zero_.on_reading(reading)) return;
  spdlog::info("scale {} returned to zero ({} {}): the next weighing may be captured",
               reading.scale, reading.weight.to_string(), reading.unit);
  ctx_.outbox->put_state({kZeroReturnPrefix + reading.scale, std::nullopt},
                         [scale = reading.scale](boost::system::result<void> r) {
                           if (!r) {
                             spdlog::error("the zero return of scale {} could not be saved: {}",
                                           scale, r.error().message());
                           }
                         });
}

std::optional<CaptureError> Legal::refuse(const std::string& scale_id) {
  if (!zero_.required(scale_id)) return std::nullopt;
  const auto* s = ctx_.live->find(scale_id);
  const int decimals = s && s->latest ? s->latest->weight.decimals : 0;
  const auto band = zero_band_for(s ? s->config : scale::ScaleConfig{},
                                  ctx_.config->legal.for_scale(scale_id), decimals);
  return CaptureError{409, "zero_return_required",
                      "scale '" + scale_id +
                          "' has not returned to zero since the last weighing: clear the deck and "
                          "let it return to zero (within ±" +
                          band.to_string() + "), then capture the next vehicle"};
}

void Legal::arm(const std::string& scale_id, std::vector<sync::StateWrite>& writes) {
  if (zero_.arm(scale_id)) writes.push_back({kZeroReturnPrefix + scale_id, std::string("1")});
}

void Legal::armed(const std::string& scale_id, bool recorded) {
  if (!recorded) zero_.disarm(scale_id);
}

bool Legal::handle(const HttpRequest& request, const std::string& path,
                   const std::string& correlation_id, Respond& respond) {
  if (path != "/v1/audit") return false;
  if (request.method != "GET") {
    respond(error_response(405, "method_not_allowed", "GET /v1/audit only", correlation_id));
    return true;
  }
  std::uint64_t after = 0;
  std::uint64_t limit = 100;
  auto url = boost::urls::parse_origin_form(request.target);
  if (url) {
    for (const auto& param : url->params()) {
      if (param.key != "after" && param.key != "limit") continue;
      const auto v = query_number(param.value);
      if (!v || (param.key == "limit" && (*v == 0 || *v > kMaxAuditPage))) {
        respond(error_response(400, "invalid_" + param.key,
                               param.key + " must be a whole number" +
                                   (param.key == "limit" ? " from 1 to 1000" : " (0 or more)"),
                               correlation_id));
        return true;
      }
      (param.key == "after" ? after : limit) = *v;
    }
  }
  json::array items;
  const auto last = std::min(counter_, after + limit);
  for (auto n = after + 1; n <= last; ++n) {
    const auto key = ctx_.outbox->get_state(kAuditEventPrefix + std::to_string(n));
    const auto row = key ? ctx_.outbox->find(*key) : std::nullopt;
    if (!row) {
      // Pruned from the outbox once the backend held it in a verified backup.
      items.push_back(json::object{{"n", n}, {"pruned", true}});
      continue;
    }
    auto item = api::parse_payload(row->payload_json);
    if (!item.is_object()) continue;
    auto& o = item.as_object();
    o.erase("station_id");
    o.erase("software");
    o["seq"] = row->seq;
    items.push_back(std::move(item));
  }
  json::object body{{"counter", counter_},
                    {"items", std::move(items)},
                    {"next_after", last < counter_ ? json::value(last) : json::value(nullptr)}};
  respond(api::json_response(200, body));
  return true;
}

void Legal::status(json::object& status) const {
  status["software"] = ctx_.software.to_json();
  status["audit"] = json::object{{"counter", counter_}};
  auto* scales = status.if_contains("scales");
  if (!scales || !scales->is_array()) return;
  for (auto& v : scales->as_array()) {
    auto& o = v.as_object();
    const std::string id(o.at("id").as_string());
    const auto* s = ctx_.live->find(id);
    o["zero_return"] = zero_.to_json(id, s && s->latest ? s->latest->weight.decimals : 0);
  }
}

void Legal::metrics(std::string& out) const {
  out +=
      "# HELP weighlink_agent_audit_counter Audit events recorded (metrological settings "
      "changed), never reset.\n# TYPE weighlink_agent_audit_counter counter\n"
      "weighlink_agent_audit_counter " +
      std::to_string(counter_) + "\n";
}

std::unique_ptr<Legal> make_legal(const AgentConfig& config, sync::Outbox& outbox,
                                  const LiveState& live, OriginPairing* pairing,
                                  CaptureContext& captures) {
  Legal::Context ctx;
  ctx.config = &config;
  ctx.outbox = &outbox;
  ctx.live = &live;
  ctx.pairing = pairing;
  ctx.clock = captures.clock;
  ctx.software = identify_software(captures.agent_version);
  auto legal = std::make_unique<Legal>(std::move(ctx));
  (void)legal->check_settings();
  captures.stamp = [l = legal.get()](json::object& payload) { l->stamp(payload); };
  captures.guards.push_back(legal.get());
  return legal;
}

}  // namespace weighlink::agent
