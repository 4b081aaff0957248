// The TruConnect socket protocol: a message read exactly, checked, and handed to the handler of
// its event (one table, below).
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <functional>
#include <map>

#include "truconnect/fields.hpp"
#include "weighlink/agent/truconnect.hpp"
#include "weighlink/base/log_text.hpp"
#include "weighlink/record/exact_json.hpp"

namespace weighlink::agent {
namespace json = boost::json;
using namespace truconnect;

void TruConnect::on_message(Client& client, std::string_view text, const Send& send) {
  // Read exactly: a number the app sends (client_axle_weights) is recorded as it was written.
  auto parsed = record::parse_exact(text);
  auto& v = parsed.value;
  const json::object* o = (!parsed.refusal && record::is_json_object(v)) ? &v.as_object() : nullptr;
  const json::value* event = o ? o->if_contains("event") : nullptr;
  if (!event || !event->is_string()) {
    send(envelope(
        "error",
        json::object{{"message", "Invalid message format"},
                     {"code", parsed.refusal ? parsed.refusal->code : "invalid_message"},
                     {"detail", parsed.refusal ? parsed.refusal->message
                                               : "send {\"event\":\"...\",\"data\":{...}}"}}));
    return;
  }
  const std::string name(event->as_string());
  const json::value* data = o->if_contains("data");
  if (data && !record::is_json_object(*data) && !data->is_null()) {
    send(envelope("error", json::object{{"message", "Invalid message format"},
                                        {"code", "invalid_data"},
                                        {"detail", "\"data\" must be an object"}}));
    return;
  }
  const auto* r = route(name);
  if (r && r->needs_registration && !client.registered) {
    send(envelope(
        "error",
        json::object{{"message", "Not registered"}, {"code", "not_registered"}, {"event", name}}));
    return;
  }
  static const json::object kEmpty;
  const json::object& d = data && record::is_json_object(*data) ? data->as_object() : kEmpty;
  dispatch(client, name, d, [this, send](const std::string& ev, const json::object& body) {
    send(envelope(ev, body));
  });
}

const TruConnect::Route* TruConnect::route(std::string_view event) {
  // The events of the TruLoad web app (docs/truconnect-compat.md). `needs_registration` as
  // TruConnect has it; `changes_vehicle`: the vehicle's state is saved once the event is handled.
  static const std::map<std::string_view, Route, std::less<>> kRoutes{
      {"register", {&TruConnect::on_register, false, true}},
      {"plate", {&TruConnect::on_plate, true, true}},
      {"bound-switch", {&TruConnect::on_bound_switch, false, true}},
      {"status-request", {&TruConnect::on_status_request, false, false}},
      {"transaction-sync", {&TruConnect::on_transaction_sync, true, true}},
      {"update-config", {&TruConnect::on_update_config, false, true}},
      {"axle-captured", {&TruConnect::on_axle_captured, true, true}},
      {"vehicle-complete", {&TruConnect::on_vehicle_complete, true, true}},
      {"weights-captured", {&TruConnect::on_weights_captured, false, true}},
      {"capture-request", {&TruConnect::on_capture_request, false, true}},
      {"reset-session", {&TruConnect::on_reset_session, false, true}},
      {"query-weight", {&TruConnect::on_query_weight, true, false}},
      {"enter", {&TruConnect::on_traffic_control, false, true}},
      {"move-forward", {&TruConnect::on_traffic_control, false, true}},
      {"move-back", {&TruConnect::on_traffic_control, false, true}},
      {"stop", {&TruConnect::on_traffic_control, false, true}},
  };
  const auto it = kRoutes.find(event);
  return it == kRoutes.end() ? nullptr : &it->second;
}

void TruConnect::dispatch(Client& client, const std::string& event, const json::object& data,
                          Reply reply) {
  const auto* r = route(event);
  if (!r) {
    reply("error", json::object{{"message", "Unknown event: " + event.substr(0, 64)},
                                {"code", "unknown_event"},
                                {"event", event.substr(0, 64)}});
    return;
  }
  Event e{event, client, data, std::move(reply)};
  (this->*(r->handler))(e);
  // Whatever the event changed of the vehicle is saved once it is handled.
  if (r->changes_vehicle) save();
}

void TruConnect::on_register(Event& e) {
  auto& client = e.client;
  const auto& data = e.data;
  auto& reply = e.reply;
  if (!client.registered) ++registered_;
  client.registered = true;
  const auto mode = string_field(data, "mode");
  client.mode = (mode == "mobile" || mode == "multideck") ? mode : config_.capture_mode;
  // The web app registers on the socket and falls back to REST polling when the socket fails:
  // the REST API's mode follows the station's last register on either transport.
  if (mode == "mobile" || mode == "multideck") rest_mode_ = mode;
  client.station_code = string_field(data, "stationCode");
  client.bound = string_field(data, "bound");
  spdlog::info("truconnect client #{} registered ({} mode, station '{}')", client.id, client.mode,
               base::log_safe(client.station_code));
  const auto* s = captures_.context().live->find(scale_id_);
  reply("register-ack", json::object{{"success", true},
                                     {"message", "Registration successful! Welcome to " +
                                                     config_.station_name + "."},
                                     {"client", json::object{{"clientId", client.id},
                                                             {"stationCode", client.station_code},
                                                             {"bound", client.bound},
                                                             {"mode", client.mode}}},
                                     {"station", station()},
                                     {"server", json::object{{"captureMode", config_.capture_mode},
                                                             {"simulation", simulated(s)}}},
                                     {"connectionPool", pool()}});
  // The full live frame for the client's mode at once (TruConnect's bare frame here makes the
  // multideck page show zero decks until the next reading).
  const bool multi = client.mode == "multideck";
  reply(multi ? "weights" : "weight", weight_data(client.mode, false));
}

void TruConnect::on_plate(Event& e) {
  const auto& data = e.data;
  auto& reply = e.reply;
  plate_ = string_field(data, "plateNumber");
  reply("plate-ack", json::object{{"success", true}, {"plateNumber", plate_}});
}

void TruConnect::on_bound_switch(Event& e) {
  const auto& data = e.data;
  auto& reply = e.reply;
  auto bound = string_field(data, "bound");
  std::string upper = bound;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "A" || upper == "B") {
    bound_ = upper;
  } else if (!bound.empty() && (bound == config_.bound_a_code || bound == config_.bound_b_code)) {
    bound_ = bound;
  } else {
    reply("error", json::object{{"message", "Invalid bound"},
                                {"code", "invalid_bound"},
                                {"detail", "bound must be A, B, " + config_.bound_a_code + " or " +
                                               config_.bound_b_code}});
    return;
  }
  reply("bound-ack", json::object{{"success", true}, {"bound", bound_}});
}

