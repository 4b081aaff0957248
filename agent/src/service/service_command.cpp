#include "weighlink/agent/service_command.hpp"

#ifdef _WIN32
#include <system_error>

#include "weighlink/agent/windows_service.hpp"
#endif

namespace weighlink::agent {

#ifdef _WIN32

int run_service_command(const std::string& action, const std::filesystem::path& exe,
                        const std::string& config_file, const ServiceAgent& agent,
                        std::ostream& out, std::ostream& err) {
  const auto state_dir = windows_service::program_data_dir();
  const auto config =
      config_file.empty() ? state_dir / "agent.yaml" : std::filesystem::absolute(config_file);
  if (action == "install") {
    const std::string command_line = "\"" + std::filesystem::absolute(exe).string() +
                                     "\" service run --config \"" + config.string() + "\"";
    if (auto installed = windows_service::install(command_line); !installed) {
      err << "weighlink-agent: service install: " << installed.error().message << "\n";
      return 1;
    }
    out << "service " << windows_service::kName
        << " installed (automatic start, LocalService, restarts on "
        << "failure); start it with: sc start " << windows_service::kName << "\n";
    return 0;
  }
  if (action == "recovery") {
    if (auto set = windows_service::set_recovery(); !set) {
      err << "weighlink-agent: service recovery: " << set.error().message << "\n";
      return 1;
    }
    out << "service " << windows_service::kName
        << ": restarts after 5 s, 10 s and 30 s; reset after a day\n";
    return 0;
  }
  if (action == "uninstall") {
    if (auto removed = windows_service::uninstall(); !removed) {
      err << "weighlink-agent: service uninstall: " << removed.error().message << "\n";
      return 1;
    }
    out << "service " << windows_service::kName << " stopped and removed; " << state_dir.string()
        << " (configuration, outbox, logs) is kept\n";
    return 0;
  }
  // run
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (!std::filesystem::exists(config)) {
    std::filesystem::copy_file(exe.parent_path() / "agent.example.yaml", config, ec);
  }
  const auto code =
      windows_service::run([&](ServiceHost& host) { return agent(host, config, state_dir); });
  if (!code) {
    err << "weighlink-agent: service run: " << code.error().message << "\n";
    return 1;
  }
  return *code;
}

#else

int run_service_command(const std::string& action, const std::filesystem::path&, const std::string&,
                        const ServiceAgent&, std::ostream&, std::ostream& err) {
  err << "weighlink-agent: service " << action
      << ": Windows services only; on Linux the weighlink package's systemd unit runs the agent "
         "(systemctl status weighlink-agent, docs/install-linux.md)\n";
  return 2;
}

#endif

}  // namespace weighlink::agent
