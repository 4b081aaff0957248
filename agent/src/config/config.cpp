// Whole-configuration checks (flags applied): listen addresses against allow_remote, and the
// permissions of the files that hold secrets.
#include "weighlink/agent/config.hpp"

#ifndef _WIN32
#include <sys/stat.h>
#endif

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "weighlink/agent/local_tls.hpp"
#include "weighlink/base/host_port.hpp"

namespace weighlink::agent {

bool is_loopback_host(const std::string& host) { return base::is_loopback_host(host); }

std::optional<std::string> validate_config(const AgentConfig& config) {
  struct Listen {
    const char* key;
    const std::string& host;
    std::uint16_t port;
  };
  std::vector<Listen> listens{{"listen (or --listen)", config.listen_host, config.listen_port}};
  if (config.truconnect.enabled) {
    listens.push_back(
        {"compat.truconnect.ws_listen", config.truconnect.ws_host, config.truconnect.ws_port});
    listens.push_back({"compat.truconnect.http_listen", config.truconnect.http_host,
                       config.truconnect.http_port});
  }
  if (config.tls.enabled) {
    listens.push_back({"tls.listen", config.tls.host, config.tls.port});
    if (config.truconnect.enabled) {
      listens.push_back(
          {"compat.truconnect.wss_listen", config.truconnect.wss_host, config.truconnect.wss_port});
      listens.push_back({"compat.truconnect.https_listen", config.truconnect.https_host,
                         config.truconnect.https_port});
    }
  }
  if (!config.allow_remote) {
    for (const auto& l : listens) {
      if (is_loopback_host(l.host)) continue;
      return std::string(l.key) + ": " + base::format_host_port(l.host, l.port) +
             " is reachable from other machines, and the local API has no login; listen on "
             "127.0.0.1, or set allow_remote: true in the configuration file if this is meant";
    }
  }
  return std::nullopt;
}

std::optional<std::string> secret_file_problem(const std::filesystem::path& file,
                                               const std::string& what) {
#ifdef _WIN32
  (void)file;
  (void)what;
  return std::nullopt;
#else
  struct stat st {};
  // A missing file is reported where it is read, with its own message.
  if (file.empty() || ::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  if ((st.st_mode & 077) == 0) return std::nullopt;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return file.string() + ": " + what + " is open to " +
         ((st.st_mode & 007) != 0 ? "every user" : "its group") + " (mode " + mode +
         ") and holds a secret; run: chmod 600 " + file.string() +
         " (the file must belong to the user the agent runs as)";
#endif
}

std::optional<std::string> check_secret_files(const AgentConfig& config) {
  struct Secret {
    const char* what;
    std::filesystem::path file;
  };
  std::vector<Secret> secrets{
      {"the station key file",
       config.station_key_file.empty() ? config.data_dir / "station.key" : config.station_key_file},
      {"the station token file", config.station_token_file},
  };
  if (config.backend_tls.enabled) {
    secrets.push_back({"the TLS private key (backend_tls.key_file)", config.backend_tls.key_file});
  }
  if (config.tls.enabled) {
    const auto files = tls_files(config);
    secrets.push_back({"the station CA's private key", files.ca_key()});
    secrets.push_back({"the local server certificate's private key", files.key()});
  }
  // The cameras' passwords and the ANPR cameras' tokens (docs/devices.md).
  for (const auto& c : config.cameras.cameras) {
    if (!c.password_file.empty()) secrets.push_back({"a camera's password file", c.password_file});
  }
  for (const auto& c : config.cameras.anpr.cameras) {
    if (!c.token_file.empty()) secrets.push_back({"an ANPR camera's token file", c.token_file});
  }
  for (const auto& s : secrets) {
    if (auto problem = secret_file_problem(s.file, s.what)) return problem;
  }
  return std::nullopt;
}

}  // namespace weighlink::agent
