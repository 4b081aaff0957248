// Integrity at the agent's boundaries (docs/security.md): what a browser, the TruLoad web app or a
// script can send to the real weighlink-agent, case by case. Each case checks the answer, that
// the agent still answers, and that nothing already queued was lost or changed.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "agent_fixture.hpp"
#include "weighlink/record/mutation_rules.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;

namespace {

struct Case {
  const char* name;
  std::string key;  // Idempotency-Key ("" = none)
  std::string content_type;
  std::string body;
  int status;
  const char* error;  // the error code expected, or nullptr for an accepted mutation
};

HttpResult post_raw(const std::string& http, const std::string& key, const std::string& type,
                    const std::string& body) {
  std::map<std::string, std::string> headers;
  if (!type.empty()) headers["Content-Type"] = type;
  if (!key.empty()) headers["Idempotency-Key"] = key;
  return http_request(http, "POST", "/v1/mutations", headers, body);
}

std::string mutation(const std::string& payload, const std::string& kind = "note.added") {
  return R"({"kind":")" + kind + R"(","payload":)" + payload + "}";
}

// The raw text of /v1/outbox: numbers are compared as the agent wrote them, not as a double.
std::string outbox_text(const std::string& http) {
  return http_request(http, "GET", "/v1/outbox?limit=1000").body;
}

std::size_t queued(const std::string& http) {
  return weighlink::testing::without_audit(
             body_of(http_request(http, "GET", "/v1/outbox?limit=1000")))
      .size();
}

}  // namespace

