#pragma once
// The legal-metrology record (docs/legal-metrology.md): the software identification stamped on
// every weighing and shown in /v1/status and the live hello; the audit trail of metrological
// settings (a `weighlink.audit_event` record per change, a counter that only increases, GET
// /v1/audit); zero return between weighings (a CaptureGuard).
// Threading: io thread only, except check_settings() at start before the io thread runs.

#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "weighlink/agent/api.hpp"
#include "weighlink/agent/captures.hpp"
#include "weighlink/agent/config.hpp"
#include "weighlink/agent/legal_core.hpp"
#include "weighlink/agent/live_state.hpp"
#include "weighlink/agent/pairing.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::agent {

// The SHA-256 of the running binary (/proc/self/exe; GetModuleFileNameW on Windows), read once;
// "unknown" (logged) when it cannot be read.
[[nodiscard]] SoftwareId identify_software(const std::string& version);

// The outbox state keys (durable, committed with the records that change them).
inline constexpr const char* kAuditCounterKey = "legal/audit-counter";
inline constexpr const char* kSettingsKey = "legal/settings";
inline constexpr const char* kAuditEventPrefix = "legal/audit/";        // + n -> the event's key
inline constexpr const char* kZeroReturnPrefix = "legal/zero-return/";  // + scale id
inline constexpr const char* kAuditEventKind = "weighlink.audit_event";

class Legal final : public ApiRoutes, public CaptureGuard {
 public:
  struct Context {
    const AgentConfig* config = nullptr;
    sync::Outbox* outbox = nullptr;
    const LiveState* live = nullptr;
    OriginPairing* pairing = nullptr;  // null: origins are not audited
    const Clock* clock = &real_clock();
    SoftwareId software;
  };
  explicit Legal(Context context);

  // Compares the settings the agent runs with against the snapshot saved last time and records
  // one audit event per difference (all of them at the first start). Blocks on the outbox; false
  // when one could not be recorded (logged; tried again at the next call).
  bool check_settings();
  // Adds "software" and "audit_counter" to a weighing's payload.
  void stamp(boost::json::object& payload) const;
  // A reading on the io thread: releases zero return.
  void on_reading(const scale::Reading& reading);

  // An operator's action on the station (a manual override of a light or a barrier,
  // docs/devices.md): recorded as a weighlink.audit_event like a changed setting (`setting` of
  // `scope`, old -> new, `by` whom and the `reason`), advancing the counter. The same `key`
  // again answers the event recorded first (EnqueueStatus::replayed). Blocks on the outbox (the
  // local disk) like check_settings().
  [[nodiscard]] sync::EnqueueResult record_action(const AuditChange& change, const std::string& by,
                                                  const std::string& reason,
                                                  const std::string& key);

  [[nodiscard]] const SoftwareId& software() const { return ctx_.software; }
  [[nodiscard]] std::uint64_t audit_counter() const { return counter_; }

  // ApiRoutes: GET /v1/audit; /v1/status "software", "audit" and per scale "zero_return".
  bool handle(const HttpRequest& request, const std::string& path,
              const std::string& correlation_id, Respond& respond) override;
  void status(boost::json::object& status) const override;
  void metrics(std::string& out) const override;

  // CaptureGuard: zero return.
  [[nodiscard]] std::optional<CaptureError> refuse(const std::string& scale_id) override;
  void arm(const std::string& scale_id, std::vector<sync::StateWrite>& writes) override;
  void armed(const std::string& scale_id, bool recorded) override;

 private:
  [[nodiscard]] Settings current_settings() const;
  [[nodiscard]] std::string who(const AuditChange& change) const;
  bool record(const AuditChange& change, const Settings& after);
  // Records one audit event (its number the counter's next), with `writes` committed with it;
  // `key` empty: a fresh one.
  sync::EnqueueResult enqueue_event(const AuditChange& change, const std::string& by,
                                    const std::string& reason, const std::string& key,
                                    std::vector<sync::StateWrite> writes);

  Context ctx_;
  ZeroReturn zero_;
  std::uint64_t counter_ = 0;
  Settings saved_;
  bool first_start_ = false;
  std::string last_failure_;  // the last audit event refused, logged once  // no snapshot saved
                              // yet: every setting is an initial one
};

// The legal component wired into the agent: its routes, the stamp and the guard of `captures`.
[[nodiscard]] std::unique_ptr<Legal> make_legal(const AgentConfig& config, sync::Outbox& outbox,
                                                const LiveState& live, OriginPairing* pairing,
                                                CaptureContext& captures);

}  // namespace weighlink::agent
