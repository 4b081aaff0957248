// weighlink-agent under the Windows service control manager (windows_service.hpp). Windows only:
// built with MSVC from the vcpkg manifest, and checked with mingw-w64 by the windows cross-check
// test here (tests/windows/).
#ifdef _WIN32

#include "weighlink/agent/windows_service.hpp"

#include <windows.h>
// after windows.h
#include <knownfolders.h>
#include <shlobj.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <system_error>
#include <utility>
#include <vector>

namespace weighlink::agent::windows_service {
namespace {

std::wstring widen(const std::string& text) {
  if (text.empty()) return {};
  const int n =
      MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr, 0);
  std::wstring out(static_cast<std::size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), out.data(), n);
  return out;
}

// The system's message for `code`, e.g. "Access is denied."
std::string message_of(DWORD code) {
  char* buffer = nullptr;
  const DWORD n = FormatMessageA(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, code, 0, reinterpret_cast<LPSTR>(&buffer), 0, nullptr);
  std::string text = n ? std::string(buffer, n) : "error " + std::to_string(code);
  if (buffer) LocalFree(buffer);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text + " (" + std::to_string(code) + ")";
}

// The last Windows error as an Error: its code (system_category holds Win32 codes) and message.
base::Error fail(const std::string& what) {
  const DWORD code = GetLastError();
  return base::Error{std::error_code(static_cast<int>(code), std::system_category()),
                     what + ": " + message_of(code)};
}

struct Handle {
  SC_HANDLE h = nullptr;
  explicit Handle(SC_HANDLE handle) : h(handle) {}
  ~Handle() {
    if (h) CloseServiceHandle(h);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  explicit operator bool() const { return h != nullptr; }
};

// The service's state, reported to the service control manager.
class ScmHost final : public ServiceHost {
 public:
  explicit ScmHost(SERVICE_STATUS_HANDLE handle) : handle_(handle) {}

  void report(DWORD state, DWORD exit_code = NO_ERROR, DWORD wait_hint_ms = 0) {
    std::lock_guard lock(mu_);
    SERVICE_STATUS status{};
    status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    status.dwCurrentState = state;
    status.dwControlsAccepted =
        state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
    status.dwWin32ExitCode = exit_code == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
    status.dwServiceSpecificExitCode = exit_code;
    status.dwWaitHint = wait_hint_ms;
    status.dwCheckPoint =
        (state == SERVICE_RUNNING || state == SERVICE_STOPPED) ? 0 : ++checkpoint_;
    SetServiceStatus(handle_, &status);
  }