TEST_CASE(
    "boundary: /v1/mutations refuses each bad request alone, keeps numbers exact, and loses "
    "nothing queued") {
  TempDir dir("wl-boundary");
  AgentProcess agent(dir, {});
  const std::string json_type = "application/json";
  const std::string deep = std::string(40, '[') + std::string(40, ']');
  const std::vector<Case> cases = {
      {"no key", "", json_type, mutation("{}"), 400, "idempotency_key_missing"},
      {"key with a space", "gross weight", json_type, mutation("{}"), 400,
       "idempotency_key_invalid"},
      {"key of 256", std::string(256, 'k'), json_type, mutation("{}"), 400,
       "idempotency_key_invalid"},
      {"key with a tab", "a\tb", json_type, mutation("{}"), 400, "idempotency_key_invalid"},
      {"application/jsonx", "k-jsonx", "application/jsonx", mutation("{}"), 415,
       "unsupported_media_type"},
      {"text/plain", "k-text", "text/plain", mutation("{}"), 415, "unsupported_media_type"},
      {"no content type", "k-none", "", mutation("{}"), 415, "unsupported_media_type"},
      {"not JSON", "k-garbage", json_type, "kind=x", 400, "invalid_json"},
      {"trailing garbage", "k-trail", json_type, mutation("{}") + " {}", 400, "invalid_json"},
      {"NaN", "k-nan", json_type, mutation(R"({"w":NaN})"), 400, "invalid_json"},
      {"an array body", "k-array", json_type, "[1,2]", 400, "invalid_json"},
      {"a forged weighing", "k-forge", json_type,
       mutation(R"({"scale":"main","weight":"999999","unit":"kg"})", "weighing.captured"), 422,
       "reserved_kind"},
      {"another reserved kind", "k-reserved", json_type, mutation("{}", "weighlink.withheld"), 422,
       "reserved_kind"},
      {"kind in upper case", "k-upper", json_type, mutation("{}", "Note.Added"), 400,
       "invalid_kind"},
      {"kind of 101", "k-long-kind", json_type, mutation("{}", std::string(101, 'a')), 400,
       "invalid_kind"},
      {"kind with a newline", "k-nl-kind", json_type,
       R"({"kind":"note\n[error] forged","payload":{}})", 400, "invalid_kind"},
      {"payload an array", "k-payload-array", json_type, mutation("[1]"), 400, "invalid_payload"},
      // A number is no object, though the exact reader keeps 1.5 and -0 as one-member objects.
      {"payload a fraction", "k-payload-fraction", json_type, mutation("1.5"), 400,
       "invalid_payload"},
      {"payload minus zero", "k-payload-m0", json_type, mutation("-0"), 400, "invalid_payload"},
      {"a body that is a fraction", "k-body-fraction", json_type, "1.5", 400, "invalid_json"},
      {"payload missing", "k-payload-missing", json_type, R"({"kind":"note.added"})", 400,
       "invalid_payload"},
      {"1e400", "k-1e400", json_type, mutation(R"({"n":1e400})"), 400, "inexact_number"},
      {"1.5E3", "k-exp", json_type, mutation(R"({"n":1.5E3})"), 400, "inexact_number"},
      {"41 digits", "k-41", json_type, mutation(R"({"n":)" + std::string(41, '9') + "}"), 400,
       "number_too_long"},
      {"NUL in a string", "k-nul", json_type, mutation(R"({"s":"a\u0000b"})"), 400,
       "nul_character"},
      {"NUL in a member name", "k-nul-name", json_type, mutation(R"({"a\u0000":1})"), 400,
       "nul_character"},
      {"the same member twice", "k-dup", json_type, mutation(R"({"w":"1","w":"2"})"), 400,
       "duplicate_member"},
      {"nested 40 deep", "k-deep", json_type, mutation(R"({"d":)" + deep + "}"), 400, "too_deep"},
      {"charset parameter", "k-charset", "Application/JSON; charset=utf-8", mutation("{}"), 202,
       nullptr},
      {"a large integer", "k-big", json_type, mutation(R"({"n":12345678901234567890123})"), 202,
       nullptr},
      {"a decimal with its trailing zero", "k-dec", json_type,
       mutation(R"({"w":32540.10,"z":-0,"f":0.1})"), 202, nullptr},
  };
  std::size_t accepted = 0;
  for (const auto& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    const auto r = post_raw(agent.http, c.key, c.content_type, c.body);
    CHECK(r.status == c.status);
    if (c.error) {
      const auto body = body_of(r);
      CHECK(body.at("error") == c.error);
      CHECK_FALSE(body.at("message").as_string().empty());
      // A real correlation id, the same in the body and the header.
      CHECK(body.at("correlation_id").as_string().size() >= 8);
      CHECK(r.headers.at("x-correlation-id") == body.at("correlation_id").as_string());
    } else {
      ++accepted;
    }
    CHECK(http_request(agent.http, "GET", "/healthz").status == 200);
    CHECK(queued(agent.http) == accepted);
  }
  // The numbers are queued as they were written, byte for byte.
  const auto text = outbox_text(agent.http);
  CHECK(text.find(R"("n":12345678901234567890123)") != std::string::npos);
  CHECK(text.find(R"("w":32540.10,"z":-0,"f":0.1)") != std::string::npos);
  CHECK(text.find("E22") == std::string::npos);

  // Two bodies that differ in the last digit of a large integer are two requests (422), one that
  // differs only in member order and spacing is the same request (200).
  auto again =
      post_raw(agent.http, "k-big", json_type, mutation(R"({"n":12345678901234567890124})"));
  CHECK(again.status == 422);
  CHECK(body_of(again).at("error") == "idempotency_key_reused");
  again = post_raw(agent.http, "k-big", json_type,
                   R"({ "payload" : { "n" : 12345678901234567890123 }, "kind" : "note.added" })");
  CHECK(again.status == 200);
  again = post_raw(agent.http, "k-dec", json_type, mutation(R"({"w":32540.1,"z":-0,"f":0.1})"));
  CHECK(again.status == 422);
  CHECK(queued(agent.http) == accepted);
  // The operator's command shows them as written too.
  const auto shown = run({bin("weighlink-agent"), "outbox", "show", "k-big", "k-dec", "--data-dir",
                          (dir / "data").string(), "--station-id", "st-1"});
  REQUIRE_MESSAGE(shown.exit_code == 0, shown.output);
  CHECK(shown.output.find(R"("n":12345678901234567890123)") != std::string::npos);
  CHECK(shown.output.find(R"("w":32540.10)") != std::string::npos);
}

