#pragma once
// The agent's socket-free cores (Captures, Api, TruConnect) run in-process over a real SQLite
// outbox in a temp dir, with the io thread and the clock played by the test: posted tasks run
// when the test asks, timers when it advances the clock. Nothing sleeps; a test waits for the
// outbox's answer itself (its writer thread posts it).

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "fake_io.hpp"
#include "weighlink/agent/api.hpp"
#include "weighlink/agent/captures.hpp"
#include "weighlink/agent/clock.hpp"
#include "weighlink/agent/live_state.hpp"
#include "weighlink/agent/truconnect.hpp"
#include "weighlink/sync/outbox.hpp"
#include "weighlink/testing/process.hpp"

namespace weighlink::agent::testing {

using namespace std::chrono_literals;

inline scale::Decimal dec(std::string_view text) { return scale::Decimal::parse(text).value(); }

// The scale "main": a direct axle pad (its protocol has a motion flag), stale after 1 s.
inline scale::ScaleConfig main_scale() {
  scale::ScaleConfig c;
  c.id = "main";
  c.protocol = "mt-continuous";
  c.stale_after = 1000ms;
  return c;
}

// One station: a scale (or more), the live state, the outbox, Captures; Api and TruConnect on
// demand. restart() closes and reopens everything on the same outbox file, as a restarted agent.
class Station {
 public:
  explicit Station(std::vector<scale::ScaleConfig> scales = {main_scale()},
                   std::optional<TruConnectConfig> truconnect = std::nullopt)
      : scales_(std::move(scales)), truconnect_config_(std::move(truconnect)) {
    start();
  }
  ~Station() { stop(); }

  static scale::ScaleConfig default_scale() { return main_scale(); }

  // A reading as the scale reader hands it over: the next seq, now, stable or in motion.
  scale::Reading reading(std::string_view weight, bool stable = true, std::string unit = "kg",
                         const std::string& scale_id = "") {
    scale::Reading r;
    r.scale = scale_id.empty() ? scales_.front().id : scale_id;
    r.seq = ++seq_;
    r.ts = io.clock.now();
    r.protocol = scales_.front().protocol;
    r.weight = dec(weight);
    r.unit = std::move(unit);
    r.stable = stable;
    r.raw = "frame " + std::string(weight) + (stable ? " S" : " M");
    return r;
  }
  // The reading reaches the io thread (live state, then the TruConnect layer).
  const scale::Reading& feed(scale::Reading r) {
    live->on_connection(r.scale, true, "test");
    live->on_reading(r);
    if (truconnect) truconnect->on_reading(r);
    last_ = std::move(r);
    return last_;
  }
  const scale::Reading& show(std::string_view weight, bool stable = true, std::string unit = "kg") {
    return feed(reading(weight, stable, std::move(unit)));
  }
  // The scale stops sending: the reader re-emits the last reading as stale.
  void go_stale() {
    auto r = last_;
    r.stale = true;
    r.stable = false;
    r.seq = ++seq_;
    live->on_reading(r);
    if (truconnect) truconnect->on_reading(r);
  }

  Api& api(ApiContext extra = {}) {
    if (!api_) {
      wire(extra);
      extra.captures = captures.get();
      api_ = std::make_unique<Api>(std::move(extra));
    }
    return *api_;
  }

  // A new run: readings count from seq 1 again.
  void restart() {
    stop();
    seq_ = 0;
    start();
  }

  [[nodiscard]] std::vector<sync::OutboxRow> rows() { return outbox->list(std::nullopt, 0, 1000); }

  FakeIo io;
  weighlink::testing::TempDir dir{"wl-agent-core"};
  std::unique_ptr<sync::Outbox> outbox;
  std::unique_ptr<LiveState> live;
  std::unique_ptr<Captures> captures;
  std::unique_ptr<TruConnect> truconnect;

 private:
  // What the Api's and the Captures' contexts both take from the station.
  template <class Context>
  void wire(Context& ctx) {
    ctx.station_id = "st-1";
    ctx.agent_version = "test";
    ctx.outbox = outbox.get();
    ctx.live = live.get();
    ctx.post = io.post();
    ctx.clock = &io.clock;
  }

  void start() {
    sync::OutboxOptions options;
    options.station_id = "st-1";
    auto opened = sync::Outbox::open(dir / "outbox.db", options);
    REQUIRE_MESSAGE(opened.has_value(), (opened ? std::string() : opened.error().message));
    outbox = std::move(*opened);
    live = std::make_unique<LiveState>();
    for (const auto& s : scales_) live->add_scale(s);
    CaptureContext ctx;
    wire(ctx);
    ctx.schedule = io.schedule();
    captures = std::make_unique<Captures>(ctx);
    if (truconnect_config_) {
      truconnect = std::make_unique<TruConnect>(*truconnect_config_, *captures, "test");
    }
  }
  void stop() {
    // What the outbox still owes is answered before it closes (an agent stopping drains it);
    // timers die with the io_context.
    if (outbox) outbox->close();
    io.run_ready();
    io.drop_timers();
    api_.reset();
    truconnect.reset();
    captures.reset();
    outbox.reset();
  }

  std::vector<scale::ScaleConfig> scales_;
  std::optional<TruConnectConfig> truconnect_config_;
  std::unique_ptr<Api> api_;
  std::uint64_t seq_ = 0;
  scale::Reading last_;
};

inline boost::json::object payload_of(const sync::OutboxRow& row) {
  return boost::json::parse(row.payload_json).as_object();
}

}  // namespace weighlink::agent::testing
