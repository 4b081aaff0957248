// Captures in-process: a real outbox in a temp dir, readings fed by the test, deadlines driven by
// the manual clock (no sleeps).
#include "weighlink/agent/captures.hpp"

#include <doctest/doctest.h>

#include "core_fixture.hpp"

namespace json = boost::json;
using namespace weighlink::agent;
using namespace weighlink::agent::testing;
using weighlink::sync::EnqueueStatus;

namespace {

CaptureRequest request(std::string key, std::chrono::milliseconds timeout = 3000ms) {
  CaptureRequest r;
  r.scale_id = "main";
  r.operator_id = "jdoe";
  r.idempotency_key = std::move(key);
  r.request_hash = "hash-" + r.idempotency_key;
  r.timeout = timeout;
  return r;
}

// The answer of an asynchronous call, once it came.
template <class T>
struct Answer {
  std::optional<T> value;
  std::function<void(T)> sink() {
    return [this](T v) { value = std::move(v); };
  }
  bool operator()() const { return value.has_value(); }
};

// A session of `expected` axles with axle 1 captured at `weight` (key "ax1"), answered.
void first_axle(Station& st, int expected, std::string_view weight) {
  REQUIRE_FALSE(st.captures->start_session("main", expected, false));
  st.show(weight);
  Answer<AxleOutcome> a1;
  st.captures->capture_axle("main", "ax1", "h1", 3000ms, a1.sink());
  REQUIRE(st.io.run_until(std::ref(a1)));
  REQUIRE_FALSE(a1.value->error);
  CHECK(a1.value->axle.number == 1);
  CHECK(a1.value->axle.weight == dec(weight));
}

}  // namespace

TEST_CASE("captures: a static capture waits for the stable reading and records it exactly") {
  Station st;
  st.show("8200", /*stable=*/false);
  Answer<CaptureOutcome> done;
  st.captures->capture(request("k1"), done.sink());
  st.io.advance(500ms);
  CHECK_FALSE(done());  // in motion: still waiting
  const auto settled = st.show("8220.50");
  st.io.advance(20ms);
  REQUIRE(st.io.run_until(std::ref(done)));
  REQUIRE_FALSE(done.value->error);
  CHECK(done.value->enqueued.status == EnqueueStatus::accepted);
  const auto rows = st.rows();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].idempotency_key == "k1");
  CHECK(rows[0].kind == "weighing.captured");
  const auto p = payload_of(rows[0]);
  CHECK(p.at("weight") == "8220.50");  // the decimals as the indicator showed them
  CHECK(p.at("reading_seq") == settled.seq);
  CHECK(p.at("operator") == "jdoe");
  CHECK(p.at("type") == "static");
  // Recorded at the clock's time when it settled (520 ms after the manual clock's start).
  CHECK(p.at("captured_at") == "2026-12-07T08:00:00.520Z");
  // The frames behind it: the motion frame and the stable one.
  const auto& frames = p.at("evidence").at("frames").as_array();
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].at("stable") == false);
  CHECK(frames[1].at("weight") == "8220.50");
  CHECK(rows[0].created_at_ms == to_ms(st.io.clock.now()));
}

TEST_CASE("captures: a scale that never settles is refused at the deadline, nothing recorded") {
  Station st;
  st.show("8200", false);
  Answer<CaptureOutcome> done;
  st.captures->capture(request("k1", 2000ms), done.sink());
  st.io.advance(1980ms);
  CHECK_FALSE(done());
  st.io.advance(40ms);
  REQUIRE(done());
  REQUIRE(done.value->error);
  CHECK(done.value->error->status == 409);
  CHECK(done.value->error->code == "scale_not_stable");
  CHECK(st.io.timers() == 0);  // nothing keeps polling
  CHECK(st.rows().empty());
}

TEST_CASE("captures: stale, below-minimum and unknown scales are refused with their reason") {
  auto cfg = Station::default_scale();
  cfg.min_capture_weight = dec("100");
  Station st({cfg});
  Answer<CaptureOutcome> done;
  SUBCASE("no reading at all: 503") {
    st.captures->capture(request("k", 0ms), done.sink());
    REQUIRE(done());
    CHECK(done.value->error->status == 503);
    CHECK(done.value->error->code == "scale_unavailable");
  }
  SUBCASE("a stable reading gone stale is not captured") {
    st.show("8200");
    st.go_stale();
    st.captures->capture(request("k", 100ms), done.sink());
    st.io.advance(100ms);
    REQUIRE(done());
    CHECK(done.value->error->code == "scale_unavailable");
  }
  SUBCASE("an empty deck") {
    st.show("40");
    st.captures->capture(request("k", 100ms), done.sink());
    st.io.advance(100ms);
    REQUIRE(done());
    CHECK(done.value->error->status == 409);
    CHECK(done.value->error->code == "below_minimum_weight");
    CHECK(done.value->error->message.find("40 kg") != std::string::npos);
  }
  SUBCASE("a scale that is not configured") {
    auto r = request("k", 100ms);
    r.scale_id = "nope";
    st.captures->capture(std::move(r), done.sink());
    st.io.advance(100ms);
    REQUIRE(done());
    CHECK(done.value->error->code == "scale_unavailable");
    CHECK_FALSE(st.captures->has_scale("nope"));
  }
  CHECK(st.rows().empty());
}

