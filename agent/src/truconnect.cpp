#include "weighlink/agent/truconnect.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <set>
#include <variant>

#include "random_id.hpp"
#include "weighlink/agent/app_record.hpp"
#include "weighlink/sync/exact_json.hpp"
#include "weighlink/sync/hash.hpp"
#include "weighlink/sync/log_text.hpp"

namespace weighlink::agent {
namespace json = boost::json;

namespace {

// TruLoad works in kilograms: tonnes become kilograms exactly (12.34 t -> 12340 kg); other units
// stay as the indicator shows them, and the frame's `unit` says which. (No indicator shows 10^15
// tonnes: a value that overflowed would be shown as read.)
scale::Decimal in_kg(const scale::Decimal& d, const std::string& unit) {
  if (unit != "t") return d;
  return d.times_pow10(3).value_or(d);
}

std::string out_unit(const std::string& unit) { return unit == "t" || unit.empty() ? "kg" : unit; }

const json::value* field(const json::object& o, std::string_view name) {
  return o.if_contains(name);
}

// A text field as TruLoad sends it: a string (cut at 200 bytes) or a number (its exact text).
std::string string_field(const json::object& o, std::string_view name) {
  const auto* v = field(o, name);
  if (v && v->is_string()) return std::string(v->as_string().subview(0, 200));
  if (v) return sync::number_text(*v).value_or(std::string());
  return {};
}

// One part of an idempotency key built from the web app's text (a transaction id, a capture
// type, a deck): kept as it is when it is short and plain ([A-Za-z0-9._-], at most 64), else "~"
// and the first 32 hex digits of its SHA-256 ('~' never appears in a kept part, so the two
// forms cannot collide). The key is then always a valid key of bounded length, whatever the app
// sends; the text itself travels in the weighing's reference.
std::string key_part(std::string_view text) {
  const bool plain = !text.empty() && text.size() <= 64 &&
                     std::all_of(text.begin(), text.end(), [](unsigned char c) {
                       return std::isalnum(c) || c == '.' || c == '_' || c == '-';
                     });
  if (plain) return std::string(text);
  return "~" + sync::sha256_hex(text).substr(0, 32);
}

std::optional<int> int_field(const json::object& o, std::string_view name) {
  const auto* v = field(o, name);
  if (const auto n = v ? sync::exact_int64(*v) : std::nullopt; n && *n >= 0 && *n <= 100) {
    return static_cast<int>(*n);
  }
  if (v && v->is_string()) {
    const auto& s = v->as_string();
    if (!s.empty() && s.size() <= 3 &&
        std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::stoi(std::string(s));
    }
  }
  return std::nullopt;
}

// A weight the app sent (a JSON number, or its text), exactly as written.
std::optional<scale::Decimal> decimal_field(const json::object& o, std::string_view name) {
  const auto* v = field(o, name);
  if (!v) return std::nullopt;
  if (v->is_string()) return scale::Decimal::parse(v->as_string());
  const auto text = sync::number_text(*v);
  return text ? scale::Decimal::parse(*text) : std::nullopt;
}

std::optional<scale::Decimal> decimal_text(const json::value* v) {
  if (!v || !v->is_string()) return std::nullopt;
  return scale::Decimal::parse(v->as_string());
}

// Events that need a prior `register`, as TruConnect has it.
bool needs_registration(std::string_view event) {
  return event == "plate" || event == "transaction-sync" || event == "axle-captured" ||
         event == "vehicle-complete" || event == "query-weight";
}

json::object failure(std::string_view code, std::string message) {
  return json::object{{"success", false}, {"error", code}, {"message", std::move(message)}};
}

std::string_view source_type(const scale::SourceSpec& s) {
  if (std::holds_alternative<scale::TcpSource>(s)) return "tcp";
  if (std::holds_alternative<scale::UdpSource>(s)) return "udp";
  if (std::holds_alternative<scale::SimSource>(s)) return "internal";
  return "serial";
}

bool simulated(const ScaleLive* s) {
  return s && std::holds_alternative<scale::SimSource>(s->config.source);
}

}  // namespace

std::string TruConnect::now_iso() const { return scale::format_timestamp(clock_.now()); }

std::string TruConnect::envelope(std::string_view event, json::object data) const {
  json::object o{{"event", event}, {"data", std::move(data)}, {"timestamp", now_iso()}};
  return serialize_exact(o);
}

json::value exact_number(const scale::Decimal& d) {
  if (d.decimals == 0) return d.units;
  std::int64_t p = 1;
  for (int i = 0; i < d.decimals; ++i) p *= 10;
  if (d.units % p == 0) return d.units / p;
  return sync::exact_number(d.to_string());
}

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
       sync::to_hex(std::span(reinterpret_cast<const unsigned char*>(a.raw.data()), a.raw.size()))},
      {"at_ms",
       std::chrono::duration_cast<std::chrono::milliseconds>(a.at.time_since_epoch()).count()}};
}

