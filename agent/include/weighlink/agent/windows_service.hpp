#pragma once
// weighlink-agent as a Windows service (docs/install-windows.md). Compiled on Windows only
// (windows_service.cpp); the declarations are the seam main.cpp calls through, and on other
// systems those commands say they are Windows-only.
//
//   weighlink-agent service install [--config FILE]   register it: automatic (delayed) start,
//                                                      LocalService, recovery: restart after
//                                                      5 s, 10 s, 30 s; reset after a day
//   weighlink-agent service recovery                  set the recovery actions only (the MSI
//                                                      runs this; its ServiceInstall cannot)
//   weighlink-agent service uninstall                 stop it and remove it
//   weighlink-agent service run [--config FILE]       what the service control manager starts

#include <filesystem>
#include <functional>
#include <string>

#include "weighlink/agent/service_host.hpp"
#include "weighlink/base/error.hpp"

namespace weighlink::agent::windows_service {

inline constexpr const char* kName = "weighlink-agent";
inline constexpr const char* kDisplayName = "weighlink station agent";
inline constexpr const char* kDescription =
    "Reads the weighbridge scale indicator, serves the operator page and the local API, keeps "
    "captured weighings in a durable outbox and replays them to the weighlink backend.";

// %ProgramData%\weighlink (C:\ProgramData\weighlink): agent.yaml, data\ (the outbox and the
// station key) and logs\.
[[nodiscard]] std::filesystem::path program_data_dir();

// Runs `agent` under the service control manager: START_PENDING until the agent is ready,
// RUNNING, STOP_PENDING on a STOP or SHUTDOWN control (which asks the agent to stop) and STOPPED
// with its exit code. Returns that code, or the Error (the Windows error, system_category) when
// the process was not started by the service control manager.
[[nodiscard]] base::Expected<int> run(const std::function<int(ServiceHost&)>& agent);

// `command_line` is what the service control manager starts (the quoted executable and its
// arguments). The Error (the Windows error code and message) on failure.
[[nodiscard]] base::Expected<void> install(const std::string& command_line);
[[nodiscard]] base::Expected<void> set_recovery();
[[nodiscard]] base::Expected<void> uninstall();

}  // namespace weighlink::agent::windows_service