TEST_CASE(
    "boundary: captures refuse a control character in the operator and an inexact or "
    "oversized reference, and keep a reference's numbers exact") {
  TempDir dir("wl-boundary");
  PtyScale scale(dir / "scale");
  AgentProcess agent(
      dir, {"--scale-source", "serial:" + scale.path(), "--scale-protocol", "mt-continuous"});
  StreamingScale indicator(scale, mt_frame("14200"));
  struct CaptureCase {
    const char* name;
    std::string body;
    const char* error;
  };
  const std::vector<CaptureCase> cases = {
      {"operator with a newline", R"({"operator":"op\n[warn] forged line"})", "invalid_operator"},
      {"operator of 201", R"({"operator":")" + std::string(201, 'o') + "\"}", "invalid_operator"},
      {"reference not an object", R"({"reference":"KCA 1"})", "invalid_reference"},
      {"reference with 1e5", R"({"reference":{"price":1e5}})", "inexact_number"},
      {"reference of 17 KiB",
       R"({"reference":{"note":")" + std::string(std::size_t{17} * 1024, 'x') + "\"}}",
       "reference_too_large"},
      {"timeout_ms of 1.5", R"({"timeout_ms":1.5})", "invalid_timeout"},
  };
  int n = 0;
  for (const auto& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    const auto r = post_json(agent.http, "/v1/captures", "cap-" + std::to_string(++n), c.body);
    CHECK(r.status == 400);
    CHECK(body_of(r).at("error") == c.error);
  }
  CHECK(queued(agent.http) == 0);
  const auto ok = post_json(agent.http, "/v1/captures", "cap-ok",
                            R"({"operator":"op-1","reference":{"plate":"KCA 123A",)"
                            R"("price_per_tonne":1250.50,"order":98765432109876543210}})");
  REQUIRE(ok.status == 202);
  const auto text = outbox_text(agent.http);
  CHECK(text.find(R"("price_per_tonne":1250.50)") != std::string::npos);
  CHECK(text.find(R"("order":98765432109876543210)") != std::string::npos);
  CHECK(queued(agent.http) == 1);
}

TEST_CASE(
    "boundary: TruConnect builds a valid key from any transaction id or capture type and "
    "keeps the app's text in the reference") {
  TempDir dir("wl-boundary");
  PtyScale scale(dir / "scale");
  const std::string config = truconnect_config(scale.path());
  AgentProcess agent(dir, {}, config);
  StreamingScale indicator(scale, mt_frame("9100"));
  WsClient ws(agent.address("truconnect_ws"), "/");
  next_event(ws, "connected");
  ws.write(
      R"({"event":"register","data":{"stationCode":"ROMIA\n[error] forged","mode":"mobile"}})");
  next_event(ws, "register-ack");
  const std::string long_id(200, 'T');
  ws.write(R"({"event":"transaction-sync","data":{"transactionId":")" + long_id + R"("}})");
  next_event(ws, "transaction-sync-ack");
  ws.write(R"({"event":"capture-request","data":{"type":"gross weight","deck":"deck 1"}})");
  auto ack = next_event(ws, "capture-ack");
  REQUIRE(ack.at("success") == true);
  const std::string key(ack.at("idempotencyKey").as_string());
  CHECK_FALSE(weighlink::record::check_key(key));
  CHECK(key.size() <= 120);
  // A message whose number cannot be kept exactly is refused, and says why.
  ws.write(R"({"event":"vehicle-complete","data":{"axleWeights":[1e5]}})");
  auto refused = next_event(ws, "error");
  CHECK(refused.at("code") == "inexact_number");
  auto items =
      weighlink::testing::without_audit(body_of(http_request(agent.http, "GET", "/v1/outbox")));
  REQUIRE(items.size() == 1);
  const auto& reference = items[0].at("payload").at("reference").as_object();
  CHECK(reference.at("transaction_id").as_string() == long_id);
  CHECK(reference.at("type") == "gross weight");
  // The station code with a newline did not start a line of its own in the agent's log.
  const auto log = read_file(dir / "agent.log");
  CHECK(log.find("\n[error] forged") == std::string::npos);
  CHECK(log.find("ROMIA\\n[error] forged") != std::string::npos);
}

