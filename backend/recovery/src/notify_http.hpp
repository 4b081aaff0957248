#pragma once
// One notification POST over Boost.Beast and OpenSSL (notify_http.cpp), private to
// weighlink::backend.

#include <memory>
#include <string>

#include "weighlink/recovery/notify.hpp"

namespace weighlink::backend {

class NotifyTransport {
 public:
  virtual ~NotifyTransport() = default;
  // One attempt: connect, (TLS), POST, read the answer, close. Never throws.
  [[nodiscard]] virtual NotifyAttempt post(const std::string& json_body) = 0;
};

// nullptr, with `error` set, when https cannot be set up (an unreadable ca_file).
[[nodiscard]] std::unique_ptr<NotifyTransport> make_http_transport(const NotifyTarget& target,
                                                                   const NotifyPolicy& policy,
                                                                   std::string& error);

}  // namespace weighlink::backend