scale::AxleCapture axle_from_state(const json::object& o) {
  scale::AxleCapture a;
  a.number = static_cast<int>(o.at("number").to_number<std::int64_t>());
  a.weight = scale::Decimal::parse(o.at("weight").as_string()).value();
  a.reading = scale::Decimal::parse(o.at("reading").as_string()).value();
  a.seq = o.at("seq").to_number<std::uint64_t>();
  if (const auto raw = sync::from_hex(o.at("raw_hex").as_string()))
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
                 sync::log_safe(transaction_id_.empty() ? vehicle_id_ : transaction_id_),
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

json::object TruConnect::endpoints(bool secure) const {
  if (secure && !wss_url_.empty())
    return json::object{{"websocket", wss_url_}, {"api", https_url_}};
  return json::object{{"websocket", ws_url_}, {"api", api_url_}};
}

std::string TruConnect::mode_of(const Client& client) const {
  return client.mode.empty() ? config_.capture_mode : client.mode;
}

json::object TruConnect::station() const {
  return json::object{{"id", nullptr},
                      {"code", config_.station_code},
                      {"name", config_.station_name},
                      {"supportsBidirectional", config_.bidirectional},
                      {"boundACode", config_.bound_a_code},
                      {"boundBCode", config_.bound_b_code},
                      {"currentBound", bound_}};
}

json::object TruConnect::pool() const {
  return json::object{{"totalClients", clients_}, {"registeredClients", registered_}};
}

json::object TruConnect::connection(bool api) const {
  const auto* s = captures_.context().live->find(scale_id_);
  const bool fresh = s && s->connected && s->latest && !s->latest->stale;
  return json::object{
      {"source", scale_id_},
      {"protocol", s ? json::value(s->protocol) : json::value(nullptr)},
      {"type", s ? json::value(source_type(s->config.source)) : json::value(nullptr)},
      {"connected", fresh},
      {"outputMode", api ? "api" : "websocket"},
      {"device", json::object{{"make", nullptr}, {"model", nullptr}, {"capacity", nullptr}}}};
}

std::string TruConnect::open(Client& client) {
  client.id = next_client_id_++;
  ++clients_;
  const auto* s = captures_.context().live->find(scale_id_);
  const bool simulation = simulated(s);
  auto p = pool();
  p["yourClientId"] = client.id;
  return envelope(
      "connected",
      json::object{{"clientId", client.id},
                   {"serverTime", now_iso()},
                   {"message", "Hello! Welcome to weighlink. You are client #" +
                                   std::to_string(client.id) + "."},
                   {"server", json::object{{"name", "weighlink-agent"},
                                           {"version", agent_version_},
                                           {"captureMode", config_.capture_mode},
                                           {"simulation", simulation}}},
                   {"station", json::object{{"code", config_.station_code},
                                            {"name", config_.station_name},
                                            {"supportsBidirectional", config_.bidirectional},
                                            {"currentBound", bound_}}},
                   {"connectionPool", std::move(p)},
                   {"endpoints", endpoints(client.secure)}});
}

void TruConnect::close(Client& client) {
  --clients_;
  if (client.registered) --registered_;
  client.registered = false;
}

json::object TruConnect::weight_data(std::string_view mode, bool api) const {
  const auto* s = captures_.context().live->find(scale_id_);
  const bool simulation = simulated(s);
  std::optional<scale::Reading> r;
  if (s && s->latest) r = s->latest;
  const bool fresh = r && !r->stale && s->connected;
  const bool stable = fresh && r->stable && !r->overload && !r->underload;
  const std::string unit = r ? r->unit : std::string();
  auto kg = [&](const scale::Decimal& d) { return exact_number(in_kg(d, unit)); };
  const scale::Decimal weight = r ? r->weight : scale::Decimal{};

  json::object d;
  d["mode"] = mode;
  if (mode == "multideck") {
    json::array decks;
    for (int i = 1; i <= 4; ++i) {
      scale::Decimal w{};
      // A deck the indicator reports is stable by its own flag (TruConnect says true always);
      // a deck it does not report follows the frame's verdict.
      bool deck_stable = stable;
      if (r && r->decks.empty() && i == 1) w = weight;
      if (r) {
        for (const auto& deck : r->decks) {
          if (deck.index == i) {
            w = deck.weight;
            deck_stable = fresh && deck.stable && !r->overload && !r->underload;
          }
        }
      }
      if (!api) d["deck" + std::to_string(i)] = kg(w);
      decks.push_back(json::object{{"index", i}, {"weight", kg(w)}, {"stable", deck_stable}});
    }
    d["decks"] = std::move(decks);
    d["gvw"] = kg(weight);
    d["vehicleOnDeck"] = fresh && weight.compare(config_.vehicle_on_deck) > 0;
    d["indicatorInfo"] =
        json::object{{"make", nullptr}, {"model", nullptr}, {"signalStrength", nullptr}};
  } else {
    const auto* session = captures_.session(scale_id_);
    scale::Decimal current = weight;
    if (session && r) {
      if (auto pending = session->pending_axle_weight(*r)) current = *pending;
    }
    // One pad shows Math.round(w / 2), the other the rest, as TruConnect splits a combined weight.
    scale::Decimal a = current.half_rounded_up();
    scale::Decimal b = current.minus(a).value_or(scale::Decimal{});
    std::string split = "combined";
    if (r && r->decks.size() == 2) {
      a = r->decks[0].weight;
      b = r->decks[1].weight;
      split = "separate";
    }
    auto pad = [&](const scale::Decimal& w) {
      return json::object{{"connected", fresh},
                          {"weight", kg(w)},
                          {"battery", nullptr},
                          {"temperature", nullptr},
                          {"signalStrength", nullptr}};
    };
    json::array axles;
    json::array axle_weights;
    scale::Decimal gvw{};
    int captured = 0;
    int expected = 0;
    if (session) {
      for (const auto& axle : session->axles()) {
        axles.push_back(json::object{{"axleNumber", axle.number},
                                     {"weight", kg(axle.weight)},
                                     {"timestamp", scale::format_timestamp(axle.at)}});
        axle_weights.push_back(kg(axle.weight));
      }
      captured = static_cast<int>(session->axles().size());
      expected = session->options().expected_axles;
      gvw = session->running_gvw();
    }
    const scale::Decimal running = gvw.plus(current).value_or(gvw);
    d["weight"] = kg(current);
    d["currentWeight"] = kg(current);
    d["scaleA"] = kg(a);
    d["scaleB"] = kg(b);
    d["scaleWeightMode"] = split;
    d["scaleAStatus"] = pad(a);
    d["scaleBStatus"] = pad(b);
    d["runningTotal"] = kg(running);
    d["runningGvw"] = kg(running);
    d["axleNumber"] = captured + 1;
    d["axleWeights"] = axle_weights;
    d["session"] = json::object{{"currentAxle", captured},
                                {"totalAxles", expected},
                                {"axles", std::move(axles)},
                                {"gvw", kg(gvw)}};
    d["scaleInfo"] = json::object{{"battery", nullptr},
                                  {"temperature", nullptr},
                                  {"signalStrength", nullptr},
                                  {"make", nullptr},
                                  {"model", nullptr}};
  }
  d["stable"] = stable;
  d["unit"] = out_unit(unit);
  d["simulation"] = simulation;
  // weighlink's additions: never a frozen weight served as live.
  d["stale"] = !fresh;
  d["seq"] = r ? r->seq : 0;
  d["readingTime"] = r ? json::value(scale::format_timestamp(r->ts)) : json::value(nullptr);
  if (!api) d["connection"] = connection(false);
  return d;
}

std::string TruConnect::weight_message(std::string_view mode) const {
  return envelope(mode == "multideck" ? "weights" : "weight", weight_data(mode, false));
}

json::object TruConnect::status_data(bool secure) const {
  const auto* s = captures_.context().live->find(scale_id_);
  const auto multideck = weight_data("multideck", true);
  const auto* session = captures_.session(scale_id_);
  json::array axles;
  if (session) {
    for (const auto& a : session->axles()) {
      axles.push_back(json::object{{"axleNumber", a.number},
                                   {"weight", exact_number(a.weight)},
                                   {"timestamp", scale::format_timestamp(a.at)}});
    }
  }
  json::object weights;
  for (const auto& deck : multideck.at("decks").as_array()) {
    weights["deck" + std::to_string(deck.at("index").as_int64())] = deck.at("weight");
  }
  weights["gvw"] = multideck.at("gvw");
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.steady_now() - started_).count();
  return json::object{
      {"mode", config_.capture_mode},
      {"station", station()},
      {"bound", bound_},
      {"weights", std::move(weights)},
      {"vehicleOnDeck", multideck.at("vehicleOnDeck")},
      {"plate", json::object{{"plate", plate_.empty() ? json::value(nullptr) : json::value(plate_)},
                             {"source", plate_.empty() ? json::value(nullptr) : "frontend"}}},
      {"mobile",
       json::object{{"currentAxle", session ? static_cast<int>(session->axles().size()) : 0},
                    {"totalAxles", session ? session->options().expected_axles : 0},
                    {"axles", std::move(axles)},
                    {"gvw", session ? exact_number(session->running_gvw()) : json::value(0)}}},
      {"inputSource",
       json::object{{"name", scale_id_},
                    {"protocol", s ? json::value(s->protocol) : json::value(nullptr)},
                    {"connectionType",
                     s ? json::value(source_type(s->config.source)) : json::value(nullptr)},
                    {"connected", connection(true).at("connected")}}},
      {"simulation", multideck.at("simulation")},
      {"stale", multideck.at("stale")},
      {"server", json::object{{"name", "weighlink-agent"},
                              {"version", agent_version_},
                              {"captureMode", config_.capture_mode},
                              {"uptime", uptime}}},
      {"connectionPool", pool()},
      {"endpoints", endpoints(secure)}};
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
  spdlog::warn("truconnect: {} {}: {} (key {})", event, code, sync::log_safe(message),
               sync::log_safe(key));
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
  if (reading.scale != scale_id_ || reading.weight.compare(config_.vehicle_on_deck) <= 0) return;
  auto& plateaus = app_.plateaus;
  auto same = [&](const scale::Reading& a) {
    if (a.weight != reading.weight || a.unit != reading.unit ||
        a.decks.size() != reading.decks.size())
      return false;
    for (std::size_t i = 0; i < a.decks.size(); ++i) {
      if (a.decks[i].weight != reading.decks[i].weight) return false;
    }
    return true;
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
        const auto n = sync::exact_int64(a.at("number"));
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

void TruConnect::on_message(Client& client, std::string_view text, Send send) {
  // Read exactly: a number the app sends (client_axle_weights) is recorded as it was written.
  auto parsed = sync::parse_exact(text);
  auto& v = parsed.value;
  const json::object* o = (!parsed.refusal && sync::is_json_object(v)) ? &v.as_object() : nullptr;
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
  if (data && !sync::is_json_object(*data) && !data->is_null()) {
    send(envelope("error", json::object{{"message", "Invalid message format"},
                                        {"code", "invalid_data"},
                                        {"detail", "\"data\" must be an object"}}));
    return;
  }
  if (needs_registration(name) && !client.registered) {
    send(envelope(
        "error",
        json::object{{"message", "Not registered"}, {"code", "not_registered"}, {"event", name}}));
    return;
  }
  static const json::object kEmpty;
  const json::object& d = data && sync::is_json_object(*data) ? data->as_object() : kEmpty;
  dispatch(client, name, d, [this, send](std::string ev, json::object body) {
    send(envelope(ev, std::move(body)));
  });
}

void TruConnect::dispatch(Client& client, const std::string& event, const json::object& data,
                          Reply reply) {
  // Whatever the event changed of the vehicle is saved once it is handled (every return).
  struct SaveAfter {
    const TruConnect* tc;
    bool on;
    ~SaveAfter() {
      if (on) tc->save();
    }
  } save_after{this, event != "status-request" && event != "query-weight"};
  if (event == "register") {
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
                 sync::log_safe(client.station_code));
    const auto* s = captures_.context().live->find(scale_id_);
    reply("register-ack",
          json::object{
              {"success", true},
              {"message", "Registration successful! Welcome to " + config_.station_name + "."},
              {"client", json::object{{"clientId", client.id},
                                      {"stationCode", client.station_code},
                                      {"bound", client.bound},
                                      {"mode", client.mode}}},
              {"station", station()},
              {"server",
               json::object{{"captureMode", config_.capture_mode}, {"simulation", simulated(s)}}},
              {"connectionPool", pool()}});
    // The full live frame for the client's mode at once (TruConnect's bare frame here makes the
    // multideck page show zero decks until the next reading).
    const bool multi = client.mode == "multideck";
    reply(multi ? "weights" : "weight", weight_data(client.mode, false));
    return;
  }
  if (event == "plate") {
    plate_ = string_field(data, "plateNumber");
    reply("plate-ack", json::object{{"success", true}, {"plateNumber", plate_}});
    return;
  }
  if (event == "bound-switch") {
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
                                  {"detail", "bound must be A, B, " + config_.bound_a_code +
                                                 " or " + config_.bound_b_code}});
      return;
    }
    reply("bound-ack", json::object{{"success", true}, {"bound", bound_}});
    return;
  }
  if (event == "status-request") {
    reply("status", status_data(client.secure));
    return;
  }
  if (event == "transaction-sync") {
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
                       sync::log_safe(id), session->axles().size());
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
    return;
  }
  if (event == "update-config") {
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
    return;
  }
  if (event == "axle-captured") return capture_axle(data, std::move(reply));
  if (event == "vehicle-complete") return vehicle_complete(client, data, std::move(reply));
  if (event == "weights-captured") {
    const auto* session = captures_.session(scale_id_);
    if (session && session->state() == scale::AxleSession::State::weighing &&
        !session->axles().empty()) {
      return complete_session(vehicle_key() + ":complete", std::move(reply),
                              "weights-captured-ack");
    }
    reply("weights-captured-ack", json::object{{"success", true}});
    return;
  }
  if (event == "capture-request") return capture_static(data, std::move(reply));
  if (event == "reset-session") {
    reset_session();
    reply("session-reset-ack", json::object{{"success", true}});
    return;
  }
  if (event == "query-weight") {
    reply("query-weight-ack", json::object{{"success", true}});
    reply(mode_of(client) == "multideck" ? "weights" : "weight",
          weight_data(mode_of(client), false));
    return;
  }
  if (event == "enter" || event == "move-forward" || event == "move-back" || event == "stop") {
    // Traffic control is not wired to anything here; say so instead of pretending.
    reply(event + "-ack",
          json::object{{"success", false},
                       {"supported", false},
                       {"message", "traffic control is not handled by weighlink-agent"}});
    return;
  }
  reply("error", json::object{{"message", "Unknown event: " + event.substr(0, 64)},
                              {"code", "unknown_event"},
                              {"event", event.substr(0, 64)}});
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
                 sync::log_safe(vehicle_key()), sync::log_safe(code));
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

