#pragma once
// The daemon's view of its local TLS listeners (docs/local-tls.md): the certificate they serve,
// their addresses, the latest check, as /v1/status shows them. Internal to the agent.
// Threading: io thread.

#include <boost/json/object.hpp>
#include <string>

#include "weighlink/agent/local_tls.hpp"

namespace weighlink::agent {

struct LocalTls {
  TlsFiles files;
  boost::json::object addresses;  // "https", "truconnect_wss", "truconnect_https"
  LocalTlsState state;
  std::string loaded_sha256;  // the server certificate the listeners serve
  std::string last_error;     // of the latest check; empty when it went well

  // /v1/status "tls".
  [[nodiscard]] boost::json::object status_json() const;
  // Logs what ensure_local_tls() did and what needs the operator.
  void log(const LocalTlsState& s) const;
};

}  // namespace weighlink::agent
