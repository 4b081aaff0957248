#pragma once
// The verify-backup notification: one JSON POST to a webhook over http:// or https://, retried
// with capped exponential backoff with full jitter on 5xx, refused connections and timeouts, not
// on 4xx (a 4xx means a wrong URL or token: retrying cannot fix it). SPEC §6: a failure is
// reported (NOTIFY_FAILED) with every attempt, and never changes the verdict.
//
// https: Boost.Beast over OpenSSL, the certificate verified against the system's trust store (and
// NotifyPolicy::ca_file) and the URL's host, SNI sent for host names.
//
// Threading: post_notification blocks its caller (an io_context of its own per attempt) and may
// run on several threads at once; the policy's callbacks are called on the caller's thread.

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/base/error.hpp"

namespace weighlink::recovery {

// Why an attempt got no HTTP answer.
enum class NotifyError {
  none,        // an answer arrived: see the status
  resolve,     // the host name did not resolve
  refused,     // connection refused
  connect,     // other connect failures (network or host unreachable)
  timeout,     // no connection, or no complete answer, within the policy's timeouts
  tls,         // the TLS handshake failed (other than the certificate)
  tls_verify,  // the server's certificate is not trusted, or not for this host
  io,          // the connection broke (reset, closed before the answer was complete)
};

[[nodiscard]] std::string_view to_string(NotifyError error);

enum class NotifyDecision { delivered, retry, give_up };

// What one attempt's result means. Pure.
//   2xx: delivered. 4xx (and 1xx, 3xx: redirects are not followed): give up, a configuration
//   error. 5xx: retry. No answer: retry, except a certificate that fails verification (give up:
//   a configuration error too).
[[nodiscard]] NotifyDecision decide_notify(int status, NotifyError error);

struct NotifyAttempt {
  int status = 0;  // the HTTP status, 0 when no answer arrived
  NotifyError error = NotifyError::none;
  std::string detail;                         // the error's text, or the start of the response body
  std::chrono::milliseconds delay_before{0};  // slept before this attempt
  std::chrono::milliseconds elapsed{0};       // the attempt itself
};

struct NotifyPolicy {
  std::uint32_t attempts = 4;  // in all, the first included (0 counts as 1)
  // Delay before retry n (n = 0, 1, ...): random(0, min(backoff_cap, backoff_base * 2^n)).
  std::chrono::milliseconds backoff_base{1000};
  std::chrono::milliseconds backoff_cap{30'000};
  std::chrono::milliseconds connect_timeout{5000};    // name resolution and TCP connect
  std::chrono::milliseconds attempt_timeout{10'000};  // one attempt, connect to the last byte
  // A PEM file of certificates trusted besides the system's store (a private CA); empty: none.
  std::filesystem::path ca_file;
  // Waits between attempts; default std::this_thread::sleep_for. Tests record instead.
  std::function<void(std::chrono::milliseconds)> sleep;
  // A uniform draw in [0, 2^32) for the jitter; default a random generator. Tests pass a
  // constant (0xFFFFFFFF: always the full ceiling).
  std::function<std::uint32_t()> jitter;
};

struct NotifyOutcome {
  bool delivered = false;
  // scheme://host:port only: a webhook's path and query often hold its secret.
  std::string endpoint;
  // When not delivered: what failed and what to do next.
  std::string error;
  std::vector<NotifyAttempt> attempts;
};

// POSTs `json_body` (Content-Type: application/json) to `url` under `policy`. A URL that cannot be
// used (not http or https, no host, a bad port) is an error with no attempt. User info in the URL
// (https://user:secret@host/...) is sent as HTTP Basic authentication.
[[nodiscard]] NotifyOutcome post_notification(const std::string& url, const std::string& json_body,
                                              const NotifyPolicy& policy = {});

// For the verify report: {"delivered", "endpoint", "error", "attempts": [{"status", "error",
// "detail", "delay_ms", "elapsed_ms"}]}.
[[nodiscard]] boost::json::object to_json(const NotifyOutcome& outcome);

// The parts of a notification URL. Pure.
struct NotifyTarget {
  bool tls = false;
  std::string host;  // a name, or an IP address without brackets
  std::uint16_t port = 0;
  std::string target;                          // origin-form: path and query
  std::string authorization;                   // "Basic ..." from the URL's user info, or empty
  [[nodiscard]] std::string endpoint() const;  // scheme://host:port
};

// invalid_argument, "notification URL https://... has no host; give one like ...", when `url`
// cannot be used (the message shows no user info, path or query: they often hold a secret).
[[nodiscard]] base::Expected<NotifyTarget> parse_notify_url(std::string_view url);

// The retry loop alone: calls `attempt(n)` (n = 0, 1, ...) until decide_notify says delivered or
// give up, or the policy's attempts run out, sleeping the backoff (policy.sleep) between them.
// post_notification is this with an HTTP POST as `attempt`; tests pass scripted results.
[[nodiscard]] NotifyOutcome run_notify_attempts(
    std::string endpoint, const NotifyPolicy& policy,
    const std::function<NotifyAttempt(std::uint32_t)>& attempt);

}  // namespace weighlink::recovery
