// Axle sessions: one per scale, axle after axle, completed into one weighing (captures.hpp).
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <memory>
#include <utility>

#include "core/captures_common.hpp"
#include "weighlink/agent/captures.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/record/exact_json.hpp"

namespace weighlink::agent {
namespace json = boost::json;

namespace {

AxleOutcome superseded(const std::string& scale_id) {
  return AxleOutcome{CaptureError{409, "superseded",
                                  "the axle waiting for a stable reading on scale '" + scale_id +
                                      "' was given up: the next axle was sent before it settled"},
                     {},
                     false};
}

CaptureError busy(const std::string& scale_id) {
  return {409, "session_busy",
          "an axle capture on scale '" + scale_id + "' is still running; wait for its answer"};
}

json::object axle_json(const scale::AxleCapture& a, bool evidence) {
  json::object o{{"number", a.number},
                 {"weight", a.weight.to_string()},
                 {"reading", a.reading.to_string()},
                 {"reading_seq", a.seq},
                 {"captured_at", scale::format_timestamp(a.at)}};
  if (evidence) {
    scale::Reading r;
    r.raw = a.raw;
    o["raw"] = scale::to_json(r, false).at("raw");
  }
  return o;
}

std::string_view to_string(scale::AxleSession::State s) {
  switch (s) {
    case scale::AxleSession::State::idle:
      return "idle";
    case scale::AxleSession::State::weighing:
      return "weighing";
    case scale::AxleSession::State::complete:
      return "complete";
  }
  return "idle";
}

std::string_view to_string(scale::AxleMode m) {
  return m == scale::AxleMode::cumulative ? "cumulative" : "direct";
}

// The frames behind a capture: the readings up to the captured one that the agent saw, with
// their seqs (a gap in seq = frames that arrived between two the agent looked at).

}  // namespace

std::optional<CaptureError> Captures::start_session(const std::string& scale_id, int expected_axles,
                                                    bool restart) {
  auto* s = slot(scale_id);
  if (!s) return unknown_scale(scale_id);
  if (s->axle_capture_running) return busy(scale_id);
  const bool vehicle_on =
      s->session.state() == scale::AxleSession::State::weighing && !s->session.axles().empty();
  // A new vehicle passes the guard; restarting the one on the deck does not need to.
  if (auto refusal = vehicle_on ? std::nullopt : refused(scale_id)) return refusal;
  if (s->session.state() == scale::AxleSession::State::weighing && !s->session.axles().empty() &&
      !restart) {
    return CaptureError{409, "session_in_progress",
                        std::to_string(s->session.axles().size()) +
                            " axle(s) are captured on "
                            "scale '" +
                            scale_id +
                            "'; complete that weighing, or start again with restart to discard "
                            "them"};
  }
  s->session.start(ctx_.clock->now());
  s->session.set_expected_axles(expected_axles);
  s->axle_keys.clear();
  s->restored_axles = 0;
  persist(scale_id);
  spdlog::info("axle session started on scale {} ({} axles expected)", scale_id, expected_axles);
  return std::nullopt;
}

std::optional<CaptureError> Captures::reset_session(const std::string& scale_id) {
  auto* s = slot(scale_id);
  if (!s) return unknown_scale(scale_id);
  // A completion being written may be reset (the web app resets right after it completes): the
  // weighing is already built and goes to the outbox regardless. An axle still waiting for a
  // stable reading is given up; one being saved is not.
  if (s->axle_saving) return busy(scale_id);
  std::shared_ptr<std::function<void(AxleOutcome)>> waiting;
  if (s->axle_capture_running) {
    ++s->axle_attempt;
    s->axle_capture_running = false;
    waiting = std::exchange(s->axle_waiting, nullptr);
  }
  if (!s->session.axles().empty() && s->session.state() == scale::AxleSession::State::weighing) {
    spdlog::warn("axle session on scale {} reset with {} axle(s) not completed", scale_id,
                 s->session.axles().size());
  }
  s->session.reset();
  s->axle_keys.clear();
  s->restored_axles = 0;
  persist(scale_id);
  // Answered once the session is reset, so the answer never sees the old one.
  if (waiting) {
    (*waiting)(AxleOutcome{
        CaptureError{409, "session_reset", "the axle weighing was reset while this axle waited"},
        {},
        false});
  }
  return std::nullopt;
}

std::optional<CaptureError> Captures::set_expected_axles(const std::string& scale_id,
                                                         int expected_axles) {
  auto* s = slot(scale_id);
  if (!s) return unknown_scale(scale_id);
  s->session.set_expected_axles(expected_axles);
  persist(scale_id);
  return std::nullopt;
}

void Captures::capture_axle(const std::string& scale_id, const std::string& key,
                            const std::string& request_hash, std::chrono::milliseconds timeout,
                            std::function<void(AxleOutcome)> done, AxleRequest how) {
  auto* s = slot(scale_id);
  if (!s) {
    return done(AxleOutcome{unknown_scale(scale_id), {}, false});
  }
  if (auto it = s->axle_keys.find(key); it != s->axle_keys.end()) {
    if (it->second.first != request_hash) {
      return done(AxleOutcome{CaptureError{422, "idempotency_key_reused",
                                           "Idempotency-Key '" + key +
                                               "' was already used for a different request; "
                                               "send a new key for a new axle"},
                              {},
                              false});
    }
    if (const auto* axle = s->session.axle(it->second.second)) {
      return done(AxleOutcome{std::nullopt, *axle, true});
    }
  }
  if (s->completing || (s->axle_capture_running && (!how.supersede || s->axle_saving))) {
    return done(AxleOutcome{busy(scale_id), {}, false});
  }
  // A capture still waiting for a stable reading is given up for this one (the caller has moved
  // on to the next axle): it answers `superseded` now, before this one is answered.
  const auto attempt = ++s->axle_attempt;
  if (auto waiting = std::exchange(s->axle_waiting, nullptr)) (*waiting)(superseded(scale_id));
  // Refusals that waiting cannot cure are answered at once.
  using C = scale::AxleRefusalCode;
  auto curable = [](C code) {
    return code == C::stale || code == C::unstable || code == C::not_increasing ||
           code == C::below_minimum || code == C::out_of_range;
  };
  s->axle_capture_running = true;
  auto last = std::make_shared<std::optional<scale::AxleRefusal>>();
  auto finish = std::make_shared<std::function<void(AxleOutcome)>>(std::move(done));
  // Direct pads: an axle that was on the pad and left it (the pad emptied) while the capture
  // waited for it to settle is gone; the next load on the pad is another axle, never this one.
  auto loaded = std::make_shared<bool>(false);
  s->axle_waiting = finish;
  poll_until(
      ctx_.clock->steady_now() + timeout,
      [this, scale_id, key, request_hash, last, finish, curable, attempt, loaded,
       number = how.number] {
        auto* s = slot(scale_id);
        if (s->axle_attempt != attempt) return true;  // given up, and answered then
        const auto* live = ctx_.live->find(scale_id);
        scale::Reading reading;
        if (live && live->latest) {
          reading = *live->latest;
        } else {
          reading.stale = true;
        }
        if (s->session.options().mode == scale::AxleMode::direct && !reading.stale) {
          const bool empty =
              reading.weight.units <= 0 ||
              std::is_lt(reading.weight.compare(s->session.options().min_axle_weight));
          if (!empty) *loaded = true;
          if (empty && *loaded) {
            s->axle_capture_running = false;
            s->axle_waiting = nullptr;
            (*finish)(
                AxleOutcome{CaptureError{409, "axle_left_pad",
                                         "the axle left the pad on scale '" + scale_id +
                                             "' before the scale settled; it was not captured"},
                            {},
                            false});
            return true;
          }
        }
        // The next axle must be a newer frame, and in direct mode a frame showing another
        // weight or following motion: the pad still showing the previous axle is not an axle.
        const int expected = s->session.options().expected_axles;
        const bool all_in = expected > 0 && static_cast<int>(s->session.axles().size()) >= expected;
        if (s->session.state() == scale::AxleSession::State::weighing &&
            !s->session.axles().empty() && !reading.stale && !all_in) {
          const auto& prev = s->session.axles().back();
          // A restored axle's seq counts from the previous run: any frame of this run is newer.
          const std::uint64_t prev_seq =
              s->session.axles().size() <= s->restored_axles ? 0 : prev.seq;
          const bool moved = live && live->last_motion_seq > prev_seq;
          const bool same = reading.weight.compare(prev.reading) == std::strong_ordering::equal;
          if (reading.seq <= prev_seq ||
              (s->session.options().mode == scale::AxleMode::direct && same && !moved)) {
            *last = scale::AxleRefusal{scale::AxleRefusalCode::not_increasing,
                                       "the pad still shows axle " + std::to_string(prev.number) +
                                           " (" + prev.reading.to_string() + " " + reading.unit +
                                           "); drive the next axle onto the pad and capture again"};
            return false;
          }
        }
        auto before = s->session.snapshot();
        auto captured = s->session.capture(reading, ctx_.clock->now(), number);
        if (!captured) {
          *last = captured.error();
          if (curable(captured.error().code)) return false;
          s->axle_capture_running = false;
          s->axle_waiting = nullptr;
          (*finish)(AxleOutcome{to_capture_error(captured.error()), {}, false});
          return true;
        }
        s->axle_keys[key] = {request_hash, captured->number};
        s->axle_saving = true;
        s->axle_waiting = nullptr;
        // Answered once saved: an axle the operator saw accepted survives a restart.
        persist(scale_id, [this, scale_id, key, finish, before = std::move(before),
                           axle = *captured, unit = reading.unit](bool saved) mutable {
          auto* s = slot(scale_id);
          s->axle_capture_running = false;
          s->axle_saving = false;
          if (!saved) {
            s->session.restore(std::move(before));
            s->axle_keys.erase(key);
            return (*finish)(AxleOutcome{
                CaptureError{507, "outbox_full",
                             "axle " + std::to_string(axle.number) +
                                 " could not be saved (the disk holding the outbox is full or "
                                 "failing): it was not captured; free space and capture it again"},
                {},
                false});
          }
          spdlog::info("axle {} on scale {}: {} {} (reading {} seq {}) key {}", axle.number,
                       scale_id, axle.weight.to_string(), unit, axle.reading.to_string(), axle.seq,
                       key);
          const CapturedAxle observed{scale_id, axle.number, key, axle.weight.to_string(), unit};
          for (auto* observer : ctx_.observers) observer->on_axle(observed);
          (*finish)(AxleOutcome{std::nullopt, axle, false});
        });
        return true;
      },
      [this, scale_id, last, finish, attempt] {
        auto* s = slot(scale_id);
        if (s->axle_attempt != attempt) return;  // given up, and answered then
        s->axle_capture_running = false;
        s->axle_waiting = nullptr;
        const auto* live = ctx_.live->find(scale_id);
        if (!*last || (*last)->code == scale::AxleRefusalCode::stale) {
          return (*finish)(AxleOutcome{unavailable(scale_id, live), {}, false});
        }
        if ((*last)->code == scale::AxleRefusalCode::unstable) {
          return (*finish)(AxleOutcome{
              CaptureError{409, "scale_not_stable",
                           "scale '" + scale_id +
                               "' did not settle in time; wait for the stable sign and capture "
                               "the axle again"},
              {},
              false});
        }
        (*finish)(AxleOutcome{to_capture_error(**last), {}, false});
      });
}

void Captures::complete_session(CaptureRequest request, std::function<void(CaptureOutcome)> done) {
  auto* s = slot(request.scale_id);
  if (!s) {
    return done(CaptureOutcome{unknown_scale(request.scale_id), {}});
  }
  if (s->axle_capture_running || s->completing) {
    return done(CaptureOutcome{busy(request.scale_id), {}});
  }
  const auto now = ctx_.clock->now();
  // Completing moves the session to `complete`; if the outbox refuses the weighing (full disk),
  // the session goes back to weighing so that nothing captured is lost and a retry can finish.
  auto weighing = s->session.complete(now, request.allow_missing_axles);
  if (!weighing) return done(CaptureOutcome{to_capture_error(weighing.error()), {}});
  json::array axles;
  for (const auto& a : weighing->axles) axles.push_back(axle_json(a, true));
  const auto* live = ctx_.live->find(request.scale_id);
  json::object payload{{"station_id", ctx_.station_id},
                       {"type", "axle"},
                       {"scale", request.scale_id},
                       {"weight", weighing->gvw.to_string()},
                       {"gvw", weighing->gvw.to_string()},
                       {"unit", weighing->unit},
                       {"mode", scale::to_string(weighing->weigh_mode)},
                       {"axle_mode", to_string(weighing->mode)},
                       {"axles", std::move(axles)},
                       {"protocol", live ? live->protocol : std::string()},
                       {"operator", request.operator_id},
                       {"agent_version", ctx_.agent_version},
                       {"started_at", scale::format_timestamp(weighing->started_at)},
                       {"captured_at", scale::format_timestamp(now)}};
  if (!weighing->missing.empty()) {
    json::array missing;
    for (int n : weighing->missing) missing.push_back(n);
    payload["missing_axles"] = std::move(missing);
  }
  if (!request.reference.empty()) payload["reference"] = request.reference;
  if (request.annotate) request.annotate(payload);
  if (ctx_.stamp) ctx_.stamp(payload);
  sync::NewMutation m;
  m.idempotency_key = request.idempotency_key;
  m.kind = "weighing.captured";
  m.payload_json = record::serialize_exact(payload);
  m.request_hash = request.request_hash;
  m.created_at_ms = to_ms(now);
  // The open session goes in the same transaction as the weighing that closes it.
  m.state_writes = request.state_writes;
  m.state_writes.push_back(
      sync::StateWrite{std::string(kSessionPrefix) + request.scale_id, std::nullopt});
  spdlog::info("axle weighing on scale {} complete: {} axle(s), GVW {} {} key {}", request.scale_id,
               weighing->axles.size(), weighing->gvw.to_string(), weighing->unit,
               request.idempotency_key);
  arm(request.scale_id, m.state_writes);
  s->completing = true;
  auto saved = *weighing;
  enqueue(std::move(m), [this, scale_id = request.scale_id, saved,
                         done = std::move(done)](CaptureOutcome outcome) mutable {
    auto* s = slot(scale_id);
    s->completing = false;
    armed(scale_id, recorded(outcome));
    observe(scale_id, outcome);
    const auto st = outcome.enqueued.status;
    if (st != sync::EnqueueStatus::accepted && st != sync::EnqueueStatus::replayed) {
      // Not recorded: reopen the session with its axles so the operator can complete again.
      s->session.reopen();
    }
    done(std::move(outcome));
  });
}

json::object Captures::session_json(const std::string& scale_id) const {
  const auto* s = slot(scale_id);
  if (!s) return {};
  const auto& session = s->session;
  json::array axles;
  std::string unit;
  for (const auto& a : session.axles()) axles.push_back(axle_json(a, false));
  const auto* live = ctx_.live->find(scale_id);
  json::value pending = nullptr;
  if (live && live->latest) {
    unit = live->latest->unit;
    if (auto w = session.pending_axle_weight(*live->latest)) pending = w->to_string();
  }
  return json::object{{"scale", scale_id},
                      {"state", to_string(session.state())},
                      {"mode", to_string(session.options().mode)},
                      {"expected_axles", session.options().expected_axles},
                      {"unit", unit},
                      {"axles", std::move(axles)},
                      {"running_gvw", session.running_gvw().to_string()},
                      {"pending_axle_weight", std::move(pending)}};
}

json::object Captures::sessions_json() const {
  json::object out;
  for (const auto& [id, s] : slots_) out[id] = session_json(id);
  return out;
}

}  // namespace weighlink::agent
