// The verify-backup notification POST against a scripted loopback server: retried with growing
// waits on 5xx, refused connections and timeouts; a 4xx tried once; https verified against a
// private CA. The waits between attempts go to the policy's sleep (recorded, not slept); every
// loop is bounded.
#include "weighlink/recovery/notify.hpp"

#include <doctest/doctest.h>

#include "weighlink/base/backoff.hpp"
#include "weighlink/testing/process.hpp"
#include "weighlink/testing/scripted_http.hpp"
#include "weighlink/testing/tls_ca.hpp"

using namespace weighlink::recovery;
using std::chrono::milliseconds;
using weighlink::testing::ScriptedHttpServer;
using weighlink::testing::ScriptedResponse;

namespace {

constexpr const char* kBody = R"({"result":"pass","code":"OK","dump":"weighlink_1.dump"})";

// Always the full jitter ceiling: 50 ms, 100 ms, 200 ms, ..., asked of a sleep that returns at
// once (each attempt records the wait before it).
NotifyPolicy fast_policy(std::uint32_t attempts = 4) {
  NotifyPolicy policy;
  policy.sleep = [](milliseconds) {};
  policy.attempts = attempts;
  policy.backoff_base = milliseconds(50);
  policy.backoff_cap = milliseconds(1000);
  policy.connect_timeout = milliseconds(2000);
  policy.attempt_timeout = milliseconds(3000);
  policy.jitter = [] { return 0xFFFFFFFFu; };
  return policy;
}

std::string url_of(const ScriptedHttpServer& server, const std::string& scheme = "http") {
  return scheme + "://" + server.address() + "/hooks/backup?token=abc";
}

}  // namespace

TEST_CASE("notify: 503, 502, 200 is delivered on the third attempt after growing waits") {
  ScriptedHttpServer server({{503, "busy", {}}, {502, "bad gateway", {}}, {200, "ok", {}}});
  // Each wait, with how many requests the server had seen when it began.
  std::vector<std::pair<milliseconds, std::size_t>> waits;
  auto policy = fast_policy();
  policy.sleep = [&](milliseconds d) { waits.emplace_back(d, server.requests().size()); };
  const auto outcome = post_notification(url_of(server), kBody, policy);
  CHECK(outcome.delivered);
  CHECK(outcome.error.empty());
  REQUIRE(outcome.attempts.size() == 3);
  CHECK(outcome.attempts[0].status == 503);
  CHECK(outcome.attempts[0].detail == "busy");
  CHECK(outcome.attempts[1].status == 502);
  CHECK(outcome.attempts[2].status == 200);
  CHECK(outcome.attempts[1].delay_before == milliseconds(49));
  CHECK(outcome.attempts[2].delay_before == milliseconds(99));

  const auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  // The policy's sleep was asked (nothing measured) for the backoff's delays, growing, each
  // after the request before it.
  const weighlink::base::BackoffPolicy backoff{policy.backoff_base, policy.backoff_cap};
  const auto delay = [&](std::uint32_t retry) {
    return weighlink::base::backoff_delay(backoff, retry, policy.jitter());
  };
  CHECK(delay(0) < delay(1));
  CHECK(waits == std::vector<std::pair<milliseconds, std::size_t>>{{delay(0), 1}, {delay(1), 2}});
  for (const auto& r : requests) {
    CHECK(r.method == "POST");
    CHECK(r.target == "/hooks/backup?token=abc");
    CHECK(r.body == kBody);
    CHECK(r.headers.at("content-type") == "application/json");
    CHECK(r.headers.at("host") == server.address());
    CHECK(r.headers.count("authorization") == 0);
  }
  // The report's endpoint leaves the path and its token out.
  CHECK(outcome.endpoint == "http://" + server.address());
}

TEST_CASE("notify: 400 is one request, failed with its status and body") {
  ScriptedHttpServer server({{400, "unknown token", {}}, {200, "", {}}});
  const auto outcome = post_notification(url_of(server), kBody, fast_policy());
  CHECK_FALSE(outcome.delivered);
  REQUIRE(outcome.attempts.size() == 1);
  CHECK(outcome.attempts[0].status == 400);
  CHECK(server.requests().size() == 1);
  CHECK(outcome.error.find("HTTP 400 \"unknown token\"") != std::string::npos);
  CHECK(outcome.error.find("check the notification URL") != std::string::npos);
}

