#pragma once
// `weighlink-agent tls init|status|renew|export-ca` (docs/local-tls.md): the station CA and the
// server certificate of the TLS listeners, for the operator and the installers. They work on
// the files in tls.dir (<data_dir>/tls) whether the agent runs or not; a running agent loads a
// renewed certificate at its next check (tls.check_interval_s).
//
// Exit codes: 0 done; 1 could not (no CA, unreadable files, an expired CA); 2 bad usage, or a
// private key file open to other users.

#include <ostream>
#include <string>

#include "weighlink/agent/config.hpp"

namespace weighlink::agent {

struct TlsCommand {
  std::string action;    // init | status | renew | export-ca
  bool new_ca = false;   // init: replace the CA even when it is valid
  bool json = false;     // status: one JSON object
  std::string out_file;  // export-ca: write here (default standard output)
};

[[nodiscard]] int run_tls_command(const AgentConfig& config, const TlsCommand& command,
                                  std::ostream& out, std::ostream& err);

}  // namespace weighlink::agent