void TruConnect::capture_axle(const json::object& data, Reply reply) {
  // The axle the browser names keys the capture: a re-sent axle-captured for the same axle
  // answers with the axle already captured instead of capturing the next one. The browser's
  // weight is not recorded as the axle's: the agent binds its own stable reading, and keeps the
  // browser's beside it (the record's `app`).
  const auto* session = captures_.session(scale_id_);
  if (!session) {
    const auto e = unknown_scale(scale_id_);
    reply("axle-captured-ack", failure(e.code, e.message));
    return;
  }
  const int last = app_.recorded.empty() ? session->last_number() : app_.recorded.back().number;
  const auto number = int_field(data, "axleNumber");
  const int n = number && *number > 0 ? *number : last + 1;
  if (app_.config_changed && n <= last) restart_vehicle();
  const auto* live = captures_.context().live->find(scale_id_);
  const std::string unit = live && live->latest ? live->latest->unit : std::string();
  if (!app_.recorded.empty()) {
    // The weighing is recorded: a re-sent axle answers with what it recorded; another axle is
    // refused (the app changes the axle configuration, or resets, to weigh the vehicle again).
    for (const auto& a : app_.recorded) {
      if (a.number != n) continue;
      reply("axle-captured-ack",
            json::object{{"success", true},
                         {"axleNumber", a.number},
                         {"weight", exact_number(in_kg(a.weight, unit))},
                         {"isComplete", true},
                         {"readingSeq", a.seq},
                         {"idempotencyKey", vehicle_key() + ":axle:" + std::to_string(n)}});
      return;
    }
    const auto message = "the weighing of this vehicle is recorded already (axles 1.." +
                         std::to_string(last) + "); reset, or change the axle configuration, " +
                         "to weigh it again";
    notice("axle-captured", "already_recorded", "axle " + std::to_string(n) + ": " + message,
           vehicle_key());
    reply("axle-captured-ack", failure("already_recorded", message));
    return;
  }
  if (session->state() != scale::AxleSession::State::weighing) {
    (void)captures_.start_session(scale_id_, session->options().expected_axles, true);
  }
  if (auto w = decimal_field(data, "weight")) app_.axle_weights[n] = *w;
  app_.refusals.erase(n);
  const auto key = vehicle_key() + ":axle:" + std::to_string(n);
  const auto hash = sync::sha256_hex("truconnect axle-captured\n" + std::to_string(n));
  const auto timeout = std::chrono::milliseconds(3000);
  // The app has moved on once it sends the next axle: an axle still waiting for the scale to
  // settle is given up (recorded as missing, with the reason) instead of refusing the next one.
  const AxleRequest how{n, true};
  captures_.capture_axle(
      scale_id_, key, hash, timeout,
      [this, reply, key, n](AxleOutcome outcome) {
        const auto* session = captures_.session(scale_id_);
        const int captured = session ? static_cast<int>(session->axles().size()) : 0;
        const int expected = session ? session->options().expected_axles : 0;
        const auto gvw = session ? session->running_gvw() : scale::Decimal{};
        const auto* live = captures_.context().live->find(scale_id_);
        const std::string unit = live && live->latest ? live->latest->unit : std::string();
        // The app's last axle is in (captured or not): the weighing goes to the outbox now, so
        // it is recorded even if the browser never confirms (TruConnect's auto-weigh moment).
        const bool last_axle = expected > 0 && n >= expected;
        if (outcome.error) {
          // Still this vehicle (not reset or restarted meanwhile): its refusal is kept.
          if (const auto now = current_vehicle_key(); !now.empty() && key.starts_with(now + ":")) {
            app_.refusals[n] = outcome.error->code + ": " + outcome.error->message;
            save();
          }
          notice("axle-captured", outcome.error->code,
                 "axle " + std::to_string(n) + ": " + outcome.error->message, key);
          auto body = failure(outcome.error->code, outcome.error->message);
          body["capturedAxles"] = captured;
          body["expectedAxles"] = expected;
          body["gvw"] = exact_number(in_kg(gvw, unit));
          reply("axle-captured-ack", std::move(body));
          reply("error",
                json::object{{"message", outcome.error->message}, {"code", outcome.error->code}});
          // The app's last axle refused by the scale: the vehicle is recorded without it. Not
          // when the axle was given up because the app moved on (reset, restart, next axle).
          const auto& code = outcome.error->code;
          if (last_axle && captured > 0 && code != "session_busy" && code != "session_reset" &&
              code != "superseded") {
            complete_session(
                vehicle_key() + ":complete", [](std::string, json::object) {}, "");
          }
          return;
        }
        reply("axle-captured-ack",
              json::object{{"success", true},
                           {"axleNumber", outcome.axle.number},
                           {"weight", exact_number(in_kg(outcome.axle.weight, unit))},
                           {"isComplete", last_axle},
                           {"capturedAxles", captured},
                           {"expectedAxles", expected},
                           {"gvw", exact_number(in_kg(gvw, unit))},
                           {"readingSeq", outcome.axle.seq},
                           {"idempotencyKey", key}});
        if (last_axle && !outcome.replayed) {
          complete_session(
              vehicle_key() + ":complete", [](std::string, json::object) {}, "");
        }
      },
      how);
}