TEST_CASE("notify: always 500 is exactly the policy's attempts, then failed") {
  ScriptedHttpServer server({{500, "", {}}});
  const auto outcome = post_notification(url_of(server), kBody, fast_policy(3));
  CHECK_FALSE(outcome.delivered);
  CHECK(outcome.attempts.size() == 3);
  CHECK(server.requests().size() == 3);
  CHECK(outcome.error.find("failed 3 times") != std::string::npos);
}

TEST_CASE("notify: a server not listening is retried, then failed") {
  const auto address = weighlink::testing::free_loopback_address();
  const auto outcome = post_notification("http://" + address + "/hook", kBody, fast_policy(3));
  CHECK_FALSE(outcome.delivered);
  REQUIRE(outcome.attempts.size() == 3);
  for (const auto& a : outcome.attempts) {
    CHECK(a.error == NotifyError::refused);
    CHECK(a.status == 0);
  }
  CHECK(outcome.error.find("refused") != std::string::npos);
}

TEST_CASE("notify: a server slower than the attempt timeout counts as a timeout") {
  // Answers after a minute (the server's destructor drops what is still waiting).
  ScriptedHttpServer server({{200, "late", std::chrono::minutes(1)}});
  auto policy = fast_policy(2);
  policy.attempt_timeout = milliseconds(300);
  const auto outcome = post_notification(url_of(server), kBody, policy);
  // Both requests were read, and the notifier gave up on each before any answer was sent.
  CHECK(server.answered() == 0);
  CHECK(server.requests().size() == 2);
  CHECK_FALSE(outcome.delivered);
  REQUIRE(outcome.attempts.size() == 2);
  for (const auto& a : outcome.attempts) {
    CHECK(a.error == NotifyError::timeout);
    CHECK(a.status == 0);
  }
  CHECK(outcome.error.find("failed 2 times") != std::string::npos);
}

TEST_CASE("notify: URL user info is sent as Basic authentication") {
  ScriptedHttpServer server({{204, "", {}}});
  const auto outcome =
      post_notification("http://weighlink:s%3Acret@" + server.address() + "/h", kBody, {});
  CHECK(outcome.delivered);
  REQUIRE(server.requests().size() == 1);
  // base64("weighlink:s:cret")
  CHECK(server.requests()[0].headers.at("authorization") == "Basic d2VpZ2hsaW5rOnM6Y3JldA==");
  CHECK(outcome.endpoint.find("cret") == std::string::npos);
}

TEST_CASE("notify: https is verified against the trust store and the host") {
  weighlink::testing::TempDir tmp("wl-notify");
  const weighlink::testing::TlsCa ca(tmp.path(), "notify");
  const auto issued = ca.server("hooks");
  ScriptedHttpServer server({{200, "ok", {}}}, issued.cert, issued.key);

  SUBCASE("a certificate from a CA the policy trusts is delivered") {
    auto policy = fast_policy();
    policy.ca_file = ca.cert();
    const auto outcome = post_notification(url_of(server, "https"), kBody, policy);
    CHECK_MESSAGE(outcome.delivered, outcome.error);
    REQUIRE(server.requests().size() == 1);
    CHECK(server.requests()[0].body == kBody);
    // By name (localhost is in the certificate too): SNI and host name checked.
    const auto port = weighlink::testing::split_host_port(server.address()).second;
    const auto by_name =
        post_notification("https://localhost:" + std::to_string(port) + "/h", kBody, policy);
    CHECK_MESSAGE(by_name.delivered, by_name.error);
  }
  SUBCASE("a certificate the system store does not trust is not retried") {
    const auto outcome = post_notification(url_of(server, "https"), kBody, fast_policy());
    CHECK_FALSE(outcome.delivered);
    REQUIRE(outcome.attempts.size() == 1);
    CHECK(outcome.attempts[0].error == NotifyError::tls_verify);
    MESSAGE(outcome.error);
    CHECK(outcome.error.find("not accepted") != std::string::npos);
    CHECK(server.requests().empty());
  }
  SUBCASE("a missing CA file is an error before any attempt") {
    auto policy = fast_policy();
    policy.ca_file = tmp / "no-such-ca.pem";
    const auto outcome = post_notification(url_of(server, "https"), kBody, policy);
    CHECK_FALSE(outcome.delivered);
    CHECK(outcome.attempts.empty());
    CHECK(outcome.error.find("no-such-ca.pem") != std::string::npos);
  }
}
