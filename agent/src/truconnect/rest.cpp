// TruConnect's REST API on the compatibility port (/api/v1/...): the app's polling and the same
// events as the socket, answered once each.
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <memory>
#include <set>

#include "truconnect/fields.hpp"
#include "weighlink/agent/truconnect.hpp"
#include "weighlink/record/exact_json.hpp"

namespace weighlink::agent {
namespace json = boost::json;
using namespace truconnect;

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
  auto parsed = record::parse_exact(request.body.empty() ? std::string("{}") : request.body);
  auto& body = parsed.value;
  if (parsed.refusal || !record::is_json_object(body)) {
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
  dispatch(
      rest_client_, event, data,
      [this, answered, respond_once, json_reply](const std::string& ev, const json::object& d) {
        if (*answered) return;
        *answered = true;
        if (ev == "error") {
          (*respond_once)(json_reply(
              400, json::object{
                       {"success", false},
                       {"error", d.contains("message") ? d.at("message") : json::value("error")},
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