namespace {

using ReplyFn = std::function<void(std::string, json::object)>;

// The ack for a capture that ends in the outbox: refused (with an `error` event the web app
// shows), not recorded, or recorded with its key, seq, GVW (kg) and capture time.
void answer_capture(const std::string& ack, const std::string& key, const CaptureOutcome& outcome,
                    const ReplyFn& reply) {
  if (ack.empty()) return;
  if (outcome.error) {
    reply(ack, failure(outcome.error->code, outcome.error->message));
    reply("error",
          json::object{{"message", outcome.error->message}, {"code", outcome.error->code}});
    return;
  }
  const auto& e = outcome.enqueued;
  if (e.status != sync::EnqueueStatus::accepted && e.status != sync::EnqueueStatus::replayed) {
    spdlog::error("truconnect: weighing {} not recorded: {}", sync::log_safe(key), e.message);
    reply(ack, failure(e.status == sync::EnqueueStatus::full ? "outbox_full" : "outbox_error",
                       "the weighing was not recorded: " + e.message));
    return;
  }
  json::object body{{"success", true}, {"idempotencyKey", key}, {"seq", e.row.seq}};
  json::error_code ec;
  auto payload = json::parse(e.row.payload_json, ec);
  if (!ec && payload.is_object()) {
    const auto& p = payload.as_object();
    const auto* w = p.if_contains("gvw") ? p.if_contains("gvw") : p.if_contains("weight");
    const auto* u = p.if_contains("unit");
    if (w && w->is_string() && u && u->is_string()) {
      if (auto d = scale::Decimal::parse(w->as_string())) {
        body["gvw"] = exact_number(in_kg(*d, std::string(u->as_string())));
      }
    }
    if (const auto* at = p.if_contains("captured_at")) body["capturedAt"] = *at;
  }
  reply(ack, std::move(body));
}

// The outcome recorded under `key` already, if any: a re-sent message answers with it.
std::optional<CaptureOutcome> recorded(sync::Outbox& outbox, const std::string& key) {
  auto existing = outbox.find(key);
  if (!existing) return std::nullopt;
  CaptureOutcome o;
  o.enqueued.status = sync::EnqueueStatus::replayed;
  o.enqueued.row = std::move(*existing);
  return o;
}

}  // namespace

