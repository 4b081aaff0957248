// weighlink-agent: flags and configuration in, an exit code out (SPEC §4).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "weighlink/agent/agent.hpp"
#include "weighlink/agent/config.hpp"

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    auto item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "weighlink-agent: the station daemon (scale input, live socket, local API, outbox, "
      "replay)"};
  app.set_version_flag("--version", std::string("weighlink-agent ") + WEIGHLINK_VERSION);
  std::string config_file, listen, ready_file, data_dir, station_id, token_file, backend,
      scale_source, scale_protocol = "mt-continuous", log_level = "info";
  bool check_config = false;
  bool truconnect = false;
  app.add_option("--config", config_file, "YAML configuration file");
  app.add_flag("--check-config", check_config, "validate the configuration and exit");
  app.add_option("--listen", listen,
                 "HOST:PORT for HTTP and the live socket (default 127.0.0.1:8420; port 0 = any)");
  app.add_option("--ready-file", ready_file, "write bound addresses as JSON here once listening");
  app.add_option("--data-dir", data_dir, "directory for the outbox");
  app.add_option("--station-id", station_id, "this station's id");
  app.add_option("--station-token-file", token_file, "file holding the station's backend token");
  app.add_option("--backend", backend, "HOST:PORT[,HOST:PORT...] of weighlink-backend");
  app.add_option("--scale-source", scale_source,
                 "serial:DEV?baud=9600&parity=none&bits=8&stop=1 (one scale named main)");
  app.add_option("--scale-protocol", scale_protocol,
                 "protocol id of that scale (weighlink-scale protocols)");
  app.add_flag("--truconnect", truconnect,
               "serve TruConnect's socket (127.0.0.1:3030) and REST API (127.0.0.1:3031) for the "
               "TruLoad web app (config compat.truconnect)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  weighlink::agent::AgentConfig config;
  try {
    if (!config_file.empty()) config = weighlink::agent::load_config_file(config_file);
    if (!listen.empty()) {
      weighlink::agent::parse_listen(listen, config.listen_host, config.listen_port);
    }
    if (!ready_file.empty()) config.ready_file = ready_file;
    if (!data_dir.empty()) config.data_dir = data_dir;
    if (!station_id.empty()) config.station_id = station_id;
    if (!token_file.empty()) config.station_token_file = token_file;
    if (!backend.empty()) config.backends = split_list(backend);
    if (truconnect) config.truconnect.enabled = true;
    if (!scale_source.empty()) {
      std::erase_if(config.scales, [](const auto& s) { return s.id == "main"; });
      config.scales.insert(config.scales.begin(),
                           weighlink::agent::make_scale("main", scale_source, scale_protocol));
    }
  } catch (const std::exception& e) {
    std::cerr << "weighlink-agent: " << e.what() << "\n";
    return 2;
  }
  if (check_config) {
    std::cout << "configuration OK: " << config.scales.size() << " scale(s), listen "
              << config.listen_host << ":" << config.listen_port;
    if (config.truconnect.enabled) {
      std::cout << ", TruConnect " << config.truconnect.ws_host << ":" << config.truconnect.ws_port
                << " + " << config.truconnect.http_host << ":" << config.truconnect.http_port;
    }
    std::cout << "\n";
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  return weighlink::agent::Agent::run(config);
}
