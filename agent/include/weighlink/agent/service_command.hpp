#pragma once
// `weighlink-agent service install|recovery|uninstall|run`: the Windows service commands
// (windows_service.hpp). On other systems each exits 2 and says that the systemd unit of the
// weighlink package runs the agent there (docs/install-linux.md).

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

#include "weighlink/agent/service_host.hpp"

namespace weighlink::agent {

// What `service run` starts: the agent on `config_file`, with `state_dir` for relative paths
// (data_dir) and logs. Returns the exit code.
using ServiceAgent = std::function<int(ServiceHost& host, const std::filesystem::path& config_file,
                                       const std::filesystem::path& state_dir)>;

// `exe` is this executable's path (the service's command line names it); `config_file` the
// --config given, or empty for %ProgramData%\weighlink\agent.yaml (created from
// agent.example.yaml beside the executable when it does not exist yet).
int run_service_command(const std::string& action, const std::filesystem::path& exe,
                        const std::string& config_file, const ServiceAgent& agent,
                        std::ostream& out, std::ostream& err);

}  // namespace weighlink::agent
