#pragma once
// Captures: binding the weight on the agent (SPEC §4). A static capture takes the latest stable,
// non-stale reading of a scale (waiting up to a timeout) and enqueues one `weighing.captured`;
// an axle session (one per scale) captures axle after axle and ends in one `weighing.captured`
// with per-axle weights and GVW. The local HTTP API and the TruConnect layer both go through
// here, so every capture reaches the outbox the same way, with an idempotency key.
// Threading: io thread only; outbox completions come back through `post`.

#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weighlink/agent/clock.hpp"
#include "weighlink/agent/live_state.hpp"
#include "weighlink/scale/axles.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::agent {

// A refusal before anything reached the outbox: the HTTP status, a stable code and a message
// that tells the operator what to do.
struct CaptureError {
  int status = 409;
  std::string code;
  std::string message;
};

// A rule every new weighing on a scale passes (zero return, legal.hpp): static captures, axle
// sessions and TruConnect alike. Io thread only.
class CaptureGuard {
 public:
  virtual ~CaptureGuard() = default;
  // Why no new weighing may start on the scale now (checked before waiting for a reading, again
  // just before recording, and when an axle session starts).
  [[nodiscard]] virtual std::optional<CaptureError> refuse(const std::string& scale_id) = 0;
  // A weighing on the scale is being recorded: the state it sets, committed with it.
  virtual void arm(const std::string& scale_id, std::vector<sync::StateWrite>& writes) = 0;
  // The outbox's answer to it: `recorded` false when it was not accepted.
  virtual void armed(const std::string& scale_id, bool recorded) = 0;
};

// A weighing the outbox accepted (its record is on disk): a static capture or a completed axle
// session, from the local API, the workstation or TruConnect.
struct RecordedWeighing {
  std::string scale_id;
  sync::OutboxRow row;    // seq, idempotency_key, payload_json, record_hash, ...
  bool replayed = false;  // the same Idempotency-Key again: recorded earlier, already observed
};

// An axle captured (and saved) in a scale's axle session.
struct CapturedAxle {
  std::string scale_id;
  int number = 0;
  std::string idempotency_key;
  std::string weight;  // exact decimal, as the indicator showed it
  std::string unit;
};

// Told what was captured, after it is on disk (the station's devices: cameras, printers,
// barriers). Io thread only; must not block.
class CaptureObserver {
 public:
  virtual ~CaptureObserver() = default;
  virtual void on_recorded(const RecordedWeighing& /*weighing*/) {}
  virtual void on_axle(const CapturedAxle& /*axle*/) {}
};

struct CaptureContext {
  std::string station_id;
  std::string agent_version;
  sync::Outbox* outbox = nullptr;
  LiveState* live = nullptr;
  // Runs `fn` on the io thread.
  std::function<void(std::function<void()>)> post;
  // Runs `fn` on the io thread after `delay`.
  std::function<void(std::chrono::milliseconds, std::function<void()>)> schedule;
  // Recorded times (captured_at, created_at_ms) and capture deadlines; also the TruConnect
  // layer's clock.
  const Clock* clock = &real_clock();
  // Called with every weighing's payload (static and axle) just before it is recorded, after
  // the request's own `annotate`: what every record of the station carries (the software
  // identification, the audit counter). Unset: nothing added.
  std::function<void(boost::json::object&)> stamp;
  // Rules every new weighing passes, asked in order (not owned): zero return, the position
  // sensors.
  std::vector<CaptureGuard*> guards;
  // Told of every recorded weighing and captured axle (not owned).
  std::vector<CaptureObserver*> observers;
};

// A capturable reading held for a later capture, with the frames the agent saw up to it.
struct PinnedReading {
  scale::Reading reading;
  std::vector<scale::Reading> frames;
};

struct CaptureRequest {
  std::string scale_id;
  std::string operator_id;
  std::string idempotency_key;
  std::string request_hash;  // fingerprint of the request, for the idempotency checks
  std::chrono::milliseconds timeout{3000};
  // Reference fields of the caller (plate, transaction id, ...) recorded with the weighing.
  boost::json::object reference;
  // Static captures: record this earlier reading (held while it was stable and fresh) instead of
  // waiting for one now.
  std::optional<PinnedReading> pinned;
  // Axle sessions: complete even with axles missing (listed in the record's `missing_axles`).
  bool allow_missing_axles = false;
  // Called with the weighing's payload just before it is recorded, to add what the caller
  // compares it with (the web app's own values, a discrepancy).
  std::function<void(boost::json::object&)> annotate;
  // Durable state committed in the same transaction as the weighing, only when it is accepted
  // (an open two-pass transaction, a stored tare).
  std::vector<sync::StateWrite> state_writes;
};

// How an axle is captured: its number (0: the next), and whether a capture still waiting for a
// stable reading is given up for this one.
struct AxleRequest {
  int number = 0;
  bool supersede = false;
};