TEST_CASE("captures: a pinned reading is recorded as held, whatever the scale shows now") {
  Station st;
  const auto held = st.show("8200");
  auto pinned = st.captures->pin("main");
  REQUIRE(pinned);
  CHECK(pinned->reading.seq == held.seq);
  st.show("9100", false);                 // the truck moved on
  CHECK_FALSE(st.captures->pin("main"));  // nothing capturable now
  auto r = request("pinned");
  r.pinned = std::move(pinned);
  Answer<CaptureOutcome> done;
  st.captures->capture(std::move(r), done.sink());
  REQUIRE(st.io.run_until(std::ref(done)));
  REQUIRE_FALSE(done.value->error);
  const auto p = payload_of(st.rows().at(0));
  CHECK(p.at("weight") == "8200");
  CHECK(p.at("reading_seq") == held.seq);
  // Its evidence stops at the pinned frame: the later motion frame is not behind it.
  CHECK(p.at("evidence").at("frames").as_array().size() == 1);
}

TEST_CASE("captures: an axle session captures axle after axle and completes into one weighing") {
  Station st;
  first_axle(st, 2, "6000");  // answered once saved

  // The pad still shows axle 1: the next axle waits for a new weight after motion.
  Answer<AxleOutcome> a2;
  st.captures->capture_axle("main", "ax2", "h2", 3000ms, a2.sink());
  st.io.advance(200ms);
  CHECK_FALSE(a2());
  st.show("3000", false);
  st.io.advance(20ms);
  CHECK_FALSE(a2());
  st.show("7000.5");
  st.io.advance(20ms);
  REQUIRE(st.io.run_until(std::ref(a2)));
  REQUIRE_FALSE(a2.value->error);
  CHECK(a2.value->axle.number == 2);
  CHECK(a2.value->axle.weight == dec("7000.5"));
  CHECK(st.captures->session_json("main").at("running_gvw") == "13000.5");

  // The same key again is the same axle, not a third one; another request under it is refused.
  Answer<AxleOutcome> again;
  st.captures->capture_axle("main", "ax1", "h1", 3000ms, again.sink());
  REQUIRE(again());
  CHECK(again.value->replayed);
  CHECK(again.value->axle.number == 1);
  Answer<AxleOutcome> reused;
  st.captures->capture_axle("main", "ax1", "other", 3000ms, reused.sink());
  REQUIRE(reused());
  CHECK(reused.value->error->status == 422);
  CHECK(reused.value->error->code == "idempotency_key_reused");

  auto req = request("vehicle-1");
  Answer<CaptureOutcome> done;
  st.captures->complete_session(std::move(req), done.sink());
  REQUIRE(st.io.run_until(std::ref(done)));
  REQUIRE_FALSE(done.value->error);
  const auto rows = st.rows();
  REQUIRE(rows.size() == 1);
  const auto p = payload_of(rows[0]);
  CHECK(p.at("type") == "axle");
  CHECK(p.at("gvw") == "13000.5");
  REQUIRE(p.at("axles").as_array().size() == 2);
  CHECK(p.at("axles").as_array()[1].at("weight") == "7000.5");
  // The open session went with the weighing, in the same transaction.
  CHECK_FALSE(st.outbox->get_state("axle-session/main"));
  CHECK(st.captures->session_json("main").at("state") == "complete");
}

