// make_uplink (uplink.hpp): the replay worker from the agent's configuration.

#include "uplink.hpp"

#include <spdlog/spdlog.h>

#include "weighlink/base/credential_files.hpp"
#include "weighlink/base/host_port.hpp"

namespace weighlink::agent {

namespace {

// A backend address whose host is not this machine.
bool remote_backend(const std::string& address) {
  const auto parsed = base::parse_host_port(address);
  return !base::is_loopback_host(parsed ? parsed->host : address);
}

// The PEM text of `file` into `into` (nothing to do for an unset file); false when unreadable.
bool read_pem(const std::filesystem::path& file, std::string& into) {
  if (file.empty()) return true;
  auto text = base::read_pem_file(file.string());
  if (!text) {
    spdlog::error("backend_tls: {}", text.error().message);
    return false;
  }
  into = std::move(*text);
  return true;
}

}  // namespace

Uplink make_uplink(const AgentConfig& config, sync::Outbox& outbox) {
  Uplink out;
  if (config.backends.empty()) {
    spdlog::info("no backend configured: running offline, every mutation stays in the outbox");
    return out;
  }
  sync::ReplayConfig rc;
  rc.backends = config.backends;
  rc.station_id = config.station_id;
  rc.agent_version = WEIGHLINK_VERSION;
  rc.batch_size = config.replay_batch_size;
  rc.hello_interval = config.hello_interval;
  rc.backoff.cap = config.replay_backoff_max;
  rc.min_retention = config.outbox_min_retention;
  rc.alert_pending_after = config.outbox_alert_pending_after;
  rc.token_file = config.station_token_file.string();
  rc.blob_dir = config.data_dir / "blobs";  // the BlobStore's (DeviceEnv): records' evidence files
  if (config.backend_tls.enabled) {
    rc.tls.enabled = true;
    rc.tls.server_name = config.backend_tls.server_name;
    if (!read_pem(config.backend_tls.ca_file, rc.tls.root_certs) ||
        !read_pem(config.backend_tls.cert_file, rc.tls.cert_chain) ||
        !read_pem(config.backend_tls.key_file, rc.tls.private_key)) {
      out.exit_code = 2;
      return out;
    }
  }
  if (!config.station_token_file.empty()) {
    auto token = base::read_token_file(config.station_token_file.string());
    if (!token) {
      spdlog::error("{}", token.error().message);
      out.exit_code = 2;
      return out;
    }
    rc.token = std::move(*token);
  } else {
    spdlog::warn("no --station-token-file: the backend will refuse this station's calls");
  }
  if (!config.backend_tls.enabled) {
    for (const auto& b : config.backends) {
      if (!remote_backend(b)) continue;
      spdlog::warn(
          "the backend {} is another machine and the link is plaintext: the station token and "
          "every weighing cross the network readable; configure backend_tls",
          b);
      out.plaintext_remote = true;
      break;
    }
  }
  out.replay = sync::ReplayWorker::create(std::move(rc), outbox);
  outbox.set_on_commit([r = out.replay.get()] { r->notify(); });
  return out;
}

}  // namespace weighlink::agent