json::object TruConnect::reference() const {
  json::object ref{{"source", "truconnect"}, {"bound", bound_}};
  if (!transaction_id_.empty()) ref["transaction_id"] = transaction_id_;
  if (!vehicle_reg_.empty()) ref["vehicle_reg_number"] = vehicle_reg_;
  if (!plate_.empty()) ref["plate"] = plate_;
  if (!axle_config_code_.empty()) ref["axle_configuration_code"] = axle_config_code_;
  return ref;
}

void TruConnect::complete_session(const std::string& key, Reply reply, std::string ack_event) {
  if (auto done = recorded(*captures_.context().outbox, key)) {
    (void)captures_.reset_session(scale_id_);
    return answer_capture(ack_event, key, *done, reply);
  }
  CaptureRequest req;
  req.scale_id = scale_id_;
  req.idempotency_key = key;
  req.request_hash = sync::sha256_hex("truconnect complete\n" + key);
  req.reference = reference();
  // The app has committed the vehicle: it is recorded with the axles the agent captured, an axle
  // it could not capture listed as missing with the reason, and the app's own values beside.
  req.allow_missing_axles = true;
  req.annotate = axle_annotation(key);
  const auto* session = captures_.session(scale_id_);
  auto axles = session ? session->axles() : std::vector<scale::AxleCapture>{};
  const int epoch = app_.epoch;
  captures_.complete_session(std::move(req), [this, reply, ack_event, key, epoch,
                                              axles = std::move(axles)](CaptureOutcome outcome) {
    const auto st = outcome.enqueued.status;
    if (!outcome.error && epoch == app_.epoch &&
        (st == sync::EnqueueStatus::accepted || st == sync::EnqueueStatus::replayed)) {
      app_.recorded = axles;
      save();
    }
    if (outcome.error) {
      notice(ack_event.empty() ? "axle-captured" : ack_event, outcome.error->code,
             "the vehicle's weighing was not recorded: " + outcome.error->message, key);
    }
    answer_capture(ack_event, key, outcome, reply);
  });
}

