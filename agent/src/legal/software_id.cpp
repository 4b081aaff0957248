// The running binary's SHA-256, the software identification of the record.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "weighlink/agent/legal.hpp"
#include "weighlink/base/hash.hpp"

#ifdef _WIN32
#include <windows.h>
#endif

namespace weighlink::agent {

namespace {

std::filesystem::path own_binary() {
#ifdef _WIN32
  std::wstring path(32768, L'\0');
  const DWORD n = ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
  if (n == 0 || n >= path.size()) return {};
  path.resize(n);
  return std::filesystem::path(path);
#else
  return "/proc/self/exe";
#endif
}

}  // namespace

SoftwareId identify_software(const std::string& version) {
  SoftwareId id;
  id.version = version;
  const auto binary = own_binary();
  auto sha = binary.empty() ? std::nullopt : base::file_sha256(binary);
  if (sha) {
    id.sha256 = std::move(*sha);
    spdlog::info("software identification: {} {} sha256 {}", id.name, id.version, id.sha256);
  } else {
    spdlog::error(
        "cannot read the agent's own binary ({}) to compute its SHA-256: records carry "
        "\"sha256\":\"unknown\" until the agent is restarted with it readable",
        binary.empty() ? std::string("path unknown") : binary.string());
  }
  return id;
}

}  // namespace weighlink::agent