TEST_CASE("captures: an agent restarted mid-vehicle carries on with the axles it had") {
  Station st;
  first_axle(st, 3, "5000");

  st.restart();
  const auto* session = st.captures->session("main");
  REQUIRE(session);
  CHECK(session->state() == weighlink::scale::AxleSession::State::weighing);
  REQUIRE(session->axles().size() == 1);
  CHECK(session->axles()[0].weight == dec("5000"));
  CHECK(session->options().expected_axles == 3);
  // The key of axle 1 still answers with it; a starting session is refused while axles wait.
  Answer<AxleOutcome> again;
  st.captures->capture_axle("main", "ax1", "h1", 3000ms, again.sink());
  REQUIRE(again());
  CHECK(again.value->replayed);
  const auto busy = st.captures->start_session("main", 3, false);
  REQUIRE(busy);
  CHECK(busy->code == "session_in_progress");
  // The first reading of the new run is an axle, though its seq counts from 1 again.
  st.show("5200");
  Answer<AxleOutcome> a2;
  st.captures->capture_axle("main", "ax2", "h2", 3000ms, a2.sink());
  REQUIRE(st.io.run_until(std::ref(a2)));
  REQUIRE_FALSE(a2.value->error);
  CHECK(a2.value->axle.number == 2);
}

TEST_CASE("captures: an axle still waiting is given up by the next axle or a reset") {
  Station st;
  REQUIRE_FALSE(st.captures->start_session("main", 0, false));
  st.show("4000", false);
  Answer<AxleOutcome> waiting;
  st.captures->capture_axle("main", "ax1", "h1", 3000ms, waiting.sink());
  st.io.advance(100ms);
  REQUIRE_FALSE(waiting());

  SUBCASE("another capture without supersede is refused as busy") {
    Answer<AxleOutcome> second;
    st.captures->capture_axle("main", "ax2", "h2", 3000ms, second.sink());
    REQUIRE(second());
    CHECK(second.value->error->code == "session_busy");
    CHECK_FALSE(waiting());
  }
  SUBCASE("the next axle supersedes it; the waiting one answers first") {
    Answer<AxleOutcome> second;
    st.captures->capture_axle(
        "main", "ax2", "h2", 3000ms,
        [&](AxleOutcome o) {
          CHECK(waiting());  // superseded before this one is answered
          second.value = std::move(o);
        },
        AxleRequest{2, true});
    REQUIRE(waiting());
    CHECK(waiting.value->error->code == "superseded");
    st.show("4100");
    st.io.advance(20ms);
    REQUIRE(st.io.run_until(std::ref(second)));
    REQUIRE_FALSE(second.value->error);
    CHECK(second.value->axle.number == 2);  // axle 1 stays missing, the numbering the app's
    // Axle 1 gave up: it never completes later, however long the clock runs.
    st.io.advance(10s);
    CHECK(st.captures->session("main")->axles().size() == 1);
  }
  SUBCASE("a reset answers it once the session is idle") {
    REQUIRE_FALSE(st.captures->reset_session("main"));
    REQUIRE(waiting());
    CHECK(waiting.value->error->code == "session_reset");
    CHECK(st.captures->session_json("main").at("state") == "idle");
    st.show("4100");
    st.io.advance(10s);
    CHECK(st.captures->session("main")->axles().empty());
  }
  SUBCASE("the deadline gives it up as not stable") {
    st.io.advance(2900ms);
    REQUIRE(waiting());
    CHECK(waiting.value->error->code == "scale_not_stable");
    CHECK(st.captures->session("main")->axles().empty());
  }
  CHECK(st.rows().empty());
}

TEST_CASE("captures: on a direct pad, an axle that leaves before settling is not captured") {
  Station st;
  REQUIRE_FALSE(st.captures->start_session("main", 0, false));
  st.show("4000", false);
  Answer<AxleOutcome> a;
  st.captures->capture_axle("main", "ax1", "h1", 3000ms, a.sink());
  st.show("0");  // the pad emptied, stable
  st.io.advance(20ms);
  REQUIRE(a());
  CHECK(a.value->error->code == "axle_left_pad");
  CHECK(st.captures->session("main")->axles().empty());
}

TEST_CASE("captures: completing with an axle missing is refused unless the caller allows it") {
  Station st;
  first_axle(st, 2, "6000");
  Answer<CaptureOutcome> refused;
  st.captures->complete_session(request("v"), refused.sink());
  REQUIRE(refused());
  CHECK(refused.value->error->code == "missing_axles");
  CHECK(st.captures->session_json("main").at("state") == "weighing");
  auto r = request("v");
  r.allow_missing_axles = true;
  Answer<CaptureOutcome> done;
  st.captures->complete_session(std::move(r), done.sink());
  REQUIRE(st.io.run_until(std::ref(done)));
  REQUIRE_FALSE(done.value->error);
  const auto p = payload_of(st.rows().at(0));
  REQUIRE(p.at("missing_axles").as_array().size() == 1);
  CHECK(p.at("missing_axles").as_array()[0] == 2);
}
