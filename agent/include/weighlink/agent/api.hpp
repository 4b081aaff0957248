#pragma once
// The agent's local HTTP API as a function of the request (SPEC §4): routing, security checks,
// idempotency rules, captures. No sockets here; the server adapter feeds it requests.
// Threading: io thread only; outbox completions are marshalled back through `post`.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "weighlink/agent/captures.hpp"
#include "weighlink/agent/clock.hpp"
#include "weighlink/agent/http_types.hpp"
#include "weighlink/agent/live_state.hpp"
#include "weighlink/agent/pairing.hpp"
#include "weighlink/agent/security.hpp"
#include "weighlink/sync/outbox.hpp"
#include "weighlink/sync/replay.hpp"

namespace weighlink::agent {

// A TruConnect compatibility port and whether it is listening. With compat.truconnect.optional
// the agent starts without a port it cannot bind and retries: /readyz answers 503 while one is
// not listening, and /v1/status lists them (compat_ports).
struct ListenState {
  std::string key;        // the configuration key, e.g. "compat.truconnect.ws_listen"
  std::string address;    // the configured HOST:PORT
  std::string listening;  // the bound HOST:PORT; empty while not listening
  std::string error;      // why the last attempt to bind failed
};

using Respond = std::function<void(HttpResponse)>;

// A group of routes served beside the core ones, each in its own component (the workstation, the
// legal records): the core checks Host, Origin and CORS and routes here what it does not serve
// itself. Io thread only.
class ApiRoutes {
 public:
  virtual ~ApiRoutes() = default;
  // Answers `request` (path already parsed, without the query) and returns true when the path is
  // one of this group's; `respond` is then called exactly once. False leaves `respond` untouched.
  virtual bool handle(const HttpRequest& request, const std::string& path,
                      const std::string& correlation_id, Respond& respond) = 0;
  // Members this group adds to /v1/status (and the live socket's status message).
  virtual void status(boost::json::object& /*status*/) const {}
  // Prometheus text this group adds to /metrics (each family with its HELP and TYPE).
  virtual void metrics(std::string& /*out*/) const {}
};

struct ApiContext {
  std::string station_id;
  std::string agent_version;
  sync::Outbox* outbox = nullptr;
  LiveState* live = nullptr;
  Captures* captures = nullptr;
  sync::ReplayWorker* replay = nullptr;  // null when the agent runs offline
  SecurityPolicy security;
  // Origin pairing (pairing.hpp); null: only security.allowed_origins pass (and nothing is
  // recorded).
  OriginPairing* pairing = nullptr;
  std::chrono::milliseconds capture_timeout{3000};
  // The link to the backend, for /v1/status "uplink": "tls" or "plaintext", and whether a
  // plaintext link goes to another machine (warned at start).
  std::string uplink_transport = "plaintext";
  bool uplink_plaintext_remote = false;
  // The local TLS listeners for /v1/status "tls" (docs/local-tls.md); unset: {"enabled":false}.
  std::function<boost::json::object()> tls_status;
  // Runs `fn` on the io thread.
  std::function<void(std::function<void()>)> post;
  // Live socket clients connected now (the /metrics gauge); unset = 0.
  std::function<std::size_t()> live_clients;
  // What a web app was refused or recorded differently without being able to show it (the
  // TruConnect layer's notices), newest last; unset = none.
  std::function<boost::json::array()> app_notices;
  // The compatibility ports and their state (owned by the caller, updated on the io thread); null
  // when compatibility is off.
  const std::vector<ListenState>* compat_ports = nullptr;
  // Flagged frames of a scale since start, per reason (frame_flags.hpp); unset = 0.
  std::function<std::uint64_t(const std::string& scale, scale::FlagReason)> flagged_frames;
  // The time of what is recorded and shown (created_at_ms, pairing decisions, pending ages).
  const Clock* clock = &real_clock();
  // The software identification (legal.hpp) for the live socket's hello; empty: left out.
  boost::json::object software;
  // Further route groups, asked in order after the core routes (not owned).
  std::vector<ApiRoutes*> routes;
};

class Api {
 public:
  explicit Api(ApiContext context);

  // Answers one request; `respond` is called exactly once, on the io thread.
  void handle(const HttpRequest& request, Respond respond);

  // Host and Origin checks for any request, the WebSocket upgrade included. A response when the
  // request must be refused; an origin not yet paired is then recorded as pending, with the
  // `surface` that refused it ("api", "live", "truconnect_ws", "truconnect_http").
  [[nodiscard]] std::optional<HttpResponse> refuse(const HttpRequest& request,
                                                   std::string_view surface);

  // The /v1/status document (also sent on the live socket as {"type":"status",...}).
  [[nodiscard]] boost::json::object status() const;

  [[nodiscard]] const ApiContext& context() const { return ctx_; }

 private:
  [[nodiscard]] std::optional<HttpResponse> refuse(const HttpRequest& request,
                                                   std::string_view surface,
                                                   const std::string& correlation_id);
  // GET /v1/origins and POST /v1/origins/{allow,deny,revoke}: the agent's own page or a
  // non-browser local client only.
  void origins(const HttpRequest& request, const std::string& action,
               const std::string& correlation_id, const Respond& respond);
  void post_mutation(const HttpRequest& request, const std::string& correlation_id,
                     Respond respond);
  void post_capture(const HttpRequest& request, const std::string& correlation_id, Respond respond);
  void axle_session(const HttpRequest& request, const std::string& scale_id,
                    const std::string& action, const std::string& correlation_id, Respond respond);
  void get_outbox(const HttpRequest& request, const std::string& correlation_id,
                  const Respond& respond);
  void discard_outbox(const HttpRequest& request, const std::string& key,
                      const std::string& correlation_id, const Respond& respond);
  void retry_outbox(const std::string& key, const std::string& correlation_id,
                    const Respond& respond);
  HttpResponse metrics() const;
  // 409 while a capture with `key` is still waiting for its reading (a retry must not start a
  // second capture); otherwise marks the key busy until release_key().
  [[nodiscard]] std::optional<HttpResponse> hold_key(const std::string& key,
                                                     const std::string& correlation_id);
  void release_key(const std::string& key) { held_keys_.erase(key); }

  ApiContext ctx_;
  std::set<std::string> held_keys_;  // io thread
};

// {"error": code, "message": ..., "correlation_id": ...} with X-Correlation-Id.
[[nodiscard]] HttpResponse error_response(int status, const std::string& code,
                                          const std::string& message,
                                          const std::string& correlation_id);

}  // namespace weighlink::agent