// A capture or a completed axle session: refused (error), or the outbox's answer.
struct CaptureOutcome {
  std::optional<CaptureError> error;
  sync::EnqueueResult enqueued;
};

struct AxleOutcome {
  std::optional<CaptureError> error;
  scale::AxleCapture axle;
  bool replayed = false;  // the same Idempotency-Key again: the axle it captured then
};

// Axle sessions are saved in the outbox's durable state (key "axle-session/<scale>") after every
// change, and an axle is answered only once it is saved: an agent restarted mid-vehicle carries
// on with the axles it had. The completed weighing and the removal of its session commit in one
// transaction, so a weighing is never both recorded and still open.
class Captures {
 public:
  // Restores the axle sessions saved by the previous run.
  explicit Captures(CaptureContext context);

  // Static (single or multi-deck) capture. `done` runs once, on the io thread.
  void capture(CaptureRequest request, std::function<void(CaptureOutcome)> done);

  // Starts an axle session on the scale. Refused while axles are captured unless `restart`.
  [[nodiscard]] std::optional<CaptureError> start_session(const std::string& scale_id,
                                                          int expected_axles, bool restart);
  // Captures the next axle, waiting up to `timeout` for a stable reading that makes sense as the
  // next axle. The same `key` again answers with the axle it captured (nothing captured twice).
  void capture_axle(const std::string& scale_id, const std::string& key,
                    const std::string& request_hash, std::chrono::milliseconds timeout,
                    std::function<void(AxleOutcome)> done, AxleRequest how = {});
  // Completes the session into one weighing.captured (request.timeout is unused).
  void complete_session(CaptureRequest request, std::function<void(CaptureOutcome)> done);
  // Back to idle; captured axles are dropped.
  [[nodiscard]] std::optional<CaptureError> reset_session(const std::string& scale_id);
  [[nodiscard]] std::optional<CaptureError> set_expected_axles(const std::string& scale_id,
                                                               int expected_axles);

  // The scale's latest reading with its frames, when it may be captured now.
  [[nodiscard]] std::optional<PinnedReading> pin(const std::string& scale_id) const;

  [[nodiscard]] bool has_scale(const std::string& scale_id) const;
  [[nodiscard]] const scale::AxleSession* session(const std::string& scale_id) const;
  // GET /v1/axle-sessions/{scale}: state, axles, running GVW, the pending axle weight.
  [[nodiscard]] boost::json::object session_json(const std::string& scale_id) const;
  // Every scale's session, keyed by scale id (the live socket's status message).
  [[nodiscard]] boost::json::object sessions_json() const;

  [[nodiscard]] const CaptureContext& context() const { return ctx_; }

 private:
  struct Slot {
    scale::AxleSession session;
    // Idempotency-Key of each captured axle -> (request fingerprint, axle number).
    std::map<std::string, std::pair<std::string, int>> axle_keys;
    bool axle_capture_running = false;
    bool axle_saving = false;        // the captured axle is being saved
    std::uint64_t axle_attempt = 0;  // the capture allowed to finish; older ones give up
    // The answer of the capture waiting for a stable reading, for giving it up.
    std::shared_ptr<std::function<void(AxleOutcome)>> axle_waiting;
    bool completing = false;
    // Axles restored from the previous run: their reading seqs count from another run, so the
    // "newer frame" rule does not apply to them.
    std::size_t restored_axles = 0;
  };

  Slot* slot(const std::string& scale_id);
  const Slot* slot(const std::string& scale_id) const;
  // Calls `attempt` now and every 20 ms until it returns true or `deadline` passes; then
  // `expired`.
  void poll_until(std::chrono::steady_clock::time_point deadline, std::function<bool()> attempt,
                  std::function<void()> expired);
  void enqueue(sync::NewMutation mutation, std::function<void(CaptureOutcome)> done);
  // Saves the session of `scale_id` (deleted when idle); `done(ok)` runs on the io thread.
  void persist(const std::string& scale_id, std::function<void(bool)> done = {});
  [[nodiscard]] sync::StateWrite session_write(const std::string& scale_id) const;
  void restore(const std::string& scale_id, Slot& slot);
  // The first guard's refusal, if any.
  [[nodiscard]] std::optional<CaptureError> refused(const std::string& scale_id) const;
  void arm(const std::string& scale_id, std::vector<sync::StateWrite>& writes) const;
  void armed(const std::string& scale_id, bool recorded) const;
  // Tells the observers of a recorded weighing (nothing when it was not recorded).
  void observe(const std::string& scale_id, const CaptureOutcome& outcome) const;

  CaptureContext ctx_;
  std::map<std::string, Slot> slots_;
};

// 404 unknown_scale, naming the scale and where the ids are listed.
[[nodiscard]] CaptureError unknown_scale(const std::string& scale_id);

// The HTTP status and code for an axle-session refusal.
[[nodiscard]] CaptureError to_capture_error(const scale::AxleRefusal& refusal);

}  // namespace weighlink::agent
