// weighlink-agent: flags and configuration in, an exit code out (SPEC §4).
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "weighlink/agent/agent.hpp"
#include "weighlink/agent/config.hpp"
#include "weighlink/agent/pairing.hpp"
#include "weighlink/agent/records.hpp"
#include "weighlink/agent/service_command.hpp"
#include "weighlink/agent/tls_tool.hpp"
#include "weighlink/agent/tools.hpp"
#include "weighlink/base/guarded_main.hpp"

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

static int run(int argc, char** argv) {
  CLI::App app{
      "weighlink-agent: the station daemon (scale input, live socket, local API, outbox, "
      "replay)"};
  app.set_version_flag("--version", std::string("weighlink-agent ") + WEIGHLINK_VERSION);
  std::string config_file, listen, ready_file, data_dir, station_id, token_file, backend,
      scale_source, scale_protocol = "mt-continuous", log_level = "info";
  bool check_config = false;
  bool truconnect = false;
  app.add_option("--config", config_file, "YAML configuration file");
  // `--check-config FILE`, or `--config FILE --check-config`.
  std::string check_config_file;
  app.add_option("--check-config", check_config_file,
                 "validate the configuration (FILE, or --config's) and exit: 0 valid, 2 invalid")
      ->expected(0, 1);
  app.add_option("--listen", listen,
                 "HOST:PORT for HTTP and the live socket (default 127.0.0.1:8420; port 0 = any)");
  std::string tls_listen;
  app.add_option("--tls-listen", tls_listen,
                 "HOST:PORT for https:// and wss:// with the station CA (turns tls on; config "
                 "tls.listen, default 127.0.0.1:8421)");
  app.add_option("--ready-file", ready_file, "write bound addresses as JSON here once listening");
  app.add_option("--data-dir", data_dir, "directory for the outbox");
  app.add_option("--station-id", station_id, "this station's id");
  app.add_option("--station-token-file", token_file, "file holding the station's backend token");
  std::string key_file;
  app.add_option("--station-key-file", key_file,
                 "file holding the key that signs the evidence chain (default "
                 "<data-dir>/station.key, created on first start)");
  app.add_option("--backend", backend, "HOST:PORT[,HOST:PORT...] of weighlink-backend");
  app.add_option("--scale-source", scale_source,
                 "serial:DEV?baud=9600&parity=none&bits=8&stop=1 (one scale named main)");
  app.add_option("--scale-protocol", scale_protocol,
                 "protocol id of that scale (weighlink-scale protocols)");
  app.add_flag("--truconnect", truconnect,
               "serve TruConnect's socket (127.0.0.1:3030) and REST API (127.0.0.1:3031) for the "
               "TruLoad web app (config compat.truconnect)");
  // spdlog reads an unknown name as "off": a typo ("warnings") would silence the agent.
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));

  // Operator commands on the outbox; they take --config / --data-dir / --station-id /
  // --station-key-file like the daemon (before or after the command) and work while it runs.
  weighlink::agent::OutboxCommand outbox_cmd;
  auto* outbox = app.add_subcommand(
      "outbox",
      "inspect the outbox, release dead mutations, export it (works while the agent runs)");
  outbox->require_subcommand(1);
  outbox->fallthrough();
  auto* list = outbox->add_subcommand("list", "mutations in seq order");
  list->add_option("--state", outbox_cmd.state, "pending, acknowledged, dead or discarded");
  list->add_option("--after", outbox_cmd.after, "only seqs above this");
  list->add_option("--limit", outbox_cmd.limit, "at most this many (default 100)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  list->add_flag("--json", outbox_cmd.json, "one JSON object per line");
  auto* show = outbox->add_subcommand("show", "one mutation in full, with its evidence");
  show->add_option("target", outbox_cmd.targets, "idempotency key or seq")->required();
  auto* retry = outbox->add_subcommand("retry", "release dead mutations for another attempt");
  retry->add_option("target", outbox_cmd.targets, "idempotency key or seq");
  retry->add_flag("--all-dead", outbox_cmd.all_dead, "every dead mutation");
  auto* discard = outbox->add_subcommand(
      "discard", "end dead mutations for good (kept with the reason, exported, never sent again)");
  discard->add_option("target", outbox_cmd.targets, "idempotency key or seq");
  discard->add_option("--reason", outbox_cmd.reason, "why (kept with the row; required)");
  auto* exp = outbox->add_subcommand(
      "export", "every record with its evidence as JSON lines (verify-evidence --export reads it)");
  exp->add_option("--out", outbox_cmd.out_file, "write here (default standard output)");
  for (auto* sub : {list, show, retry, exp}) sub->fallthrough();

  // Origin pairing (docs/security.md): which browser origins may use this station.
  weighlink::agent::OriginsCommand origins_cmd;
  auto* origins = app.add_subcommand(
      "origins",
      "browser origins that may use this station: list, allow, deny, revoke (works while the "
      "agent runs, no restart)");
  origins->require_subcommand(1);
  origins->fallthrough();
  std::string origins_dir;
  origins->add_option("--origins-dir", origins_dir,
                      "the drop-in folder of preset origins (default: origins.d next to the "
                      "configuration file)");
  auto* origins_list = origins->add_subcommand("list", "allowed, denied and pending origins");
  origins_list->add_flag("--json", origins_cmd.json, "one JSON object, as GET /v1/origins");
  std::vector<CLI::App*> origin_actions{origins_list};
  for (const auto& [name, what] : std::initializer_list<std::pair<const char*, const char*>>{
           {"allow", "let pages of ORIGIN (https://host[:port]) use the scale"},
           {"deny", "keep refusing ORIGIN, and stop listing it as pending"},
           {"revoke", "remove the allow or deny decision on ORIGIN"}}) {
    auto* sub = origins->add_subcommand(name, what);
    sub->add_option("origin", origins_cmd.origin, "the origin, e.g. https://truload.example.org")
        ->required();
    origin_actions.push_back(sub);
  }
  auto* origins_preset = origins->add_subcommand(
      "preset", "write the installer's origins to <origins-dir>/NAME.conf (none: remove it)");
  origins_preset->add_option("origins", origins_cmd.origins,
                             "origins, separated by spaces or commas");
  origins_preset->add_option("--name", origins_cmd.name, "the file's name (default installer)");
  origin_actions.push_back(origins_preset);
  for (auto* sub : origin_actions) sub->fallthrough();

  // The alibi store: records by seq, from the outbox or its evidence archive.
  weighlink::agent::RecordsCommand records_cmd;
  auto* records = app.add_subcommand(
      "records", "records by seq range, from the outbox or its evidence archive (read-only)");
  records->fallthrough();
  records->add_option("--from", records_cmd.from, "the first seq")->required();
  records->add_option("--to", records_cmd.to, "the last seq (inclusive)")->required();
  records->add_flag("--json", records_cmd.json, "one JSON object per record, as GET /v1/records");
  records->add_flag("--verify", records_cmd.verify, "each record's hash, signature and link");
  weighlink::agent::VerifyEvidenceCommand verify_cmd;
  auto* verify = app.add_subcommand(
      "verify-evidence",
      "check the signed hash chain of the outbox (or of an export): exit 0 intact, 3 broken");
  verify->fallthrough();
  verify->add_option("--export", verify_cmd.export_file, "verify this export file instead");
  verify->add_flag("--json", verify_cmd.json, "the report as one JSON object");
  // The station CA and the certificate of https/wss on loopback (docs/local-tls.md).
  weighlink::agent::TlsCommand tls_cmd;
  auto* tls = app.add_subcommand(
      "tls", "the station's local CA and the certificate of https:// and wss:// on loopback");
  tls->require_subcommand(1);
  tls->fallthrough();
  auto* tls_init = tls->add_subcommand(
      "init", "create the CA (kept when valid) and a server certificate when none is valid");
  tls_init->add_flag("--new-ca", tls_cmd.new_ca,
                     "replace the CA even when valid (then trust the new one: docs/local-tls.md)");
  auto* tls_status = tls->add_subcommand(
      "status", "the CA and the certificate: files, subjects, expiry, fingerprints");
  tls_status->add_flag("--json", tls_cmd.json, "one JSON object");
  auto* tls_renew = tls->add_subcommand(
      "renew", "a new server certificate from the same CA (the agent loads it)");
  auto* tls_export = tls->add_subcommand("export-ca", "the CA certificate (PEM), for trust stores");
  tls_export->add_option("--out", tls_cmd.out_file, "write here (default standard output)");
  for (auto* sub : {tls_init, tls_status, tls_renew, tls_export}) sub->fallthrough();
  // Windows service control (docs/install-windows.md); Windows only.
  auto* service = app.add_subcommand(
      "service", "the Windows service: install, recovery, uninstall, run (Windows only)");
  service->require_subcommand(1);
  service->fallthrough();
  for (const auto& [name, what] : std::initializer_list<std::pair<const char*, const char*>>{
           {"install", "register the service (automatic start, restart on failure)"},
           {"recovery", "set its recovery actions (the installer runs this)"},
           {"uninstall", "stop and remove the service (configuration and outbox stay)"},
           {"run", "what the service control manager starts"}}) {
    service->add_subcommand(name, what)->fallthrough();
  }
  // Usage errors as one line on stderr (SPEC §1), what and what to do.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("weighlink-agent: ") + e.what() + " (see weighlink-agent --help)\n";
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (service->parsed()) {
    // The service reads its configuration file only; relative paths and its logs are under the
    // state directory (%ProgramData%\weighlink), since a service starts in System32.
    auto run_agent = [&](weighlink::agent::ServiceHost& host, const std::filesystem::path& file,
                         const std::filesystem::path& state_dir) {
      auto logger = std::make_shared<spdlog::logger>(
          "weighlink-agent", std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
                                 (state_dir / "logs" / "agent.log").string(), 5 << 20, 5));
      spdlog::set_default_logger(logger);
      spdlog::set_level(spdlog::level::from_str(log_level));
      spdlog::flush_every(std::chrono::seconds(1));
      weighlink::agent::AgentConfig service_config;
      try {
        service_config = weighlink::agent::load_config_file(file);
      } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
      }
      if (service_config.data_dir.is_relative()) {
        service_config.data_dir = state_dir / service_config.data_dir;
      }
      if (auto problem = weighlink::agent::validate_config(service_config)) {
        spdlog::error("{}: {}", file.string(), *problem);
        return 2;
      }
      return weighlink::agent::Agent::run(service_config, &host);
    };
    return weighlink::agent::run_service_command(service->get_subcommands().front()->get_name(),
                                                 argv[0], config_file, run_agent, std::cout,
                                                 std::cerr);
  }

  if (app.count("--check-config") > 0) check_config = true;
  if (check_config && !check_config_file.empty()) {
    if (!config_file.empty() && config_file != check_config_file) {
      std::cerr << "weighlink-agent: --check-config " << check_config_file << " and --config "
                << config_file << " name two files; give one\n";
      return 2;
    }
    config_file = check_config_file;
  }

  weighlink::agent::AgentConfig config;
  try {
    if (!config_file.empty()) config = weighlink::agent::load_config_file(config_file);
    if (!listen.empty()) {
      weighlink::agent::parse_listen(listen, config.listen_host, config.listen_port);
    }
    if (!tls_listen.empty()) {
      weighlink::agent::parse_listen(tls_listen, config.tls.host, config.tls.port);
      config.tls.enabled = true;
    }
    if (!ready_file.empty()) config.ready_file = ready_file;
    if (!data_dir.empty()) config.data_dir = data_dir;
    if (!station_id.empty()) config.station_id = station_id;
    if (!token_file.empty()) config.station_token_file = token_file;
    if (!key_file.empty()) config.station_key_file = key_file;
    if (!backend.empty()) config.backends = split_list(backend);
    if (truconnect) config.truconnect.enabled = true;
    if (scale_source.empty() && app.count("--scale-protocol") > 0) {
      throw std::invalid_argument(
          "--scale-protocol " + scale_protocol +
          " is the protocol of --scale-source, which is missing; give both, or set the "
          "protocol of each scale in the configuration file");
    }
    if (!scale_source.empty()) {
      std::erase_if(config.scales, [](const auto& s) { return s.id == "main"; });
      config.scales.insert(config.scales.begin(),
                           weighlink::agent::make_scale("main", scale_source, scale_protocol));
    }
  } catch (const std::exception& e) {
    std::cerr << "weighlink-agent: " << e.what() << "\n";
    return 2;
  }
  for (auto* sub : {list, show, retry, discard, exp}) {
    if (sub->parsed()) {
      outbox_cmd.action = sub->get_name();
      return weighlink::agent::run_outbox_command(config, outbox_cmd, std::cout, std::cerr);
    }
  }
  for (auto* sub : origin_actions) {
    if (sub->parsed()) {
      origins_cmd.action = sub->get_name();
      if (!origins_dir.empty()) config.origins_dir = origins_dir;
      return weighlink::agent::run_origins_command(config, origins_cmd, std::cout, std::cerr);
    }
  }
  for (auto* sub : {tls_init, tls_status, tls_renew, tls_export}) {
    if (sub->parsed()) {
      tls_cmd.action = sub->get_name();
      return weighlink::agent::run_tls_command(config, tls_cmd, std::cout, std::cerr);
    }
  }
  if (records->parsed()) {
    return weighlink::agent::run_records_command(config, records_cmd, std::cout, std::cerr);
  }
  if (verify->parsed()) {
    return weighlink::agent::run_verify_evidence(config, verify_cmd, std::cout, std::cerr);
  }
  // What only the daemon (and --check-config, which vouches for it) needs.
  if (auto problem = weighlink::agent::validate_config(config)) {
    std::cerr << "weighlink-agent: " << *problem << "\n";
    return 2;
  }
  if (auto problem = weighlink::agent::check_secret_files(config)) {
    std::cerr << "weighlink-agent: " << *problem << "\n";
    return 2;
  }
  if (check_config) {
    // The origins of allowed_origins and of the drop-in folder, as the start reads them.
    if (auto origins = weighlink::agent::load_fixed_origins(config); !origins) {
      std::cerr << "weighlink-agent: " << origins.error().message << "\n";
      return 2;
    }
    std::cout << "configuration OK: " << config.scales.size() << " scale(s), listen "
              << config.listen_host << ":" << config.listen_port;
    if (config.truconnect.enabled) {
      std::cout << ", TruConnect " << config.truconnect.ws_host << ":" << config.truconnect.ws_port
                << " + " << config.truconnect.http_host << ":" << config.truconnect.http_port;
    }
    if (config.tls.enabled) std::cout << ", TLS " << config.tls.host << ":" << config.tls.port;
    std::cout << "\n";
    return 0;
  }
  // The log goes to stderr: stdout is for what a command prints (reports, exports), and journald
  // or a service wrapper takes stderr as well.
  spdlog::set_default_logger(spdlog::stderr_color_mt("weighlink-agent"));
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  return weighlink::agent::Agent::run(config);
}

int main(int argc, char** argv) {
#ifdef __GLIBC__
  // One malloc arena for all threads: glibc gives each thread that allocates an arena of its own
  // (up to 8 per core), and the agent's dozen threads (gRPC's among them) each kept pages there;
  // 0.7 MB of peak RSS, with no measurable cost to the drain (docs/performance.md, "Issue 21:
  // agent memory").
  mallopt(M_ARENA_MAX, 1);
#endif
  return weighlink::base::guarded_main("weighlink-agent", [&] { return run(argc, argv); });
}
