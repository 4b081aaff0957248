// The Windows service code of weighlink-agent (agent/src/windows_service.cpp and
// service_command.cpp, unchanged) in a program of its own, so that it runs under Wine's service
// control manager here (tests/windows/service-test.sh). What it runs as "the agent" is a stand-in
// that writes what it sees to %ProgramData%\weighlink\harness.log, says it is ready, and waits for
// the stop request; the real agent cannot be linked here (its libraries have no Windows build on
// this machine). The commands are the agent's: `service install|recovery|uninstall|run`.
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include "weighlink/agent/service_command.hpp"

namespace {

void log_line(const std::filesystem::path& file, const std::string& line) {
  std::ofstream(file, std::ios::app) << line << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || std::string(argv[1]) != "service") {
    std::cerr << "usage: service_harness service install|recovery|uninstall|run [--config FILE]\n";
    return 2;
  }
  std::string config;
  if (argc >= 5 && std::string(argv[3]) == "--config") config = argv[4];
  auto agent = [](weighlink::agent::ServiceHost& host, const std::filesystem::path& config_file,
                  const std::filesystem::path& state_dir) {
    const auto log = state_dir / "harness.log";
    log_line(log, "started config=" + config_file.string() +
                      " config_exists=" + (std::filesystem::exists(config_file) ? "yes" : "no"));
    std::mutex mu;
    std::condition_variable cv;
    bool stop = false;
    host.set_stop([&] {
      std::lock_guard lock(mu);
      stop = true;
      cv.notify_all();
    });
    host.ready("serving (harness)");
    log_line(log, "ready");
    {
      std::unique_lock lock(mu);
      cv.wait_for(lock, std::chrono::minutes(5), [&] { return stop; });
    }
    host.stopping();
    host.set_stop({});
    log_line(log, stop ? "stopped on request" : "stopped after 5 minutes without a request");
    return 0;
  };
  return weighlink::agent::run_service_command(argv[2], argv[0], config, agent, std::cout,
                                               std::cerr);
}