  void ready(const std::string&) override { report(SERVICE_RUNNING); }
  void stopping() override { report(SERVICE_STOP_PENDING, NO_ERROR, 20'000); }
  [[nodiscard]] std::optional<std::chrono::milliseconds> watchdog_period() const override {
    return std::nullopt;  // recovery actions restart a crashed process; there is no watchdog
  }
  void watchdog() override {}
  void set_stop(std::function<void()> stop) override {
    bool early = false;
    {
      std::lock_guard lock(stop_mu_);
      stop_ = std::move(stop);
      early = stop_ && std::exchange(stop_requested_early_, false);
    }
    // A STOP that came while the agent was starting is carried out as soon as it can be.
    if (early) request_stop();
  }
  // From the control handler's thread. The agent reports STOP_PENDING itself (stopping()).
  void request_stop() {
    std::function<void()> stop;
    {
      std::lock_guard lock(stop_mu_);
      if (!stop_) {
        stop_requested_early_ = true;  // before the agent was ready: it stops once it is
        return;
      }
      stop = stop_;
    }
    stop();
  }

 private:
  SERVICE_STATUS_HANDLE handle_;
  std::mutex mu_;
  DWORD checkpoint_ = 0;
  std::mutex stop_mu_;  // stop_ and stop_requested_early_ together
  std::function<void()> stop_;
  bool stop_requested_early_ = false;
};

// The service's entry point, and what it runs: one service per process, so file-level state.
const std::function<int(ServiceHost&)>* g_agent = nullptr;
std::atomic<ScmHost*> g_host{nullptr};  // the control handler runs on another thread
int g_exit_code = 0;

DWORD WINAPI control_handler(DWORD control, DWORD, void*, void*) {
  switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
      if (auto* host = g_host.load()) host->request_stop();
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

void WINAPI service_main(DWORD, LPWSTR*) {
  const SERVICE_STATUS_HANDLE handle =
      RegisterServiceCtrlHandlerExW(widen(kName).c_str(), control_handler, nullptr);
  if (!handle) {
    g_exit_code = 1;
    return;
  }
  // Never freed: the control handler may still hold it on its own thread until the process ends.
  auto* host = new ScmHost(handle);
  g_host = host;
  host->report(SERVICE_START_PENDING, NO_ERROR, 30'000);
  g_exit_code = (*g_agent)(*host);
  host->report(SERVICE_STOPPED, static_cast<DWORD>(g_exit_code));
}

}  // namespace

std::filesystem::path program_data_dir() {
  // The known folder, not %ProgramData%: a service's environment need not carry it.
  PWSTR path = nullptr;
  std::filesystem::path base = "C:\\ProgramData";
  if (SHGetKnownFolderPath(FOLDERID_ProgramData, 0, nullptr, &path) == S_OK) base = path;
  CoTaskMemFree(path);
  return base / "weighlink";
}

base::Expected<int> run(const std::function<int(ServiceHost&)>& agent) {
  g_agent = &agent;
  std::wstring name = widen(kName);
  SERVICE_TABLE_ENTRYW table[] = {{name.data(), service_main}, {nullptr, nullptr}};
  if (!StartServiceCtrlDispatcherW(table)) {
    return fail(
        "not started by the service control manager (run it with `sc start weighlink-agent`, "
        "or without `service run` in a console)");
  }
  return g_exit_code;
}

base::Expected<void> install(const std::string& command_line) {
  Handle manager(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CREATE_SERVICE));
  if (!manager) return fail("cannot open the service control manager (run as Administrator)");
  Handle service(CreateServiceW(manager.h, widen(kName).c_str(), widen(kDisplayName).c_str(),
                                SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
                                SERVICE_ERROR_NORMAL, widen(command_line).c_str(), nullptr, nullptr,
                                nullptr, L"NT AUTHORITY\\LocalService", L""));
  if (!service) return fail("cannot create the service");
  std::wstring description = widen(kDescription);
  SERVICE_DESCRIPTIONW d{description.data()};
  ChangeServiceConfig2W(service.h, SERVICE_CONFIG_DESCRIPTION, &d);
  SERVICE_DELAYED_AUTO_START_INFO delayed{TRUE};
  ChangeServiceConfig2W(service.h, SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &delayed);
  return set_recovery();
}

base::Expected<void> set_recovery() {
  Handle manager(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!manager) return fail("cannot open the service control manager (run as Administrator)");
  Handle service(
      OpenServiceW(manager.h, widen(kName).c_str(), SERVICE_CHANGE_CONFIG | SERVICE_START));
  if (!service) return fail("cannot open the weighlink-agent service");
  SC_ACTION actions[] = {
      {SC_ACTION_RESTART, 5'000}, {SC_ACTION_RESTART, 10'000}, {SC_ACTION_RESTART, 30'000}};
  SERVICE_FAILURE_ACTIONSW failure{};
  failure.dwResetPeriod = 24 * 60 * 60;
  failure.cActions = 3;
  failure.lpsaActions = actions;
  if (!ChangeServiceConfig2W(service.h, SERVICE_CONFIG_FAILURE_ACTIONS, &failure)) {
    return fail("cannot set the recovery actions");
  }
  // Also when it exits with an error code, not only when it crashes.
  SERVICE_FAILURE_ACTIONS_FLAG flag{TRUE};
  ChangeServiceConfig2W(service.h, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag);
  return {};
}

base::Expected<void> uninstall() {
  Handle manager(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!manager) return fail("cannot open the service control manager (run as Administrator)");
  Handle service(
      OpenServiceW(manager.h, widen(kName).c_str(), SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE));
  if (!service) return fail("cannot open the weighlink-agent service");
  SERVICE_STATUS status{};
  if (ControlService(service.h, SERVICE_CONTROL_STOP, &status)) {
    for (int i = 0; i < 60 && QueryServiceStatus(service.h, &status) &&
                    status.dwCurrentState != SERVICE_STOPPED;
         ++i) {
      Sleep(500);
    }
  }
  if (!DeleteService(service.h)) return fail("cannot delete the service");
  return {};
}

}  // namespace weighlink::agent::windows_service

#endif  // _WIN32
