// The legal-metrology record end to end (docs/legal-metrology.md): the real weighlink-agent on a
// pty scale; the software identification against sha256 of the binary, the audit trail across a
// restart with a changed setting, zero return refusing and releasing a capture.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "agent_fixture.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/testing/pg_cluster.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using weighlink::testing::agent_status;
using weighlink::testing::AgentProcess;
using weighlink::testing::bin;
using weighlink::testing::body_of;
using weighlink::testing::eventually;
using weighlink::testing::http_request;
using weighlink::testing::mt_frame;
using weighlink::testing::post_json;
using weighlink::testing::PtyScale;
using weighlink::testing::read_until;
using weighlink::testing::return_to_zero;
using weighlink::testing::StreamingScale;
using weighlink::testing::TempDir;
using weighlink::testing::WsClient;

namespace {

constexpr const char* kCapture = R"({"scale":"main","operator":"op-1","timeout_ms":3000})";

std::string config(const PtyScale& pty, int divisions) {
  return "scales:\n  - {id: main, source: 'serial:" + pty.path() +
         "', protocol: mt-continuous, zero_band: 20, stability: {divisions: " +
         std::to_string(divisions) + "}}\n";
}

json::object zero_return(const std::string& http) {
  return agent_status(http).at("scales").as_array().at(0).at("zero_return").as_object();
}

}  // namespace

TEST_CASE("legal: /v1/status, the live hello and every weighing carry the binary's sha256") {
  TempDir dir("wl-legal");
  PtyScale pty(dir / "scale");
  StreamingScale scale(pty, mt_frame("8200"));
  AgentProcess agent(dir, {"--scale-source", "serial:" + pty.path()});
  const auto expected = weighlink::base::file_sha256(bin("weighlink-agent"));
  REQUIRE(expected);

  const auto software = agent_status(agent.http).at("software").as_object();
  CHECK(software.at("name") == "weighlink-agent");
  CHECK(software.at("sha256") == json::value(*expected));

  WsClient ws(agent.http, "/v1/live");
  const auto hello = read_until(ws, [](const json::object& m) { return m.at("type") == "hello"; });
  CHECK(hello.at("software").at("sha256") == json::value(*expected));

  auto r = post_json(agent.http, "/v1/captures", "cap-1", kCapture);
  REQUIRE_MESSAGE(r.status == 202, r.body);
  const auto weighing = body_of(r).at("weighing").as_object();
  CHECK(weighing.at("software") == json::value(software));
  CHECK(weighing.at("audit_counter") == agent_status(agent.http).at("audit").at("counter"));
}

TEST_CASE(
    "legal: a restart with another stability setting records the change; the weighings "
    "before and after carry different audit counters") {
  TempDir dir("wl-legal");
  PtyScale pty(dir / "scale");
  StreamingScale scale(pty, mt_frame("8200"));
  json::value first_counter;
  {
    AgentProcess agent(dir, {}, config(pty, 1));
    auto r = post_json(agent.http, "/v1/captures", "cap-1", kCapture);
    REQUIRE_MESSAGE(r.status == 202, r.body);
    first_counter = body_of(r).at("weighing").at("audit_counter");
    CHECK(first_counter.as_int64() > 0);  // the first start recorded the initial settings
  }
  AgentProcess agent(dir, {}, config(pty, 2));
  const auto audit =
      body_of(http_request(agent.http, "GET", "/v1/audit?after=" + json::serialize(first_counter)));
  CHECK(audit.at("counter") == first_counter.as_int64() + 1);
  REQUIRE(audit.at("items").as_array().size() == 1);
  const auto& event = audit.at("items").as_array().at(0).as_object();
  CHECK(event.at("n") == first_counter.as_int64() + 1);
  CHECK(event.at("scope") == "main");
  CHECK(event.at("setting") == "stability.divisions");
  CHECK(event.at("old") == "1");
  CHECK(event.at("new") == "2");
  CHECK(event.at("by") == json::value("config file " + (dir / "agent.yaml").string()));
  CHECK(event.at("at").is_string());

  // The first weighing's zero return outlived the stop.
  return_to_zero(scale, agent.http, "8200");
  auto r = post_json(agent.http, "/v1/captures", "cap-2", kCapture);
  REQUIRE_MESSAGE(r.status == 202, r.body);
  CHECK(body_of(r).at("weighing").at("audit_counter") == first_counter.as_int64() + 1);

  // Pages are bounded: the whole trail from the start, two at a time.
  auto page = body_of(http_request(agent.http, "GET", "/v1/audit?limit=2"));
  CHECK(page.at("items").as_array().size() == 2);
  CHECK(page.at("next_after") == 2);
  CHECK(page.at("items").as_array().at(0).at("old").is_null());
  CHECK(http_request(agent.http, "GET", "/v1/audit?limit=0").status == 400);
}

