#pragma once
// TruConnect compatibility (SPEC §4, docs/truconnect-compat.md): the socket protocol and REST API
// the TruLoad web app speaks, mapped onto weighlink's own captures and axle sessions so every
// capture still reaches the outbox with an idempotency key. The message logic only: the Beast
// adapter feeds it text messages and HTTP requests, and sends what it answers.
// Where TruConnect is unsafe weighlink is not: stable flags (per deck too) are true only when the
// indicator is stable and the reading is fresh, a stale scale reports connection.connected false,
// and captures bind the agent's reading, never the weight the browser sends.
// Threading: io thread only.

#include <boost/json/object.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/agent/captures.hpp"
#include "weighlink/agent/clock.hpp"
#include "weighlink/agent/config.hpp"
#include "weighlink/agent/http_types.hpp"
#include "weighlink/agent/live_state.hpp"
#include "weighlink/record/exact_json.hpp"

namespace weighlink::agent {

class TruConnect {
 public:
  // One socket client (or the REST API, as one implicitly registered client).
  struct Client {
    int id = 0;
    bool registered = false;
    std::string mode;  // mobile | multideck
    std::string station_code;
    std::string bound;
    bool secure = false;  // connected over TLS: told the wss/https addresses
  };
  // Sends one message to the client: the event and its data (the envelope is added here).
  using Send = std::function<void(std::string)>;

  TruConnect(TruConnectConfig config, Captures& captures, std::string agent_version);

  [[nodiscard]] const TruConnectConfig& config() const { return config_; }
  [[nodiscard]] const std::string& scale_id() const { return scale_id_; }
  // Addresses written into `connected` and /weights (the real bound ports).
  void set_endpoints(std::string ws_url, std::string api_url);
  // The same over TLS (wss://, https://), named to clients that came over TLS.
  void set_tls_endpoints(std::string wss_url, std::string https_url);
  // Traffic control: `enter`, `move-forward`, `move-back` and `stop` with their data. The answer
  // is merged into the `<event>-ack` (success true, supported true); nullopt, or unset: answered
  // supported:false as TruConnect does when nothing is wired (the station's lights, devices.hpp).
  using Traffic = std::function<std::optional<boost::json::object>(
      const std::string& event, const boost::json::object& data)>;
  void set_traffic(Traffic traffic) { traffic_ = std::move(traffic); }

  // A new socket client: its id, and the `connected` message to send first.
  [[nodiscard]] std::string open(Client& client);
  void close(Client& client);
  // One text message from a socket client. Replies go through `send`, possibly later (captures
  // wait for a stable reading); `send` must tolerate a client that has gone.
  void on_message(Client& client, std::string_view text, const Send& send);

  // The live frame for a client of `mode` ("weight" for mobile, "weights" for multideck), from
  // the scale's latest reading and axle session. The server builds it once per reading and mode.
  [[nodiscard]] std::string weight_message(std::string_view mode) const;

  // Every reading of the scale (io thread): the vehicle's stable weights on the decks are kept so
  // that the weight recorded at the app's confirmation is the one the operator took.
  void on_reading(const scale::Reading& reading);

  // What the app cannot show (it ignores acknowledgements): refusals and discrepancies, newest
  // last, at most kMaxNotices. Also logged as warnings.
  static constexpr std::size_t kMaxNotices = 20;
  [[nodiscard]] const std::deque<boost::json::object>& notices() const { return notices_; }

  // REST on the compatibility port (/api/v1/...). `respond` is called exactly once.
  void http(const HttpRequest& request, std::function<void(HttpResponse)> respond);

 private:
  using Reply = std::function<void(std::string event, boost::json::object data)>;

