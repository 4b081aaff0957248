// The TruConnect layer's JSON output: the envelope, `connected`, the live weight frames for both
// modes, the status document (docs/truconnect-compat.md has the shapes).
#include <boost/json.hpp>

#include "truconnect/fields.hpp"
#include "weighlink/agent/truconnect.hpp"
#include "weighlink/record/exact_json.hpp"

namespace weighlink::agent {
namespace json = boost::json;
using namespace truconnect;

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
  return record::exact_number(d.to_string());
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
    d["vehicleOnDeck"] = fresh && std::is_gt(weight.compare(config_.vehicle_on_deck));
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

}  // namespace weighlink::agent
