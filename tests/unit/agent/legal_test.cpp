// The legal-metrology cores (legal_core.hpp) as pure functions, and the Legal component over a
// real outbox in a temp dir: audit events, the counter, zero return through Captures.
#include "weighlink/agent/legal.hpp"

#include <doctest/doctest.h>

#include <fstream>

#include "core_fixture.hpp"
#include "weighlink/agent/config.hpp"

namespace json = boost::json;
namespace scale = weighlink::scale;
using namespace weighlink::agent;
using namespace weighlink::agent::testing;
using weighlink::sync::EnqueueStatus;

namespace {

scale::Reading at(std::string_view weight, bool stale = false) {
  scale::Reading r;
  r.scale = "main";
  r.weight = dec(weight);
  r.unit = "kg";
  r.stable = false;
  r.stale = stale;
  return r;
}

CaptureRequest request(std::string key) {
  CaptureRequest r;
  r.scale_id = "main";
  r.idempotency_key = std::move(key);
  r.request_hash = "hash-" + r.idempotency_key;
  r.timeout = 1000ms;
  return r;
}

// The Legal component of a station whose configuration is `config` (scale "main").
struct LegalStation {
  explicit LegalStation(AgentConfig c = {}) : config(std::move(c)) {
    if (config.scales.empty()) config.scales = {main_scale()};
    start();
  }
  void start() {
    CaptureContext ctx;
    ctx.station_id = "st-1";
    ctx.agent_version = "test";
    ctx.outbox = st.outbox.get();
    ctx.live = st.live.get();
    ctx.post = st.io.post();
    ctx.schedule = st.io.schedule();
    ctx.clock = &st.io.clock;
    legal = make_legal(config, *st.outbox, *st.live, nullptr, ctx);
    captures = std::make_unique<Captures>(ctx);
  }
  CaptureOutcome capture(const std::string& key) {
    std::optional<CaptureOutcome> out;
    captures->capture(request(key), [&](CaptureOutcome o) { out = std::move(o); });
    st.io.advance(20ms);
    REQUIRE(st.io.run_until([&] { return out.has_value(); }));
    return *out;
  }
  void restart() {
    captures.reset();
    legal.reset();
    st.restart();
    start();
  }
  AgentConfig config;
  Station st;
  std::unique_ptr<Legal> legal;
  std::unique_ptr<Captures> captures;
};

}  // namespace

TEST_CASE("legal: two settings snapshots differ exactly in the changed, added and removed ones") {
  Settings before{{"main", {{"protocol", "mt-continuous"}, {"stability.divisions", "1"}}},
                  {"old", {{"unit", "kg"}}}};
  Settings now{{"main", {{"protocol", "mt-continuous"}, {"stability.divisions", "2"}}},
               {"new", {{"unit", "t"}}}};
  const auto changes = diff_settings(before, now);
  REQUIRE(changes.size() == 3);
  CHECK(changes[0] == AuditChange{"main", "stability.divisions", "1", "2"});
  CHECK(changes[1] == AuditChange{"new", "unit", std::nullopt, "t"});
  CHECK(changes[2] == AuditChange{"old", "unit", "kg", std::nullopt});
  auto applied = before;
  for (const auto& c : changes) apply_change(applied, c);
  CHECK(applied == now);
  CHECK(diff_settings(now, now).empty());
  CHECK(settings_from_json(to_json(now)) == now);
  CHECK_FALSE(settings_from_json(json::value(42)));
}

TEST_CASE("legal: a scale's settings name what changes decoding and weighing, not the port") {
  auto sc = main_scale();
  sc.source = scale::SerialSource{"/dev/ttyUSB0", {9600, scale::Parity::even, 7, 1}};
  auto s = scale_settings(sc, {});
  CHECK(s.at("serial") == "9600 7E1");
  CHECK(s.at("zero_return") == "true");
  CHECK(s.at("zero_band") == "default");
  sc.source = scale::SerialSource{"/dev/ttyUSB1", {9600, scale::Parity::even, 7, 1}};
  CHECK(scale_settings(sc, {}) == s);  // another port, the same indicator
  sc.stability.time = 2000ms;
  CHECK(scale_settings(sc, {}).at("stability.time_ms") == "2000");
}

