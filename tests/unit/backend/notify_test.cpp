#include "weighlink/recovery/notify.hpp"

#include <doctest/doctest.h>

#include <deque>

using namespace weighlink::recovery;
using std::chrono::milliseconds;

namespace {

NotifyAttempt answer(int status) { return {status, NotifyError::none, {}, {}, {}}; }
NotifyAttempt failure(NotifyError error) { return {0, error, "x", {}, {}}; }

// A policy whose waits are recorded, not slept, and whose jitter always takes the full ceiling.
struct Recorded {
  std::vector<milliseconds> sleeps;
  NotifyPolicy policy() {
    NotifyPolicy p;
    p.sleep = [this](milliseconds d) { sleeps.push_back(d); };
    p.jitter = [] { return 0xFFFFFFFFu; };
    return p;
  }
};

NotifyOutcome scripted(const NotifyPolicy& policy, std::deque<NotifyAttempt> script,
                       int* calls = nullptr) {
  return run_notify_attempts("https://hooks.example.com:443", policy, [&](std::uint32_t) {
    if (calls) ++*calls;
    auto next = script.front();
    if (script.size() > 1) script.pop_front();
    return next;
  });
}

}  // namespace

TEST_CASE("notify: 2xx is delivered, 4xx given up, 5xx retried") {
  CHECK(decide_notify(200, NotifyError::none) == NotifyDecision::delivered);
  CHECK(decide_notify(204, NotifyError::none) == NotifyDecision::delivered);
  CHECK(decide_notify(299, NotifyError::none) == NotifyDecision::delivered);
  for (int status : {400, 401, 403, 404, 408, 413, 429, 499}) {
    CAPTURE(status);
    CHECK(decide_notify(status, NotifyError::none) == NotifyDecision::give_up);
  }
  for (int status : {500, 502, 503, 504, 599}) {
    CAPTURE(status);
    CHECK(decide_notify(status, NotifyError::none) == NotifyDecision::retry);
  }
  // Redirects are not followed: the URL is wrong.
  CHECK(decide_notify(301, NotifyError::none) == NotifyDecision::give_up);
  CHECK(decide_notify(100, NotifyError::none) == NotifyDecision::give_up);
}

TEST_CASE("notify: no answer is retried, an untrusted certificate is not") {
  for (auto error : {NotifyError::resolve, NotifyError::refused, NotifyError::connect,
                     NotifyError::timeout, NotifyError::tls, NotifyError::io}) {
    CAPTURE(to_string(error));
    CHECK(decide_notify(0, error) == NotifyDecision::retry);
  }
  CHECK(decide_notify(0, NotifyError::tls_verify) == NotifyDecision::give_up);
}

TEST_CASE("notify: URLs give scheme, host, port, target and Basic authentication") {
  auto t = parse_notify_url("https://hooks.example.com/services/T0/B1?x=1&y=%20");
  REQUIRE(t.has_value());
  CHECK(t->tls);
  CHECK(t->host == "hooks.example.com");
  CHECK(t->port == 443);
  CHECK(t->target == "/services/T0/B1?x=1&y=%20");
  CHECK(t->authorization.empty());
  CHECK(t->endpoint() == "https://hooks.example.com:443");

  t = parse_notify_url("http://127.0.0.1:8088");
  REQUIRE(t.has_value());
  CHECK_FALSE(t->tls);
  CHECK(t->port == 8088);
  CHECK(t->target == "/");

  t = parse_notify_url("http://[::1]:9000/hook");
  REQUIRE(t.has_value());
  CHECK(t->host == "::1");
  CHECK(t->endpoint() == "http://[::1]:9000");

  t = parse_notify_url("HTTPS://user:p%40ss@example.org/h");
  REQUIRE(t.has_value());
  CHECK(t->tls);
  CHECK(t->authorization == "Basic dXNlcjpwQHNz");  // base64("user:p@ss")
}