void TruConnect::capture_now(CaptureRequest req, std::string ack_event, Reply reply) {
  const auto key = req.idempotency_key;
  req.scale_id = scale_id_;
  req.request_hash = sync::sha256_hex("truconnect " + ack_event + "\n" + key);
  req.timeout = std::chrono::milliseconds(3000);
  if (auto done = recorded(*captures_.context().outbox, key)) {
    return answer_capture(ack_event, key, *done, reply);
  }
  captures_.capture(std::move(req), [this, reply, ack_event, key](CaptureOutcome outcome) {
    if (outcome.error) notice(ack_event, outcome.error->code, outcome.error->message, key);
    answer_capture(ack_event, key, outcome, reply);
  });
}

void TruConnect::vehicle_complete(const Client& client, const json::object& data, Reply reply) {
  const auto id = string_field(data, "transactionId");
  if (!id.empty() && transaction_id_.empty()) transaction_id_ = id;
  const auto* session = captures_.session(scale_id_);
  if (mode_of(client) == "mobile" && session &&
      session->state() != scale::AxleSession::State::idle) {
    return complete_session(vehicle_key() + ":complete", std::move(reply), "vehicle-complete-ack");
  }
  // Multi-deck: the operator pressed "Take Weight" in the app, which tells the agent nothing; it
  // hears of the weighing only now, when the app confirms, and the truck may have left. The
  // weight recorded is the vehicle's stable deck weight the app took (its GVW), else the stable
  // weight now, else the vehicle's last stable weight; the app's values are kept beside it.
  CaptureRequest req;
  req.idempotency_key = vehicle_key() + ":vehicle-complete";
  req.reference = reference();
  const auto* live = captures_.context().live->find(scale_id_);
  const std::string unit = live && live->latest ? live->latest->unit : std::string();
  const auto app_gvw = decimal_field(data, "gvw");
  auto now = captures_.pin(scale_id_);
  if (now && now->reading.weight.compare(config_.vehicle_on_deck) <= 0) now.reset();
  std::vector<scale::Decimal> plateaus;
  for (const auto& p : app_.plateaus) plateaus.push_back(in_kg(p.reading.weight, unit));
  const auto like =
      now ? now->reading.weight
          : (app_.plateaus.empty() ? scale::Decimal{} : app_.plateaus.back().reading.weight);
  const auto div = division(like);
  const auto choice = choose_take_weight(
      plateaus, now ? std::optional(in_kg(now->reading.weight, unit)) : std::nullopt, app_gvw, div);
  if (choice.from == TakeChoice::From::current) req.pinned = std::move(now);
  if (choice.from == TakeChoice::From::earlier) req.pinned = app_.plateaus[choice.plateau];
  json::object extra{{"source", "truconnect"}, {"reading_choice", choice.reason}};
  if (const auto* w = data.if_contains("axleWeights"); w && w->is_array()) {
    extra["axle_weights"] = *w;  // as the app sent them (numbers kept exactly)
    req.reference["client_axle_weights"] = *w;
  }
  req.annotate = [this, app_gvw, key = req.idempotency_key,
                  extra = std::move(extra)](json::object& payload) {
    const auto unit = std::string(payload.at("unit").as_string());
    const auto weight = decimal_text(payload.if_contains("weight"));
    std::vector<PartValues> parts{PartValues{
        "gvw", app_gvw, weight ? std::optional(in_kg(*weight, unit)) : std::nullopt, {}}};
    annotate_record(payload, parts, division(weight.value_or(scale::Decimal{})), out_unit(unit),
                    extra);
    notice_discrepancy(payload, key);
  };
  const auto key = req.idempotency_key;
  capture_now(std::move(req), "vehicle-complete-ack",
              [this, key, reply = std::move(reply)](std::string event, json::object body) {
                if (event == "vehicle-complete-ack" && body.contains("success") &&
                    body.at("success") == json::value(true)) {
                  app_.plateaus.clear();  // the next vehicle's weights start afresh
                }
                reply(std::move(event), std::move(body));
              });
}