void TruConnect::on_status_request(Event& e) {
  auto& client = e.client;
  auto& reply = e.reply;
  reply("status", status_data(client.secure));
}

void TruConnect::on_transaction_sync(Event& e) {
  const auto& data = e.data;
  auto& reply = e.reply;
  const auto id = string_field(data, "transactionId");
  const auto expected = int_field(data, "totalAxles");
  const auto code = string_field(data, "axleConfigCode");
  if (id != transaction_id_) {
    // A new vehicle: a session left with axles from the previous one is not this vehicle's.
    transaction_id_ = id;
    vehicle_id_.clear();
    forget_vehicle();
    const auto* session = captures_.session(scale_id_);
    if (session && session->state() != scale::AxleSession::State::idle) {
      if (session->state() == scale::AxleSession::State::weighing && !session->axles().empty()) {
        spdlog::warn("truconnect: transaction {} replaces a session with {} uncompleted axle(s)",
                     base::log_safe(id), session->axles().size());
      }
      (void)captures_.reset_session(scale_id_);
    }
  } else {
    config_change(code, expected);
  }
  vehicle_reg_ = string_field(data, "vehicleRegNumber");
  axle_config_code_ = code;
  if (expected) (void)captures_.set_expected_axles(scale_id_, *expected);
  reply("transaction-sync-ack", json::object{{"success", true},
                                             {"transactionId", transaction_id_},
                                             {"vehicleRegNumber", vehicle_reg_}});
}

void TruConnect::on_update_config(Event& e) {
  const auto& data = e.data;
  auto& reply = e.reply;
  const auto expected = int_field(data, "totalAxles");
  const auto code = string_field(data, "axleConfigurationCode");
  config_change(code.empty() ? axle_config_code_ : code, expected);
  if (expected) (void)captures_.set_expected_axles(scale_id_, *expected);
  if (!code.empty()) axle_config_code_ = code;
  const auto* session = captures_.session(scale_id_);
  reply("update-config-ack",
        json::object{
            {"success", true},
            {"totalAxles", session ? session->options().expected_axles : 0},
            {"axleConfigurationCode",
             axle_config_code_.empty() ? json::value(nullptr) : json::value(axle_config_code_)}});
}

void TruConnect::on_weights_captured(Event& e) {
  auto& reply = e.reply;
  const auto* session = captures_.session(scale_id_);
  if (session && session->state() == scale::AxleSession::State::weighing &&
      !session->axles().empty()) {
    return complete_session(vehicle_key() + ":complete", reply, "weights-captured-ack");
  }
  reply("weights-captured-ack", json::object{{"success", true}});
}

void TruConnect::on_reset_session(Event& e) {
  auto& reply = e.reply;
  reset_session();
  reply("session-reset-ack", json::object{{"success", true}});
}

void TruConnect::on_query_weight(Event& e) {
  auto& client = e.client;
  auto& reply = e.reply;
  reply("query-weight-ack", json::object{{"success", true}});
  reply(mode_of(client) == "multideck" ? "weights" : "weight", weight_data(mode_of(client), false));
}

void TruConnect::on_traffic_control(Event& e) {
  if (traffic_) {
    if (auto answer = traffic_(e.name, e.data)) {
      json::object ack{{"success", true}, {"supported", true}};
      for (auto& [k, v] : *answer) ack[k] = v;
      return e.reply(e.name + "-ack", std::move(ack));
    }
  }
  // Traffic control is not wired to anything here; say so instead of pretending.
  e.reply(e.name + "-ack",
          json::object{{"success", false},
                       {"supported", false},
                       {"message", "traffic control is not handled by weighlink-agent"}});
}

}  // namespace weighlink::agent
