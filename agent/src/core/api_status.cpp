// The station's state for people and monitoring: /v1/status and /metrics.
#include <boost/json.hpp>

#include "core/api_common.hpp"
#include "weighlink/agent/api.hpp"

namespace weighlink::agent {
namespace json = boost::json;
using namespace api;

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
              {"blobs_uploaded", u.blobs_uploaded},
              {"blob_bytes_sent", u.blob_bytes_sent},
              {"blobs_lost", u.blobs_lost},
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
  for (const auto* group : ctx_.routes) group->status(out);
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
  gauge("weighlink_agent_blobs_uploaded", "Evidence files uploaded whole since start.", "",
        uplink.blobs_uploaded);
  gauge("weighlink_agent_blobs_lost",
        "Evidence files reported lost since start (missing or altered here, or too large).", "",
        uplink.blobs_lost);
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
  for (const auto* group : ctx_.routes) group->metrics(out);
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = std::move(out);
  return r;
}

}  // namespace weighlink::agent