TEST_CASE("notify: a bad URL is an error that says what is wrong") {
  for (const char* bad :
       {"", "hooks.example.com/x", "ftp://example.com/", "http:///path", "http://example.com:0/",
        "http://example.com:99999/", "http://exa mple.com/"}) {
    const std::string url = bad;
    CAPTURE(url);
    auto t = parse_notify_url(bad);
    REQUIRE_FALSE(t.has_value());
    CHECK(t.error().code == std::errc::invalid_argument);
    CHECK(t.error().message.find("notification URL") != std::string::npos);
  }
}

TEST_CASE("notify: a bad URL makes no attempt") {
  const auto outcome = post_notification("ftp://example.com/", "{}");
  CHECK_FALSE(outcome.delivered);
  CHECK(outcome.attempts.empty());
  CHECK(outcome.error.find("not http:// or https://") != std::string::npos);
}

TEST_CASE("notify: 503, 502, 200 is delivered on the third attempt after doubling waits") {
  Recorded r;
  const auto outcome = scripted(r.policy(), {answer(503), answer(502), answer(200)});
  CHECK(outcome.delivered);
  CHECK(outcome.error.empty());
  REQUIRE(outcome.attempts.size() == 3);
  CHECK(outcome.attempts[2].status == 200);
  // The full-jitter ceiling: base 1 s, doubling.
  CHECK(r.sleeps == std::vector<milliseconds>{milliseconds(999), milliseconds(1999)});
  CHECK(outcome.attempts[0].delay_before == milliseconds(0));
  CHECK(outcome.attempts[1].delay_before == milliseconds(999));
}

TEST_CASE("notify: the wait is capped, and full jitter can draw anything under the ceiling") {
  Recorded r;
  auto policy = r.policy();
  policy.attempts = 8;
  policy.backoff_cap = milliseconds(5000);
  (void)scripted(policy, {answer(500)});
  REQUIRE(r.sleeps.size() == 7);
  CHECK(r.sleeps.back() < milliseconds(5000));
  CHECK(r.sleeps.back() >= milliseconds(4990));

  Recorded half;
  policy = half.policy();
  policy.jitter = [] { return 0x80000000u; };
  (void)scripted(policy, {answer(500), answer(200)});
  CHECK(half.sleeps == std::vector<milliseconds>{milliseconds(500)});
}

TEST_CASE("notify: 400 is tried once and reported with its body") {
  Recorded r;
  int calls = 0;
  auto bad = answer(400);
  bad.detail = "invalid token";
  const auto outcome = scripted(r.policy(), {bad}, &calls);
  CHECK_FALSE(outcome.delivered);
  CHECK(calls == 1);
  CHECK(r.sleeps.empty());
  CHECK(outcome.error.find("HTTP 400 \"invalid token\"") != std::string::npos);
  CHECK(outcome.error.find("not retried") != std::string::npos);
}

TEST_CASE("notify: always 500 makes exactly the policy's attempts, then fails") {
  Recorded r;
  int calls = 0;
  auto policy = r.policy();
  policy.attempts = 3;
  const auto outcome = scripted(policy, {answer(500)}, &calls);
  CHECK_FALSE(outcome.delivered);
  CHECK(calls == 3);
  CHECK(outcome.attempts.size() == 3);
  CHECK(r.sleeps.size() == 2);
  CHECK(outcome.error.find("failed 3 times") != std::string::npos);
}

TEST_CASE("notify: refused connections are retried, then reported") {
  Recorded r;
  const auto outcome = scripted(r.policy(), {failure(NotifyError::refused)});
  CHECK_FALSE(outcome.delivered);
  CHECK(outcome.attempts.size() == 4);
  CHECK(outcome.error.find("refused: x") != std::string::npos);
}

TEST_CASE("notify: the outcome as JSON has every attempt") {
  Recorded r;
  const auto outcome = scripted(r.policy(), {failure(NotifyError::timeout), answer(201)});
  const auto json = to_json(outcome);
  CHECK(json.at("delivered").as_bool());
  CHECK(json.at("endpoint").as_string() == "https://hooks.example.com:443");
  const auto& attempts = json.at("attempts").as_array();
  REQUIRE(attempts.size() == 2);
  CHECK(attempts[0].at("error").as_string() == "timeout");
  CHECK(attempts[1].at("status").as_int64() == 201);
  CHECK(attempts[1].at("delay_ms").as_int64() == 999);
}