void TruConnect::capture_static(const json::object& data, Reply reply) {
  const auto type = string_field(data, "type");
  const auto deck = string_field(data, "deck");
  CaptureRequest req;
  req.idempotency_key = vehicle_key() + ":capture:" + key_part(type.empty() ? "weight" : type) +
                        (deck.empty() ? "" : ":" + key_part(deck));
  req.reference = reference();
  if (!type.empty()) req.reference["type"] = type;
  capture_now(std::move(req), "capture-ack", std::move(reply));
}

void TruConnect::http(const HttpRequest& request, std::function<void(HttpResponse)> respond) {
  auto json_reply = [](int status, const json::value& body) {
    HttpResponse r;
    r.status = status;
    r.body = serialize_exact(body);
    return r;
  };
  auto url = boost::urls::parse_origin_form(request.target);
  if (!url) {
    return respond(json_reply(400, json::object{{"success", false}, {"error", "Bad request"}}));
  }
  std::string path = url->path();
  constexpr std::string_view kBase = "/api/v1";
  if (!path.starts_with(kBase)) {
    return respond(
        json_reply(404, json::object{{"success", false}, {"error", "Endpoint not found"}}));
  }
  path = path.substr(kBase.size());
  const auto& m = request.method;
  std::string mode = rest_mode_.empty() ? config_.capture_mode : rest_mode_;
  for (const auto& p : url->params()) {
    if (p.key == "mode" && (p.value == "mobile" || p.value == "multideck")) mode = p.value;
  }
  if (m == "GET") {
    if (path == "/health") {
      return respond(json_reply(200, json::object{{"status", "ok"}, {"timestamp", now_iso()}}));
    }
    if (path == "/weights") {
      const auto data = weight_data(mode, true);
      return respond(
          json_reply(200, json::object{{"success", true},
                                       {"mode", mode},
                                       {"simulation", data.at("simulation")},
                                       {"websocketAvailable", true},
                                       {"websocketUrl", endpoints(request.secure).at("websocket")},
                                       {"data", data},
                                       {"connection", connection(true)},
                                       {"timestamp", now_iso()}}));
    }
    if (path.starts_with("/weights/")) {
      const auto deck = path.substr(9);
      const auto data = weight_data("multideck", true);
      for (const auto& d : data.at("decks").as_array()) {
        if (std::to_string(d.at("index").as_int64()) == deck) {
          return respond(
              json_reply(200, json::object{{"success", true},
                                           {"data", json::object{{"deck", d.at("index")},
                                                                 {"weight", d.at("weight")},
                                                                 {"stable", d.at("stable")}}},
                                           {"timestamp", now_iso()}}));
        }
      }
      return respond(json_reply(
          404,
          json::object{{"success", false}, {"error", "Deck " + deck.substr(0, 8) + " not found"}}));
    }
    if (path == "/gvw") {
      const auto data = weight_data(mode, true);
      json::value gvw = mode == "multideck" ? data.at("gvw") : data.at("session").at("gvw");
      auto c = connection(true);
      c.erase("outputMode");
      c.erase("device");
      return respond(json_reply(200, json::object{{"success", true},
                                                  {"mode", mode},
                                                  {"data", json::object{{"gvw", gvw}}},
                                                  {"connection", std::move(c)},
                                                  {"timestamp", now_iso()}}));
    }
    if (path == "/status") {
      return respond(json_reply(200, json::object{{"success", true},
                                                  {"data", status_data(request.secure)},
                                                  {"timestamp", now_iso()}}));
    }
    return respond(
        json_reply(404, json::object{{"success", false}, {"error", "Endpoint not found"}}));
  }
  static const std::set<std::string, std::less<>> kPosts = {
      "/plate",         "/capture",  "/transaction-sync", "/axle-captured",    "/vehicle-complete",
      "/reset-session", "/register", "/update-config",    "/weights-captured", "/bound-switch",
      "/query-weight"};
  if (m != "POST" || !kPosts.contains(path)) {
    return respond(
        json_reply(404, json::object{{"success", false}, {"error", "Endpoint not found"}}));
  }
  auto parsed = sync::parse_exact(request.body.empty() ? std::string("{}") : request.body);
  auto& body = parsed.value;
  if (parsed.refusal || !sync::is_json_object(body)) {
    json::object answer{
        {"success", false}, {"error", "Invalid message format"}, {"timestamp", now_iso()}};
    if (parsed.refusal) answer["detail"] = parsed.refusal->message;
    return respond(json_reply(400, answer));
  }
  std::string event = path.substr(1);
  if (event == "capture") event = "capture-request";
  const auto& data = body.as_object();
  // Required fields, as TruConnect's REST API checks them.
  auto missing = [&](const char* message) {
    respond(json_reply(
        400, json::object{{"success", false}, {"error", message}, {"timestamp", now_iso()}}));
  };
  if (event == "plate" && string_field(data, "plateNumber").empty()) {
    return missing("plateNumber is required");
  }
  if (event == "register" && string_field(data, "stationCode").empty()) {
    return missing("stationCode is required");
  }
  if (event == "bound-switch" && string_field(data, "bound").empty()) {
    return missing("bound is required");
  }
  if (event == "axle-captured" && !int_field(data, "axleNumber")) {
    return missing("axleNumber is required");
  }
  if (event == "register") {
    const auto m2 = string_field(data, "mode");
    if (m2 == "mobile" || m2 == "multideck") rest_mode_ = m2;
    rest_client_.mode = rest_mode_;
    return respond(json_reply(
        200, json::object{{"success", true},
                          {"data", json::object{{"stationCode", string_field(data, "stationCode")},
                                                {"bound", string_field(data, "bound").empty()
                                                              ? bound_
                                                              : string_field(data, "bound")}}},
                          {"message", "Note: API polling does not maintain persistent connection"},
                          {"timestamp", now_iso()}}));
  }
  rest_client_.mode = mode;
  rest_client_.secure = request.secure;
  // The first reply is the answer; an `error` reply is a refusal.
  auto answered = std::make_shared<bool>(false);
  auto respond_once = std::make_shared<std::function<void(HttpResponse)>>(std::move(respond));
  dispatch(rest_client_, event, data,
           [this, answered, respond_once, json_reply](std::string ev, json::object d) {
             if (*answered) return;
             *answered = true;
             if (ev == "error") {
               (*respond_once)(json_reply(
                   400, json::object{{"success", false},
                                     {"error", d.contains("message") ? d.at("message")
                                                                     : json::value("error")},
                                     {"code", d.contains("code") ? d.at("code") : nullptr},
                                     {"timestamp", now_iso()}}));
               return;
             }
             const bool ok = !d.contains("success") || d.at("success") == json::value(true);
             const int status = ok                                                            ? 200
                                : d.contains("error") && d.at("error") == "scale_unavailable" ? 503
                                                                                              : 409;
             json::object out{{"success", ok}, {"data", d}, {"timestamp", now_iso()}};
             if (!ok) out["error"] = d.contains("message") ? d.at("message") : json::value("");
             (*respond_once)(json_reply(status, out));
           });
}

}  // namespace weighlink::agent