  // One event of a client (a socket message, or a REST call as the implicit REST client).
  struct Event {
    const std::string& name;
    Client& client;
    const boost::json::object& data;
    Reply reply;
  };
  using Handler = void (TruConnect::*)(Event&);
  struct Route {
    Handler handler;
    bool needs_registration;  // refused before `register`, as TruConnect does
    bool changes_vehicle;     // the vehicle's state is saved once it is handled
  };
  // The handler of `event` (messages.cpp has the table); null for an unknown event.
  [[nodiscard]] static const Route* route(std::string_view event);
  void dispatch(Client& client, const std::string& event, const boost::json::object& data,
                Reply reply);
  // The handlers (messages.cpp; the capturing ones in weighing.cpp).
  void on_register(Event& e);
  void on_plate(Event& e);
  void on_bound_switch(Event& e);
  void on_status_request(Event& e);
  void on_transaction_sync(Event& e);
  void on_update_config(Event& e);
  void on_axle_captured(Event& e);
  void on_vehicle_complete(Event& e);
  void on_weights_captured(Event& e);
  void on_capture_request(Event& e);
  void on_reset_session(Event& e);
  void on_query_weight(Event& e);
  void on_traffic_control(Event& e);
  void complete_session(const std::string& key, const Reply& reply, const std::string& ack_event);
  // A static capture of the scale under `req.idempotency_key`, answered with `ack_event`.
  void capture_now(CaptureRequest req, const std::string& ack_event, const Reply& reply);
  // What the web app told about the vehicle, recorded with its weighing.
  [[nodiscard]] boost::json::object reference() const;
  void reset_session();
  // A new vehicle (or none): the app's state for the previous one is dropped.
  void forget_vehicle();
  // transaction-sync or update-config for the same vehicle with another axle configuration: if
  // the vehicle has axles, the app weighs it again from axle 1 (acted on at that axle).
  void config_change(const std::string& code, std::optional<int> expected);
  // The app restarted the vehicle: a new epoch, the old axles kept for the record's audit.
  void restart_vehicle();
  // The app's values for the vehicle's axles beside the agent's, for the record.
  [[nodiscard]] std::function<void(boost::json::object&)> axle_annotation(const std::string& key);
  // A notice naming the parts of a flagged record (annotate_record's `discrepancy`).
  void notice_discrepancy(const boost::json::object& payload, const std::string& key);
  // One scale division in the unit the app sees (kg): the configured division, else one unit in
  // the last digit of `like`.
  [[nodiscard]] scale::Decimal division(const scale::Decimal& like) const;
  void notice(std::string event, std::string code, std::string message, std::string key);
  // The vehicle as the app weighs it (transaction, plate, epoch, the app's values, refusals, the
  // recorded axles) is saved in the outbox's durable state after each change, and restored at
  // start: an agent restarted mid-vehicle keeps the numbering and what the app committed.
  void save() const;
  void restore();

  [[nodiscard]] std::string now_iso() const;
  // {"event", "data", "timestamp"}: every socket message.
  [[nodiscard]] std::string envelope(std::string_view event, boost::json::object data) const;
  [[nodiscard]] boost::json::object weight_data(std::string_view mode, bool api) const;
  [[nodiscard]] boost::json::object connection(bool api) const;
  [[nodiscard]] boost::json::object station() const;
  [[nodiscard]] boost::json::object status_data(bool secure) const;
  // {websocket, api}: the plain addresses, or the TLS ones for a client that came over TLS.
  [[nodiscard]] boost::json::object endpoints(bool secure) const;
  [[nodiscard]] boost::json::object pool() const;
  [[nodiscard]] std::string mode_of(const Client& client) const;
  // The idempotency-key prefix of the vehicle being weighed: the synced transaction, else a
  // session id made when the first axle or capture arrived.
  [[nodiscard]] std::string vehicle_key();
  // The same without making a session id: empty when the vehicle has none yet.
  [[nodiscard]] std::string current_vehicle_key() const;

  TruConnectConfig config_;
  Captures& captures_;
  std::string agent_version_;
  std::string scale_id_;
  Traffic traffic_;
  std::string ws_url_;
  std::string api_url_;
  std::string wss_url_;
  std::string https_url_;
  const Clock& clock_;  // the captures' clock
  std::chrono::steady_clock::time_point started_;
  int next_client_id_ = 1;
  int clients_ = 0;
  int registered_ = 0;
  // Station state the web app sets.
  std::string bound_;
  std::string plate_;
  std::string transaction_id_;
  std::string vehicle_reg_;
  std::string axle_config_code_;
  std::string vehicle_id_;  // key prefix when no transaction was synced
  std::string rest_mode_;
  Client rest_client_;
  // The vehicle as the app weighs it (app_record.hpp).
  struct AppVehicle {
    // A new epoch when the app restarts the same transaction under a new axle configuration: the
    // axles are keyed again, and those of earlier epochs are kept in the record for the audit.
    int epoch = 1;
    bool config_changed = false;
    std::map<int, scale::Decimal> axle_weights;  // what the app recorded per axle (kg)
    std::map<int, std::string> refusals;         // axle -> why the agent has no capture of it
    boost::json::array superseded;
    // The epoch's axles once its weighing was recorded (a re-sent axle answers with them).
    std::vector<scale::AxleCapture> recorded;
    // The vehicle's stable weights on the decks, oldest first (at most kMaxPlateaus), each as its
    // first stable reading.
    std::vector<PinnedReading> plateaus;
  };
  static constexpr std::size_t kMaxPlateaus = 16;
  AppVehicle app_;
  std::deque<boost::json::object> notices_;
};

// Weights leave as the JSON number the indicator showed, never through binary floating point
// (sync/exact_json.hpp).
using record::serialize_exact;
// An exact decimal as a JSON number for serialize_exact(): an int64 when it is whole.
[[nodiscard]] boost::json::value exact_number(const scale::Decimal& d);

}  // namespace weighlink::agent