TEST_CASE("legal: zero return refuses the next capture until the scale has shown zero") {
  TempDir dir("wl-legal");
  PtyScale pty(dir / "scale");
  StreamingScale scale(pty, mt_frame("8200"));
  AgentProcess agent(dir, {}, config(pty, 1));
  CHECK(zero_return(agent.http) ==
        json::object{{"enabled", true}, {"required", false}, {"band", "20"}});

  REQUIRE(post_json(agent.http, "/v1/captures", "cap-1", kCapture).status == 202);
  CHECK(zero_return(agent.http).at("required") == true);
  // The same key again is the same weighing, not a new one.
  CHECK(post_json(agent.http, "/v1/captures", "cap-1", kCapture).status == 200);

  auto refused = post_json(agent.http, "/v1/captures", "cap-2", kCapture);
  CHECK(refused.status == 409);
  CHECK(body_of(refused).at("error") == "zero_return_required");
  CHECK(std::string(body_of(refused).at("message").as_string()).find("clear the deck") !=
        std::string::npos);

  WsClient ws(agent.http, "/v1/live");
  scale.set(mt_frame("25"));  // not within ±20: still held
  read_until(ws, [](const json::object& m) {
    return m.at("type") == "reading" && m.at("weight") == "25";
  });
  CHECK(post_json(agent.http, "/v1/captures", "cap-3", kCapture).status == 409);

  return_to_zero(scale, agent.http, "9100");
  auto again = post_json(agent.http, "/v1/captures", "cap-2", kCapture);
  REQUIRE_MESSAGE(again.status == 202, again.body);
  CHECK(body_of(again).at("weighing").at("weight") == "9100");
}

TEST_CASE("legal: the backend stores the audit events beside the weighings, counter and all") {
  TempDir dir("wl-legal");
  PtyScale pty(dir / "scale");
  StreamingScale scale(pty, mt_frame("8200"));
  weighlink::testing::StationBackend backend(dir);
  auto args = backend.agent_args();
  args.insert(args.end(), {"--scale-source", "serial:" + pty.path()});
  AgentProcess agent(dir, args);
  REQUIRE(post_json(agent.http, "/v1/captures", "cap-1", kCapture).status == 202);
  const auto counter = agent_status(agent.http).at("audit").at("counter").as_int64();
  const auto& pg = backend.pg();
  REQUIRE(eventually(
      [&] {
        return pg.query_scalar("select count(*) from mutation_log") == std::to_string(counter + 1);
      },
      30s));
  CHECK(pg.query_scalar("select count(*) from mutation_log where kind = 'weighlink.audit_event'") ==
        std::to_string(counter));
  CHECK(pg.query_scalar("select max((coalesce(payload, payload_text::jsonb)->>'n')::bigint) from "
                        "mutation_log where kind = "
                        "'weighlink.audit_event'") == std::to_string(counter));
  CHECK(
      pg.query_scalar(
          "select coalesce(payload, payload_text::jsonb)->>'audit_counter' from mutation_log where "
          "idempotency_key = 'cap-1'") == std::to_string(counter));
}
