// The notification's rules (retry or not, backoff, URL) and its retry loop; the HTTP exchange
// itself is in notify_http.cpp.
#include "weighlink/recovery/notify.hpp"

#include <boost/url/parse.hpp>
#include <charconv>
#include <random>
#include <thread>

#include "notify_http.hpp"
#include "weighlink/base/backoff.hpp"
#include "weighlink/base/base64.hpp"
#include "weighlink/base/host_port.hpp"

namespace weighlink::recovery {
namespace {

using std::chrono::milliseconds;

std::uint32_t random_unit() {
  thread_local std::mt19937 generator{std::random_device{}()};
  return static_cast<std::uint32_t>(generator());
}

std::string describe(const NotifyAttempt& attempt) {
  if (attempt.error != NotifyError::none) {
    return std::string(to_string(attempt.error)) + ": " + attempt.detail;
  }
  return "HTTP " + std::to_string(attempt.status) +
         (attempt.detail.empty() ? std::string() : " \"" + attempt.detail + "\"");
}

}  // namespace

std::string_view to_string(NotifyError error) {
  switch (error) {
    case NotifyError::none:
      return "none";
    case NotifyError::resolve:
      return "resolve";
    case NotifyError::refused:
      return "refused";
    case NotifyError::connect:
      return "connect";
    case NotifyError::timeout:
      return "timeout";
    case NotifyError::tls:
      return "tls";
    case NotifyError::tls_verify:
      return "tls_verify";
    case NotifyError::io:
      return "io";
  }
  return "unknown";
}

NotifyDecision decide_notify(int status, NotifyError error) {
  if (error == NotifyError::tls_verify) return NotifyDecision::give_up;
  if (error != NotifyError::none) return NotifyDecision::retry;
  if (status >= 200 && status <= 299) return NotifyDecision::delivered;
  if (status >= 500 && status <= 599) return NotifyDecision::retry;
  return NotifyDecision::give_up;
}

std::string NotifyTarget::endpoint() const {
  return std::string(tls ? "https://" : "http://") + base::format_host_port(host, port);
}

base::Expected<NotifyTarget> parse_notify_url(std::string_view url) {
  const auto bad = [&](const std::string& why) {
    // Only the part before any user info, path or query: those often hold the webhook's secret.
    const auto scheme_end = url.find("://");
    const auto shown = scheme_end == std::string_view::npos
                           ? std::string("(not shown)")
                           : std::string(url.substr(0, scheme_end + 3)) + "...";
    return base::invalid_argument("notification URL " + shown + " " + why +
                                  "; give one like https://hooks.example.com/weighlink");
  };
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return bad("is not a URL (" + parsed.error().message() + ")");
  const auto& u = *parsed;
  NotifyTarget target;
  if (u.scheme_id() == boost::urls::scheme::https) {
    target.tls = true;
  } else if (u.scheme_id() != boost::urls::scheme::http) {
    return bad("is not http:// or https://");
  }
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6:
    case boost::urls::host_type::name:
      target.host = u.host_address();
      break;
    default:
      break;
  }
  if (target.host.empty()) return bad("has no host");
  if (u.has_port()) {
    const auto digits = u.port();
    unsigned long port = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || port == 0 ||
        port > 65535) {
      return bad("has a bad port '" + std::string(digits) + "'");
    }
    target.port = static_cast<std::uint16_t>(port);
  } else {
    target.port = target.tls ? 443 : 80;
  }
  target.target = u.encoded_path().empty() ? std::string("/") : std::string(u.encoded_path());
  if (u.has_query()) target.target += "?" + std::string(u.encoded_query());
  if (u.has_userinfo())
    target.authorization = "Basic " + base::base64(std::string_view(u.userinfo()));
  return target;
}

NotifyOutcome run_notify_attempts(std::string endpoint, const NotifyPolicy& policy,
                                  const std::function<NotifyAttempt(std::uint32_t)>& attempt) {
  NotifyOutcome outcome;
  outcome.endpoint = std::move(endpoint);
  const std::uint32_t attempts = std::max<std::uint32_t>(1, policy.attempts);
  const base::BackoffPolicy backoff{policy.backoff_base, policy.backoff_cap};
  for (std::uint32_t n = 0; n < attempts; ++n) {
    milliseconds delay{0};
    if (n > 0) {
      delay = base::backoff_delay(backoff, n - 1, policy.jitter ? policy.jitter() : random_unit());
      if (policy.sleep) {
        policy.sleep(delay);
      } else {
        std::this_thread::sleep_for(delay);
      }
    }
    NotifyAttempt result = attempt(n);
    result.delay_before = delay;
    outcome.attempts.push_back(std::move(result));
    const auto& last = outcome.attempts.back();
    switch (decide_notify(last.status, last.error)) {
      case NotifyDecision::delivered:
        outcome.delivered = true;
        return outcome;
      case NotifyDecision::retry:
        break;
      case NotifyDecision::give_up:
        outcome.error = "notification to " + outcome.endpoint + " refused (" + describe(last) +
                        "), not retried; " +
                        (last.error == NotifyError::tls_verify
                             ? "check the endpoint's certificate, or trust its CA"
                             : "check the notification URL and its token");
        return outcome;
    }
  }
  outcome.error = "notification to " + outcome.endpoint + " failed " + std::to_string(attempts) +
                  " times, the last: " + describe(outcome.attempts.back()) +
                  "; check that the endpoint is up and reachable from this host";
  return outcome;
}

NotifyOutcome post_notification(const std::string& url, const std::string& json_body,
                                const NotifyPolicy& policy) {
  auto target = parse_notify_url(url);
  if (!target) {
    NotifyOutcome outcome;
    outcome.error = target.error().message;
    return outcome;
  }
  auto transport = make_http_transport(*target, policy);
  if (!transport) {
    NotifyOutcome outcome;
    outcome.endpoint = target->endpoint();
    outcome.error = transport.error().message;
    return outcome;
  }
  return run_notify_attempts(target->endpoint(), policy,
                             [&](std::uint32_t) { return (*transport)->post(json_body); });
}

boost::json::object to_json(const NotifyOutcome& outcome) {
  boost::json::array attempts;
  for (const auto& a : outcome.attempts) {
    attempts.push_back(boost::json::object{{"status", a.status},
                                           {"error", to_string(a.error)},
                                           {"detail", a.detail},
                                           {"delay_ms", a.delay_before.count()},
                                           {"elapsed_ms", a.elapsed.count()}});
  }
  return {{"delivered", outcome.delivered},
          {"endpoint", outcome.endpoint},
          {"error", outcome.error},
          {"attempts", std::move(attempts)}};
}

}  // namespace weighlink::recovery
