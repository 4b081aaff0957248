#include "weighlink/agent/captures.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <memory>
#include <span>
#include <utility>

#include "core/captures_common.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/record/exact_json.hpp"

namespace weighlink::agent {
namespace json = boost::json;

namespace {

constexpr auto kPollEvery = std::chrono::milliseconds(20);

CaptureError refusal_error(const std::string& scale_id, const ScaleLive* s,
                           scale::CaptureRefusal refusal) {
  switch (refusal) {
    case scale::CaptureRefusal::stale:
      return unavailable(scale_id, s);
    case scale::CaptureRefusal::below_minimum:
      return {409, "below_minimum_weight",
              "scale '" + scale_id + "' shows " + s->latest->weight.to_string() + " " +
                  s->latest->unit + ", below the minimum capture weight " +
                  s->config.min_capture_weight.to_string() + "; is the vehicle on the deck?"};
    case scale::CaptureRefusal::overload:
    case scale::CaptureRefusal::underload:
      return {409, "scale_out_of_range",
              "scale '" + scale_id + "' is " + std::string(scale::to_string(refusal)) +
                  "; a weight out of range cannot be captured"};
    case scale::CaptureRefusal::motion:
      break;
  }
  return {409, "scale_not_stable",
          "scale '" + scale_id +
              "' did not settle in time; wait for the stable sign and capture again"};
}

template <class Readings>
json::array evidence_frames(const Readings& recent, std::uint64_t up_to_seq) {
  json::array frames;
  for (const auto& r : recent) {
    if (r.seq > up_to_seq) continue;
    json::object frame{{"seq", r.seq},
                       {"ts", scale::format_timestamp(r.ts)},
                       {"weight", r.weight.to_string()},
                       {"stable", r.stable},
                       {"raw", scale::to_json(r, false).at("raw")}};
    if (r.flag) frame["flag"] = scale::to_json(*r.flag);
    frames.push_back(std::move(frame));
  }
  return frames;
}

// A saved time: milliseconds since 1970 up to the year 2255 (the system clock counts
// nanoseconds in 64 bits).
std::chrono::system_clock::time_point from_ms(const json::value& v) {
  const auto ms = v.to_number<std::int64_t>();
  if (ms < 0 || ms > 9'000'000'000'000) throw std::invalid_argument("time out of range");
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

int small_count(const json::value& v, int min) {
  const auto n = v.to_number<std::int64_t>();
  if (n < min || n > 1000) throw std::invalid_argument("count out of range");
  return static_cast<int>(n);
}

scale::Decimal decimal_at(const json::object& o, std::string_view key) {
  auto d = scale::Decimal::parse(std::string(o.at(key).as_string()));
  if (!d) throw std::invalid_argument("not a decimal: " + std::string(key));
  return *d;
}

}  // namespace

bool recorded(const CaptureOutcome& outcome) {
  const auto st = outcome.enqueued.status;
  return !outcome.error &&
         (st == sync::EnqueueStatus::accepted || st == sync::EnqueueStatus::replayed);
}

CaptureError unavailable(const std::string& scale_id, const ScaleLive* s) {
  return {503, "scale_unavailable",
          "no current reading from scale '" + scale_id + "'" +
              (s && !s->detail.empty() ? " (" + s->detail + ")" : std::string()) +
              "; check the indicator and its cable"};
}

// Why the latest reading of `s` cannot be captured, as the operator should read it.

CaptureError unknown_scale(const std::string& scale_id) {
  return {404, "unknown_scale",
          "no scale named '" + scale_id +
              "' is configured on this agent; GET /v1/status lists the scale ids"};
}

CaptureError to_capture_error(const scale::AxleRefusal& refusal) {
  using C = scale::AxleRefusalCode;
  switch (refusal.code) {
    case C::not_started:
      return {409, "no_session", refusal.message};
    case C::already_complete:
      return {409, "session_complete", refusal.message};
    case C::stale:
      return {503, "scale_unavailable", refusal.message};
    case C::unstable:
      return {409, "scale_not_stable", refusal.message};
    case C::out_of_range:
      return {409, "scale_out_of_range", refusal.message};
    case C::unit_changed:
      return {409, "unit_changed", refusal.message};
    case C::not_increasing:
      return {409, "not_increasing", refusal.message};
    case C::below_minimum:
      return {409, "below_minimum_weight", refusal.message};
    case C::too_many_axles:
      return {409, "too_many_axles", refusal.message};
    case C::out_of_sequence:
      return {409, "axle_out_of_sequence", refusal.message};
    case C::missing_axles:
      return {409, "missing_axles", refusal.message};
    case C::no_axles:
      return {409, "no_axles", refusal.message};
    case C::overflow:
      return {422, "weight_overflow", refusal.message};
  }
  return {409, "refused", refusal.message};
}

Captures::Captures(CaptureContext context) : ctx_(std::move(context)) {
  for (const auto& s : ctx_.live->scales()) {
    scale::AxleSessionOptions options;
    options.mode = scale::axle_mode(s.config);
    options.min_axle_weight = s.config.min_capture_weight;
    auto& slot = slots_[s.id];
    slot.session = scale::AxleSession(options);
    restore(s.id, slot);
  }
}

sync::StateWrite Captures::session_write(const std::string& scale_id) const {
  const auto* s = slot(scale_id);
  sync::StateWrite w{std::string(kSessionPrefix) + scale_id, std::nullopt};
  if (!s || s->session.state() != scale::AxleSession::State::weighing) return w;
  const auto snap = s->session.snapshot();
  json::array axles;
  for (const auto& a : snap.axles) {
    axles.push_back(json::object{
        {"number", a.number},
        {"weight", a.weight.to_string()},
        {"reading", a.reading.to_string()},
        {"seq", a.seq},
        {"raw_hex", base::to_hex(std::span(reinterpret_cast<const unsigned char*>(a.raw.data()),
                                           a.raw.size()))},
        {"at_ms", to_ms(a.at)}});
  }
  json::object keys;
  for (const auto& [key, v] : s->axle_keys) {
    keys[key] = json::object{{"request_hash", v.first}, {"axle", v.second}};
  }
  w.value = json::serialize(json::object{{"version", 1},
                                         {"expected_axles", snap.expected_axles},
                                         {"started_at_ms", to_ms(snap.started_at)},
                                         {"unit", snap.unit},
                                         {"weigh_mode", scale::to_string(snap.weigh_mode)},
                                         {"axles", std::move(axles)},
                                         {"keys", std::move(keys)}});
  return w;
}

void Captures::restore(const std::string& scale_id, Slot& slot) {
  const auto saved = ctx_.outbox->get_state(std::string(kSessionPrefix) + scale_id);
  if (!saved) return;
  try {
    const auto o = json::parse(*saved).as_object();
    scale::AxleSession::Snapshot snap;
    snap.state = scale::AxleSession::State::weighing;
    snap.expected_axles = small_count(o.at("expected_axles"), 0);
    snap.started_at = from_ms(o.at("started_at_ms"));
    snap.unit = std::string(o.at("unit").as_string());
    snap.weigh_mode = o.at("weigh_mode") == "net" ? scale::WeighMode::net : scale::WeighMode::gross;
    for (const auto& v : o.at("axles").as_array()) {
      const auto& a = v.as_object();
      scale::AxleCapture c;
      c.number = small_count(a.at("number"), 1);
      c.weight = decimal_at(a, "weight");
      c.reading = decimal_at(a, "reading");
      c.seq = a.at("seq").to_number<std::uint64_t>();
      if (const auto raw = base::from_hex(a.at("raw_hex").as_string())) {
        c.raw.assign(raw->begin(), raw->end());
      }
      c.at = from_ms(a.at("at_ms"));
      snap.axles.push_back(std::move(c));
    }
    for (const auto& [key, v] : o.at("keys").as_object()) {
      slot.axle_keys[std::string(key)] = {std::string(v.at("request_hash").as_string()),
                                          small_count(v.at("axle"), 1)};
    }
    slot.restored_axles = snap.axles.size();
    spdlog::info("axle session on scale {} restored from the previous run: {} axle(s) captured",
                 scale_id, snap.axles.size());
    slot.session.restore(std::move(snap));
  } catch (const std::exception& e) {
    spdlog::error(
        "the saved axle session of scale {} cannot be read ({}); starting with no session. The "
        "saved text stays in the outbox state until a new session replaces it",
        scale_id, e.what());
  }
}

void Captures::persist(const std::string& scale_id, std::function<void(bool)> done) {
  ctx_.outbox->put_state(
      session_write(scale_id),
      [post = ctx_.post, scale_id, done = std::move(done)](boost::system::result<void> r) mutable {
        if (!r) {
          spdlog::error("the axle session of scale {} could not be saved: {}", scale_id,
                        r.error().message());
        }
        if (done) post([done = std::move(done), ok = r.has_value()] { done(ok); });
      });
}

Captures::Slot* Captures::slot(const std::string& scale_id) {
  auto it = slots_.find(scale_id);
  return it == slots_.end() ? nullptr : &it->second;
}

const Captures::Slot* Captures::slot(const std::string& scale_id) const {
  auto it = slots_.find(scale_id);
  return it == slots_.end() ? nullptr : &it->second;
}

std::optional<PinnedReading> Captures::pin(const std::string& scale_id) const {
  const auto* s = ctx_.live->find(scale_id);
  if (!s || !s->latest || scale::capture_refusal(*s->latest, s->config)) return std::nullopt;
  return PinnedReading{*s->latest, {s->recent.begin(), s->recent.end()}};
}

bool Captures::has_scale(const std::string& scale_id) const { return slot(scale_id) != nullptr; }

const scale::AxleSession* Captures::session(const std::string& scale_id) const {
  const auto* s = slot(scale_id);
  return s ? &s->session : nullptr;
}

void Captures::poll_until(std::chrono::steady_clock::time_point deadline,
                          std::function<bool()> attempt, std::function<void()> expired) {
  struct Poll {
    std::chrono::steady_clock::time_point deadline;
    std::function<bool()> attempt;
    std::function<void()> expired;
  };
  auto poll = std::make_shared<Poll>(Poll{deadline, std::move(attempt), std::move(expired)});
  auto step = std::make_shared<std::function<void()>>();
  // The timer holds the only strong reference between attempts, so nothing cycles.
  *step = [this, poll, weak = std::weak_ptr<std::function<void()>>(step)] {
    if (poll->attempt()) return;
    if (ctx_.clock->steady_now() >= poll->deadline) return poll->expired();
    ctx_.schedule(kPollEvery, [next = weak.lock()] { (*next)(); });
  };
  (*step)();
}

void Captures::enqueue(sync::NewMutation mutation, std::function<void(CaptureOutcome)> done) {
  ctx_.outbox->enqueue(std::move(mutation), [post = ctx_.post, done = std::move(done)](
                                                sync::EnqueueResult result) mutable {
    post([done = std::move(done), result = std::move(result)]() mutable {
      done(CaptureOutcome{std::nullopt, std::move(result)});
    });
  });
}

std::optional<CaptureError> Captures::refused(const std::string& scale_id) const {
  for (auto* guard : ctx_.guards) {
    if (auto refusal = guard->refuse(scale_id)) return refusal;
  }
  return std::nullopt;
}

void Captures::arm(const std::string& scale_id, std::vector<sync::StateWrite>& writes) const {
  for (auto* guard : ctx_.guards) guard->arm(scale_id, writes);
}

void Captures::armed(const std::string& scale_id, bool recorded) const {
  for (auto* guard : ctx_.guards) guard->armed(scale_id, recorded);
}

void Captures::observe(const std::string& scale_id, const CaptureOutcome& outcome) const {
  if (!recorded(outcome)) return;
  const RecordedWeighing weighing{scale_id, outcome.enqueued.row,
                                  outcome.enqueued.status == sync::EnqueueStatus::replayed};
  for (auto* observer : ctx_.observers) observer->on_recorded(weighing);
}

void Captures::capture(CaptureRequest request, std::function<void(CaptureOutcome)> done) {
  if (auto refusal = refused(request.scale_id)) {
    return done(CaptureOutcome{std::move(refusal), {}});
  }
  auto req = std::make_shared<CaptureRequest>(std::move(request));
  auto finish = std::make_shared<std::function<void(CaptureOutcome)>>(std::move(done));
  const auto deadline = ctx_.clock->steady_now() + req->timeout;
  poll_until(
      deadline,
      [this, req, finish] {
        const auto* s = ctx_.live->find(req->scale_id);
        if (!s) return false;
        if (!req->pinned && (!s->latest || scale::capture_refusal(*s->latest, s->config))) {
          return false;
        }
        // Another weighing on the scale may have been recorded while this one waited.
        if (auto refusal = refused(req->scale_id)) {
          (*finish)(CaptureOutcome{std::move(refusal), {}});
          return true;
        }
        const auto& r = req->pinned ? req->pinned->reading : *s->latest;
        json::object payload{{"station_id", ctx_.station_id},
                             {"type", "static"},
                             {"scale", r.scale},
                             {"weight", r.weight.to_string()},
                             {"unit", r.unit},
                             {"mode", scale::to_string(r.mode)},
                             {"tare", r.tare ? r.tare->to_string() : std::string("0")},
                             {"reading_seq", r.seq},
                             {"reading_ts", scale::format_timestamp(r.ts)},
                             {"protocol", r.protocol},
                             {"raw", scale::to_json(r, false).at("raw")},
                             {"operator", req->operator_id},
                             {"agent_version", ctx_.agent_version},
                             {"captured_at", scale::format_timestamp(ctx_.clock->now())}};
        if (!r.decks.empty()) {
          payload["decks"] = scale::to_json(r, false).at("decks");
          payload["gvw"] = r.weight.to_string();
        }
        // The frame disagreed with itself (a total that is not the sum of the decks): the record
        // says so, with both numbers, rather than looking like an ordinary weighing.
        if (r.flag) payload["flag"] = scale::to_json(*r.flag);
        if (!req->reference.empty()) payload["reference"] = req->reference;
        if (req->annotate) req->annotate(payload);
        if (ctx_.stamp) ctx_.stamp(payload);
        payload["evidence"] =
            json::object{{"frames", req->pinned ? evidence_frames(req->pinned->frames, r.seq)
                                                : evidence_frames(s->recent, r.seq)},
                         {"stale_after_ms", s->config.stale_after.count()}};
        sync::NewMutation m;
        m.idempotency_key = req->idempotency_key;
        m.kind = "weighing.captured";
        m.payload_json = record::serialize_exact(payload);
        m.request_hash = req->request_hash;
        m.created_at_ms = to_ms(ctx_.clock->now());
        m.state_writes = req->state_writes;
        spdlog::info("capture on scale {}: {} {} (reading seq {}) key {}", r.scale,
                     r.weight.to_string(), r.unit, r.seq, req->idempotency_key);
        arm(r.scale, m.state_writes);
        enqueue(std::move(m), [this, scale_id = r.scale, finish](CaptureOutcome outcome) {
          armed(scale_id, recorded(outcome));
          observe(scale_id, outcome);
          (*finish)(std::move(outcome));
        });
        return true;
      },
      [this, req, finish] {
        const auto* s = ctx_.live->find(req->scale_id);
        const auto refusal = s && s->latest ? scale::capture_refusal(*s->latest, s->config)
                                            : std::optional(scale::CaptureRefusal::stale);
        (*finish)(CaptureOutcome{refusal_error(req->scale_id, s, *refusal), {}});
      });
}

}  // namespace weighlink::agent