TEST_CASE("legal: the zero band is the configured one, else the minimum weight, else 20 d") {
  auto sc = main_scale();
  CHECK(zero_band_for(sc, {}, 0) == dec("20"));
  CHECK(zero_band_for(sc, {}, 2) == dec("0.20"));
  sc.stability.division = dec("10");
  CHECK(zero_band_for(sc, {}, 0) == dec("200"));
  sc.min_capture_weight = dec("100");
  CHECK(zero_band_for(sc, {}, 0) == dec("100"));
  CHECK(zero_band_for(sc, {true, dec("40")}, 0) == dec("40"));
}

TEST_CASE("legal: zero return is released only by a fresh reading within the band") {
  ZeroReturn z;
  z.add_scale(main_scale(), {true, dec("20")});
  CHECK_FALSE(z.required("main"));
  CHECK(z.arm("main"));
  CHECK(z.required("main"));
  CHECK_FALSE(z.on_reading(at("8200")));
  CHECK_FALSE(z.on_reading(at("21")));
  CHECK_FALSE(z.on_reading(at("0", /*stale=*/true)));
  auto over = at("0");
  over.overload = true;
  CHECK_FALSE(z.on_reading(over));
  CHECK(z.required("main"));
  CHECK(z.on_reading(at("-20")));  // in motion is enough
  CHECK_FALSE(z.required("main"));
  CHECK(z.to_json("main", 0) ==
        json::object{{"enabled", true}, {"required", false}, {"band", "20"}});

  ZeroReturn off;
  off.add_scale(main_scale(), {false, std::nullopt});
  CHECK_FALSE(off.arm("main"));
  CHECK_FALSE(off.required("main"));
  off.restore("main", true);
  CHECK_FALSE(off.required("main"));
}

TEST_CASE("legal: the first start records every setting once, a changed one at the next start") {
  LegalStation ls;
  const auto first = ls.legal->audit_counter();
  CHECK(first == scale_settings(main_scale(), {}).size());
  auto rows = ls.st.rows();
  REQUIRE(rows.size() == first);
  for (const auto& r : rows) CHECK(r.kind == kAuditEventKind);
  const auto p = payload_of(rows.front());
  CHECK(p.at("n") == 1);
  CHECK(p.at("old").is_null());
  CHECK(p.at("reason") == "initial setting (first start)");

  ls.restart();  // the same settings: nothing new
  CHECK(ls.legal->audit_counter() == first);
  CHECK(ls.st.rows().size() == first);

  ls.config.scales[0].stability.divisions = 3;
  ls.restart();
  CHECK(ls.legal->audit_counter() == first + 1);
  rows = ls.st.rows();
  REQUIRE(rows.size() == first + 1);
  const auto changed = payload_of(rows.back());
  CHECK(changed.at("n") == first + 1);
  CHECK(changed.at("setting") == "stability.divisions");
  CHECK(changed.at("old") == "1");
  CHECK(changed.at("new") == "3");
  CHECK(changed.at("reason") == "changed since the previous run");
}

TEST_CASE(
    "legal: a weighing carries the software and the audit counter; zero return holds the "
    "next one until the deck is empty, across a restart") {
  LegalStation ls;
  ls.st.show("8200");
  auto one = ls.capture("k1");
  REQUIRE_FALSE(one.error);
  REQUIRE(one.enqueued.status == EnqueueStatus::accepted);
  const auto p = json::parse(one.enqueued.row.payload_json).as_object();
  CHECK(p.at("software").at("name") == "weighlink-agent");
  CHECK(p.at("software").at("version") == "test");
  CHECK(p.at("audit_counter") == ls.legal->audit_counter());

  auto two = ls.capture("k2");
  REQUIRE(two.error);
  CHECK(two.error->code == "zero_return_required");
  CHECK(two.error->message.find("return to zero") != std::string::npos);

  ls.restart();  // the flag was saved with the weighing
  ls.st.show("8200");
  two = ls.capture("k2");
  REQUIRE(two.error);
  CHECK(two.error->code == "zero_return_required");

  ls.legal->on_reading(ls.st.show("0", /*stable=*/false));
  ls.st.show("9100");
  two = ls.capture("k2");
  REQUIRE_FALSE(two.error);
  CHECK(two.enqueued.status == EnqueueStatus::accepted);
}

