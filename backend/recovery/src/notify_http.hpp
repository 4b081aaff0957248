#pragma once
// The backend's one HTTP client, Boost.Beast (http) and Beast over OpenSSL (https) in
// notify_http.cpp, private to weighlink::recovery: the notification's POST and the drill's GET.

#include <chrono>
#include <memory>
#include <string>

#include "weighlink/base/error.hpp"
#include "weighlink/recovery/notify.hpp"

namespace weighlink::recovery {

class NotifyTransport {
 public:
  virtual ~NotifyTransport() = default;
  // One attempt: connect, (TLS), POST, read the answer, close. Never throws.
  [[nodiscard]] virtual NotifyAttempt post(const std::string& json_body) = 0;
};

// An error (TLS's own code, "cannot set up TLS for the notification (...)") when https cannot be
// set up: an unreadable or invalid ca_file.
[[nodiscard]] base::Expected<std::unique_ptr<NotifyTransport>> make_http_transport(
    const NotifyTarget& target, const NotifyPolicy& policy);

// One GET of `target.target` on plain http (the drill's /readyz probe), name resolution,
// connect and the whole exchange within `timeout`. status 0 with `error` and `detail` when no
// answer came; else `detail` holds the start of the body. Never throws.
[[nodiscard]] NotifyAttempt http_get_once(const NotifyTarget& target,
                                          std::chrono::milliseconds timeout);

}  // namespace weighlink::recovery