TEST_CASE(
    "boundary: the live socket answers each bad message alone, keeps a ping's id exact, and "
    "stays up") {
  TempDir dir("wl-boundary");
  AgentProcess agent(dir, {});
  WsClient ws(agent.http, "/v1/live");
  // The next control message (readings and status messages are skipped), as its raw text.
  auto next_control = [&]() {
    for (int i = 0; i < 50; ++i) {
      auto text = ws.read(10s);
      REQUIRE(text);
      const auto type = json::parse(*text).at("type").as_string();
      if (type != "reading" && type != "status" && type != "hello") return *text;
    }
    FAIL("no control message");
    return std::string();
  };
  struct LiveCase {
    const char* name;
    std::string message;
    const char* answer_type;
    const char* error;  // nullptr when not an error
  };
  const std::vector<LiveCase> cases = {
      {"not JSON", "hello?", "error", "invalid_json"},
      {"an array", "[1]", "error", "invalid_message"},
      {"no type", R"({"scales":[]})", "error", "invalid_message"},
      {"a numeric type", R"({"type":1})", "error", "invalid_message"},
      {"an unknown type", R"({"type":"shutdown"})", "error", "unknown_type"},
      {"1e400 as a ping id", R"({"type":"ping","id":1e400})", "error", "inexact_number"},
      {"NUL in a string", R"({"type":"ping","id":"a\u0000"})", "error", "nul_character"},
      {"type twice", R"({"type":"ping","type":"subscribe"})", "error", "duplicate_member"},
      {"scales not a list", R"({"type":"subscribe","scales":"main"})", "error",
       "invalid_subscribe"},
      {"scales of numbers", R"({"type":"subscribe","scales":[1]})", "error", "invalid_subscribe"},
      {"an unknown scale with a newline", R"({"type":"subscribe","scales":["x\n[warn] forged"]})",
       "error", "unknown_scale"},
      {"subscribe to all", R"({"type":"subscribe","scales":[]})", "subscribed", nullptr},
      {"a plain ping", R"({"type":"ping","id":7})", "pong", nullptr},
  };
  for (const auto& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    ws.write(c.message);
    const auto answer = json::parse(next_control()).as_object();
    CHECK(answer.at("type") == c.answer_type);
    if (c.error) CHECK(answer.at("error") == c.error);
    CHECK(http_request(agent.http, "GET", "/healthz").status == 200);
  }
  // A ping's id comes back as it was written, byte for byte.
  ws.write(R"({"type":"ping","id":12345678901234567890123.50})");
  CHECK(next_control() == R"({"type":"pong","id":12345678901234567890123.50})");
  // The agent's log has no line that the client's newline started.
  CHECK(read_file(dir / "agent.log").find("\n[warn] forged") == std::string::npos);
}

TEST_CASE("boundary: TruConnect's REST API refuses bad bodies alone and stays up") {
  TempDir dir("wl-boundary");
  PtyScale scale(dir / "scale");
  const std::string config = truconnect_config(scale.path());
  AgentProcess agent(dir, {}, config);
  const auto rest = agent.address("truconnect_http");
  struct RestCase {
    const char* name;
    std::string target;
    std::string body;
    int status;
  };
  const std::vector<RestCase> cases = {
      {"not JSON", "/api/v1/plate", "plate=KCA", 400},
      {"an array body", "/api/v1/plate", "[1]", 400},
      {"1e400", "/api/v1/plate", R"({"plateNumber":1e400})", 400},
      {"NUL", "/api/v1/plate", R"({"plateNumber":"K\u0000"})", 400},
      {"the same member twice", "/api/v1/plate", R"({"plateNumber":"A","plateNumber":"B"})", 400},
      {"an unknown endpoint", "/api/v1/shutdown", "{}", 404},
      {"outside the API", "/v1/mutations", "{}", 404},
  };
  for (const auto& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    const auto r =
        http_request(rest, "POST", c.target, {{"Content-Type", "application/json"}}, c.body);
    CHECK(r.status == c.status);
    const auto body = body_of(r);
    CHECK(body.at("success") == false);
    // A real correlation id, the same in the body and the header.
    CHECK(body.at("correlation_id").as_string().size() >= 8);
    CHECK(r.headers.at("x-correlation-id") == body.at("correlation_id").as_string());
    CHECK(http_request(rest, "GET", "/api/v1/health").status == 200);
  }
  // A refused body's reason is said.
  const auto inexact =
      http_request(rest, "POST", "/api/v1/plate", {{"Content-Type", "application/json"}},
                   R"({"plateNumber":1e400})");
  CHECK(std::string(body_of(inexact).at("detail").as_string()).find("exponent") !=
        std::string::npos);
  CHECK(queued(agent.http) == 0);
}
