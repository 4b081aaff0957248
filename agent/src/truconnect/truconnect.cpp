#include "weighlink/agent/truconnect.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "random_id.hpp"
#include "truconnect/fields.hpp"
#include "weighlink/agent/app_record.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/base/log_text.hpp"
#include "weighlink/record/exact_json.hpp"

namespace weighlink::agent {
namespace json = boost::json;
using namespace truconnect;

TruConnect::TruConnect(TruConnectConfig config, Captures& captures, std::string agent_version)
    : config_(std::move(config)),
      captures_(captures),
      agent_version_(std::move(agent_version)),
      clock_(*captures.context().clock),
      started_(clock_.steady_now()) {
  scale_id_ = config_.scale;
  const auto& scales = captures_.context().live->scales();
  if (scale_id_.empty() && !scales.empty()) scale_id_ = scales.front().id;
  bound_ = config_.bound_a_code;
  rest_client_.registered = true;
  ws_url_ = "ws://localhost:" + std::to_string(config_.ws_port);
  api_url_ = "http://localhost:" + std::to_string(config_.http_port) + "/api/v1";
  restore();
}

namespace {

constexpr std::string_view kVehicleState = "truconnect/vehicle";

json::object axle_state(const scale::AxleCapture& a) {
  return json::object{
      {"number", a.number},
      {"weight", a.weight.to_string()},
      {"reading", a.reading.to_string()},
      {"seq", a.seq},
      {"raw_hex",
       base::to_hex(std::span(reinterpret_cast<const unsigned char*>(a.raw.data()), a.raw.size()))},
      {"at_ms",
       std::chrono::duration_cast<std::chrono::milliseconds>(a.at.time_since_epoch()).count()}};
}

scale::AxleCapture axle_from_state(const json::object& o) {
  scale::AxleCapture a;
  a.number = static_cast<int>(o.at("number").to_number<std::int64_t>());
  a.weight = scale::Decimal::parse(o.at("weight").as_string()).value();
  a.reading = scale::Decimal::parse(o.at("reading").as_string()).value();
  a.seq = o.at("seq").to_number<std::uint64_t>();
  if (const auto raw = base::from_hex(o.at("raw_hex").as_string()))
    a.raw.assign(raw->begin(), raw->end());
  a.at = std::chrono::system_clock::time_point(
      std::chrono::milliseconds(o.at("at_ms").to_number<std::int64_t>()));
  return a;
}

}  // namespace

void TruConnect::save() const {
  json::object weights;
  for (const auto& [n, w] : app_.axle_weights) weights[std::to_string(n)] = w.to_string();
  json::object refusals;
  for (const auto& [n, r] : app_.refusals) refusals[std::to_string(n)] = r;
  json::array recorded;
  for (const auto& a : app_.recorded) recorded.push_back(axle_state(a));
  const json::object state{{"version", 1},
                           {"transaction_id", transaction_id_},
                           {"vehicle_id", vehicle_id_},
                           {"vehicle_reg", vehicle_reg_},
                           {"plate", plate_},
                           {"axle_config_code", axle_config_code_},
                           {"bound", bound_},
                           {"epoch", app_.epoch},
                           {"config_changed", app_.config_changed},
                           {"axle_weights", std::move(weights)},
                           {"refusals", std::move(refusals)},
                           {"superseded", app_.superseded},
                           {"recorded", std::move(recorded)}};
  captures_.context().outbox->put_state(
      sync::StateWrite{std::string(kVehicleState), json::serialize(state)},
      [](boost::system::result<void> r) {
        if (!r) {
          spdlog::error("truconnect: the vehicle's state could not be saved: {}",
                        r.error().message());
        }
      });
}

void TruConnect::restore() {
  const auto saved = captures_.context().outbox->get_state(std::string(kVehicleState));
  if (!saved) return;
  try {
    const auto o = json::parse(*saved).as_object();
    auto text = [&](const char* k) { return std::string(o.at(k).as_string()); };
    transaction_id_ = text("transaction_id");
    vehicle_id_ = text("vehicle_id");
    vehicle_reg_ = text("vehicle_reg");
    plate_ = text("plate");
    axle_config_code_ = text("axle_config_code");
    bound_ = text("bound");
    AppVehicle app;
    app.epoch = static_cast<int>(o.at("epoch").to_number<std::int64_t>());
    app.config_changed = o.at("config_changed").as_bool();
    for (const auto& [n, w] : o.at("axle_weights").as_object()) {
      app.axle_weights[std::stoi(std::string(n))] = scale::Decimal::parse(w.as_string()).value();
    }
    for (const auto& [n, r] : o.at("refusals").as_object()) {
      app.refusals[std::stoi(std::string(n))] = std::string(r.as_string());
    }
    app.superseded = o.at("superseded").as_array();
    for (const auto& a : o.at("recorded").as_array()) {
      app.recorded.push_back(axle_from_state(a.as_object()));
    }
    if (app.epoch < 1 || app.epoch > 1000) throw std::invalid_argument("epoch out of range");
    app_ = std::move(app);
    spdlog::info("truconnect: vehicle {} restored from the previous run ({} app axle(s))",
                 base::log_safe(transaction_id_.empty() ? vehicle_id_ : transaction_id_),
                 app_.axle_weights.size());
  } catch (const std::exception& e) {
    spdlog::error(
        "truconnect: the saved vehicle state cannot be read ({}); starting with no vehicle",
        e.what());
  }
}

void TruConnect::set_endpoints(std::string ws_url, std::string api_url) {
  ws_url_ = std::move(ws_url);
  api_url_ = std::move(api_url);
}

void TruConnect::set_tls_endpoints(std::string wss_url, std::string https_url) {
  wss_url_ = std::move(wss_url);
  https_url_ = std::move(https_url);
}

std::string TruConnect::vehicle_key() {
  if (transaction_id_.empty() && vehicle_id_.empty()) vehicle_id_ = detail::random_id();
  return current_vehicle_key();
}

std::string TruConnect::current_vehicle_key() const {
  std::string key;
  if (!transaction_id_.empty()) {
    key = "truconnect:" + key_part(transaction_id_);
  } else if (!vehicle_id_.empty()) {
    key = "truconnect:session-" + vehicle_id_;
  } else {
    return {};
  }
  // A vehicle the app restarted under a new axle configuration is weighed again under new keys.
  if (app_.epoch > 1) key += ":r" + std::to_string(app_.epoch);
  return key;
}

void TruConnect::forget_vehicle() {
  auto plateaus = std::move(app_.plateaus);
  app_ = AppVehicle{};
  // The decks' stable weights outlive a transaction-sync: the multideck page syncs the
  // transaction after "Take Weight".
  app_.plateaus = std::move(plateaus);
}

void TruConnect::reset_session() {
  (void)captures_.reset_session(scale_id_);
  plate_.clear();
  transaction_id_.clear();
  vehicle_reg_.clear();
  axle_config_code_.clear();
  vehicle_id_.clear();
  forget_vehicle();
  app_.plateaus.clear();
}

void TruConnect::notice(std::string event, std::string code, std::string message, std::string key) {
  spdlog::warn("truconnect: {} {}: {} (key {})", event, code, base::log_safe(message),
               base::log_safe(key));
  notices_.push_back(json::object{{"at", now_iso()},
                                  {"event", std::move(event)},
                                  {"code", std::move(code)},
                                  {"message", std::move(message)},
                                  {"key", std::move(key)}});
  while (notices_.size() > kMaxNotices) notices_.pop_front();
}

void TruConnect::notice_discrepancy(const json::object& payload, const std::string& key) {
  const auto* d = payload.if_contains("discrepancy");
  if (!d || !d->is_object()) return;
  std::string text = "recorded with the app's values beside the agent's, differing:";
  for (const auto& p : d->as_object().at("parts").as_array()) {
    const auto& o = p.as_object();
    auto shown = [](const json::value& v) {
      return v.is_null() ? std::string("none") : serialize_exact(v);
    };
    text += " " + std::string(o.at("part").as_string()) + " app " + shown(o.at("app")) +
            ", agent " + shown(o.at("agent")) + ";";
  }
  text.pop_back();
  notice("record", "discrepancy", text, key);
}

scale::Decimal TruConnect::division(const scale::Decimal& like) const {
  const auto* s = captures_.context().live->find(scale_id_);
  const std::string unit = s && s->latest ? s->latest->unit : std::string();
  if (s && s->config.stability.division) return in_kg(*s->config.stability.division, unit);
  return in_kg(scale::Decimal{1, like.decimals}, unit);
}

void TruConnect::on_reading(const scale::Reading& reading) {
  if (reading.scale != scale_id_ || std::is_lteq(reading.weight.compare(config_.vehicle_on_deck)))
    return;
  auto& plateaus = app_.plateaus;
  auto same = [&](const scale::Reading& a) {
    if (a.weight != reading.weight || a.unit != reading.unit ||
        a.decks.size() != reading.decks.size())
      return false;
    return std::equal(a.decks.begin(), a.decks.end(), reading.decks.begin(),
                      [](const auto& x, const auto& y) { return x.weight == y.weight; });
  };
  // One entry per stable weight: its first stable reading, whose frames show it settling. A
  // weight already held costs nothing more on the live path.
  if (!plateaus.empty() && same(plateaus.back().reading)) return;
  auto pinned = captures_.pin(scale_id_);
  if (!pinned || pinned->reading.seq != reading.seq) return;
  plateaus.push_back(std::move(*pinned));
  if (plateaus.size() > kMaxPlateaus) plateaus.erase(plateaus.begin());
}

std::function<void(json::object&)> TruConnect::axle_annotation(const std::string& key) {
  return [this, key, weights = app_.axle_weights, refusals = app_.refusals,
          superseded = app_.superseded, epoch = app_.epoch](json::object& payload) {
    const auto unit = payload.contains("unit") && payload.at("unit").is_string()
                          ? std::string(payload.at("unit").as_string())
                          : std::string();
    std::map<int, scale::Decimal> agent;
    if (const auto* axles = payload.if_contains("axles"); axles && axles->is_array()) {
      for (const auto& a : axles->as_array()) {
        const auto n = record::exact_int64(a.at("number"));
        const auto w = decimal_text(a.as_object().if_contains("weight"));
        if (n && w) agent[static_cast<int>(*n)] = in_kg(*w, unit);
      }
    }
    std::vector<PartValues> parts;
    std::set<int> numbers;
    for (const auto& [n, w] : weights) numbers.insert(n);
    for (const auto& [n, w] : agent) numbers.insert(n);
    std::optional<scale::Decimal> app_gvw;
    for (int n : numbers) {
      PartValues p{"axle " + std::to_string(n), std::nullopt, std::nullopt, {}};
      if (auto it = weights.find(n); it != weights.end()) p.app = it->second;
      if (auto it = agent.find(n); it != agent.end()) p.agent = it->second;
      if (auto it = refusals.find(n); it != refusals.end()) p.note = it->second;
      if (!p.agent && p.note.empty()) p.note = "not captured by the agent";
      parts.push_back(std::move(p));
    }
    // The app's GVW is the sum of the axles it recorded (the mobile page sends no total).
    std::vector<scale::Decimal> stated;
    stated.reserve(weights.size());
    for (const auto& [n, w] : weights) stated.push_back(w);
    if (!stated.empty()) app_gvw = sum(stated);
    const auto gvw = decimal_text(payload.if_contains("gvw"));
    parts.push_back(
        PartValues{"gvw", app_gvw, gvw ? std::optional(in_kg(*gvw, unit)) : std::nullopt, {}});
    json::object extra{{"source", "truconnect"}};
    if (epoch > 1) extra["restart"] = epoch;
    annotate_record(payload, parts, division(gvw.value_or(scale::Decimal{})), out_unit(unit),
                    std::move(extra));
    if (!superseded.empty()) payload["superseded_axles"] = superseded;
    notice_discrepancy(payload, key);
  };
}

void TruConnect::config_change(const std::string& code, std::optional<int> expected) {
  const auto* session = captures_.session(scale_id_);
  if (!session) return;
  const bool changed =
      code != axle_config_code_ || (expected && *expected != session->options().expected_axles);
  const bool weighed =
      (session->state() == scale::AxleSession::State::weighing && !session->axles().empty()) ||
      !app_.recorded.empty();
  if (changed && weighed && !app_.config_changed) {
    app_.config_changed = true;
    spdlog::info("truconnect: vehicle {} changed to axle configuration {} with axles weighed",
                 base::log_safe(vehicle_key()), base::log_safe(code));
  }
}

void TruConnect::restart_vehicle() {
  const auto* session = captures_.session(scale_id_);
  const auto& axles = app_.recorded.empty() && session ? session->axles() : app_.recorded;
  for (const auto& a : axles) {
    app_.superseded.push_back(json::object{{"restart", app_.epoch},
                                           {"number", a.number},
                                           {"weight", a.weight.to_string()},
                                           {"reading_seq", a.seq},
                                           {"captured_at", scale::format_timestamp(a.at)}});
  }
  const bool recorded = !app_.recorded.empty();
  notice("axle-captured", "vehicle_restarted",
         std::to_string(axles.size()) + " axle(s) weighed under the previous axle configuration " +
             (recorded ? "were recorded already; the vehicle is recorded again"
                       : "are kept in the record as superseded") +
             "; the app weighs it again from axle 1",
         vehicle_key());
  auto superseded = std::move(app_.superseded);
  const int epoch = app_.epoch;
  forget_vehicle();
  app_.epoch = epoch + 1;
  app_.superseded = std::move(superseded);
  const int expected = session ? session->options().expected_axles : 0;
  // An axle of the old configuration still waiting for the scale is given up (answered
  // session_reset), so the new weighing starts now.
  (void)captures_.reset_session(scale_id_);
  (void)captures_.start_session(scale_id_, expected, true);
}

}  // namespace weighlink::agent