TEST_CASE("legal: an operator's action is an audit event, recorded once per key") {
  LegalStation ls;
  const auto first = ls.legal->audit_counter();
  AuditChange change{"io/main", "exit_barrier", "closed", "open"};
  auto r = ls.legal->record_action(change, "op-7", "truck stuck", "io-override:k1");
  REQUIRE(r.status == EnqueueStatus::accepted);
  CHECK(ls.legal->audit_counter() == first + 1);
  const auto p = payload_of(ls.st.rows().back());
  CHECK(p.at("n") == first + 1);
  CHECK(p.at("scope") == "io/main");
  CHECK(p.at("old") == "closed");
  CHECK(p.at("new") == "open");
  CHECK(p.at("by") == "op-7");
  CHECK(p.at("reason") == "truck stuck");

  // A retry of the same action: the event recorded first; the counter stays.
  r = ls.legal->record_action(change, "op-7", "truck stuck", "io-override:k1");
  CHECK(r.status == EnqueueStatus::replayed);
  CHECK(ls.legal->audit_counter() == first + 1);
  // The same key for another action is refused.
  r = ls.legal->record_action(change, "op-8", "truck stuck", "io-override:k1");
  CHECK(r.status == EnqueueStatus::key_reused);
  CHECK(ls.legal->audit_counter() == first + 1);

  ls.restart();  // the counter is durable; an action is no setting to record again
  CHECK(ls.legal->audit_counter() == first + 1);
}

TEST_CASE("legal: with zero_return off the next weighing is not held") {
  AgentConfig c;
  c.scales = {main_scale()};
  c.legal.zero_return["main"] = ZeroReturnConfig{false, std::nullopt};
  LegalStation ls(c);
  ls.st.show("8200");
  REQUIRE_FALSE(ls.capture("k1").error);
  REQUIRE_FALSE(ls.capture("k2").error);
}

TEST_CASE("legal: scales[].zero_return and zero_band are read per scale, and bad values named") {
  weighlink::testing::TempDir dir("wl-legal-config");
  const auto load = [&](const std::string& yaml) {
    std::ofstream(dir / "c.yaml") << yaml;
    return load_config_file(dir / "c.yaml");
  };
  const auto cfg = load(
      "scales:\n"
      "  - {id: a, source: 'tcp:127.0.0.1:4001', protocol: mt-continuous, zero_return: false}\n"
      "  - {id: b, source: 'tcp:127.0.0.1:4002', protocol: mt-continuous, zero_band: 0.50}\n");
  CHECK_FALSE(cfg.legal.for_scale("a").enabled);
  CHECK(cfg.legal.for_scale("b").enabled);
  CHECK(cfg.legal.for_scale("b").band == dec("0.50"));
  CHECK(cfg.legal.for_scale("c") == ZeroReturnConfig{});
  auto error = [&](const std::string& yaml) {
    try {
      (void)load(yaml);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string scale = "scales:\n  - {source: 'tcp:127.0.0.1:4001', protocol: mt-continuous, ";
  CHECK(error(scale + "zero_band: -5}\n").find("scales[0].zero_band: must not be negative") !=
        std::string::npos);
  CHECK(error(scale + "zero_band: lots}\n").find("not a decimal weight") != std::string::npos);
  CHECK(error(scale + "zero_return: maybe}\n")
            .find("scales[0].zero_return: expected true or false") != std::string::npos);
}
