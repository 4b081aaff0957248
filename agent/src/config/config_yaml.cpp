// The YAML adapter of the agent configuration (yaml-cpp). Unknown keys are errors: a typo in a
// station's file must not silently fall back to a default.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "config/config_cameras.hpp"
#include "config/config_checks.hpp"
#include "config/config_displays.hpp"
#include "config/config_io.hpp"
#include "config/config_legal.hpp"
#include "config/config_printers.hpp"
#include "config/config_records.hpp"
#include "config/config_station.hpp"
#include "config/config_ticket.hpp"
#include "weighlink/agent/config.hpp"
#include "weighlink/base/host_port.hpp"

namespace weighlink::agent {

namespace {

using config_checks::check_keys;
using config_checks::fail;
using config_checks::get;
using config_checks::get_ms;

// Device ids name status entries, metrics labels and files across all types: one id, one device.
void check_device_ids(const AgentConfig& cfg, const std::filesystem::path& file) {
  std::map<std::string, std::string> seen;  // id -> where
  auto note = [&](const std::string& id, const std::string& where) {
    if (auto [it, added] = seen.emplace(id, where); !added) {
      fail(file, where, "id '" + id + "' is already " + it->second + "; give each device its own");
    }
  };
  for (std::size_t i = 0; i < cfg.cameras.cameras.size(); ++i) {
    note(cfg.cameras.cameras[i].id, "cameras[" + std::to_string(i) + "].id");
  }
  for (std::size_t i = 0; i < cfg.printers.printers.size(); ++i) {
    note(cfg.printers.printers[i].id, "printers[" + std::to_string(i) + "].id");
  }
  for (std::size_t i = 0; i < cfg.io.modules.size(); ++i) {
    note(cfg.io.modules[i].id, "io.modules[" + std::to_string(i) + "].id");
  }
  for (std::size_t i = 0; i < cfg.displays.size(); ++i) {
    note(cfg.displays[i].id, "displays[" + std::to_string(i) + "].id");
  }
}

// A decimal as the indicator would display it ("20", "0.5"); YAML numbers arrive as their text.
scale::Decimal get_decimal(const YAML::Node& node, const std::filesystem::path& file,
                           const std::string& key) {
  const auto text = get<std::string>(node, file, key, "a decimal number such as 20 or 0.5");
  const auto d = scale::Decimal::parse(text);
  if (!d) fail(file, key, "'" + text + "' is not a decimal number such as 20 or 0.5");
  return *d;
}

// The scale keys beyond id, source and protocol (docs/configuration.md, "Scale keys").
void load_scale_options(const YAML::Node& s, const std::filesystem::path& file,
                        const std::string& where, scale::ScaleConfig& sc) {
  if (auto n = s["unit"]) sc.parser.unit = get<std::string>(n, file, where + "unit", "a unit");
  if (auto n = s["decimals"]) {
    const int v = get<int>(n, file, where + "decimals", "a number of decimal places, 0..9");
    if (v < 0 || v > 9) fail(file, where + "decimals", "expected 0..9, got " + std::to_string(v));
    sc.parser.decimals = v;
  }
  if (auto n = s["checksum"]) {
    const auto v = get<std::string>(n, file, where + "checksum", "auto, required or absent");
    if (v == "auto") {
      sc.parser.checksum = scale::ChecksumMode::auto_detect;
    } else if (v == "required") {
      sc.parser.checksum = scale::ChecksumMode::required;
    } else if (v == "absent") {
      sc.parser.checksum = scale::ChecksumMode::absent;
    } else {
      fail(file, where + "checksum", "'" + v + "': expected auto, required or absent");
    }
  }
  if (auto n = s["stale_after_ms"]) {
    sc.stale_after = get_ms(n, file, where + "stale_after_ms", 50, 600'000);
  }
  if (auto st = s["stability"]) {
    const std::string at = where + "stability.";
    if (!st.IsMap())
      fail(file, where + "stability", "expected a mapping (divisions, time_ms, ...)");
    check_keys(st, {"divisions", "time_ms", "division", "max_gap_ms"}, file, at);
    if (auto n = st["divisions"]) {
      const int v = get<int>(n, file, at + "divisions", "a number of divisions, 0..100");
      if (v < 0 || v > 100)
        fail(file, at + "divisions", "expected 0..100, got " + std::to_string(v));
      sc.stability.divisions = v;
    }
    if (auto n = st["time_ms"]) sc.stability.time = get_ms(n, file, at + "time_ms", 0, 60'000);
    if (auto n = st["division"]) {
      const auto d = get_decimal(n, file, at + "division");
      if (d.units <= 0) fail(file, at + "division", "must be greater than 0");
      sc.stability.division = d;
    }
    if (auto n = st["max_gap_ms"]) {
      sc.stability.max_gap = get_ms(n, file, at + "max_gap_ms", 1, 600'000);
    }
  }
  if (auto n = s["min_capture_weight"]) {
    const auto d = get_decimal(n, file, where + "min_capture_weight");
    if (d.units < 0) fail(file, where + "min_capture_weight", "must not be negative");
    sc.min_capture_weight = d;
  }
  if (auto n = s["axle_mode"]) {
    const auto v = get<std::string>(n, file, where + "axle_mode", "direct or cumulative");
    if (v == "direct") {
      sc.axle_mode = scale::AxleMode::direct;
    } else if (v == "cumulative") {
      sc.axle_mode = scale::AxleMode::cumulative;
    } else {
      fail(file, where + "axle_mode", "'" + v + "': expected direct or cumulative");
    }
  }
  if (auto n = s["poll_command"]) {
    sc.poll_command = get<std::string>(n, file, where + "poll_command",
                                       "a string, e.g. \"\\x05\" or \"SI\\r\\n\"");
    if (sc.poll_command.empty()) fail(file, where + "poll_command", "must not be empty");
  }
  if (auto n = s["poll_interval_ms"]) {
    sc.poll_interval = get_ms(n, file, where + "poll_interval_ms", 0, 60'000);
    if (sc.poll_interval->count() > 0 && sc.poll_interval->count() < 20) {
      fail(file, where + "poll_interval_ms", "at least 20 ms (or 0: never poll)");
    }
  }
  // Unset, the interval is 500 ms for a polled protocol or a configured command, else none
  // (scale::effective_poll_interval()).
  if (scale::effective_poll_interval(sc).count() > 0 && scale::poll_request(sc).empty()) {
    fail(file, where + "poll_command",
         "protocol '" + sc.protocol + "' has no usual request: set poll_command");
  }
  if (sc.poll_interval && sc.poll_interval->count() == 0 && s["poll_command"]) {
    fail(file, where + "poll_interval_ms",
         "0 means never poll, so poll_command would never be sent; remove one of them");
  }
  if (auto n = s["reopen_backoff_max_ms"]) {
    sc.reopen_backoff_max = get_ms(n, file, where + "reopen_backoff_max_ms", 10, 600'000);
    sc.reopen_backoff_initial = std::min(sc.reopen_backoff_initial, sc.reopen_backoff_max);
  }
  if (auto n = s["reopen_after_silence_ms"]) {
    sc.reopen_after_silence = get_ms(n, file, where + "reopen_after_silence_ms", 0, 3'600'000);
  }
  if (auto n = s["deck_count"]) {
    sc.parser.deck_count = get<int>(n, file, where + "deck_count", "a number of decks, 0..16");
  }
  if (auto n = s["custom_pattern"]) {
    sc.parser.custom_pattern =
        get<std::string>(n, file, where + "custom_pattern", "a regex with named groups");
  }
  if (auto n = s["custom_terminator"]) {
    sc.parser.custom_terminator =
        get<std::string>(n, file, where + "custom_terminator", "a string of frame-ending bytes");
  }
  if (auto n = s["custom_start"]) {
    sc.parser.custom_start =
        get<std::string>(n, file, where + "custom_start", "one frame-starting byte");
  }
  if (auto n = s["custom_stable_values"]) {
    sc.parser.custom_stable_values = get<std::vector<std::string>>(
        n, file, where + "custom_stable_values", "a list of texts that mean stable");
  }
  // The parser's own checks ("custom_pattern: ..."), reported under this scale's key.
  if (auto problem = scale::validate_options(sc.protocol, sc.parser)) {
    const auto colon = problem->find(": ");
    if (colon == std::string::npos) fail(file, where.substr(0, where.size() - 1), *problem);
    fail(file, where + problem->substr(0, colon), problem->substr(colon + 2));
  }
}
// A HOST:PORT key, when present.
void listen_key(const YAML::Node& n, const std::filesystem::path& file, const std::string& key,
                std::string& host, std::uint16_t& port) {
  if (!n) return;
  try {
    parse_listen(get<std::string>(n, file, key, "HOST:PORT"), host, port);
  } catch (const std::invalid_argument& e) {
    fail(file, key, e.what());
  }
}

void load_backend_tls(const YAML::Node& n, const std::filesystem::path& file,
                      AgentConfig::BackendTls& tls) {
  if (!n.IsMap()) fail(file, "backend_tls", "expected a mapping (ca_file, cert_file, key_file)");
  check_keys(n, {"enabled", "ca_file", "cert_file", "key_file", "server_name"}, file,
             "backend_tls.");
  tls.enabled = true;  // the section turns it on unless it says enabled: false
  if (auto v = n["enabled"])
    tls.enabled = get<bool>(v, file, "backend_tls.enabled", "true or false");
  auto path = [&](const char* key, std::filesystem::path& out) {
    if (auto v = n[key]) {
      out = get<std::string>(v, file, std::string("backend_tls.") + key, "a path");
      if (!std::filesystem::exists(out)) {
        fail(file, std::string("backend_tls.") + key, "no file at " + out.string());
      }
    }
  };
  path("ca_file", tls.ca_file);
  path("cert_file", tls.cert_file);
  path("key_file", tls.key_file);
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    fail(file, tls.cert_file.empty() ? "backend_tls.cert_file" : "backend_tls.key_file",
         "cert_file and key_file go together (the client certificate for mutual TLS)");
  }
  if (auto v = n["server_name"]) {
    tls.server_name = get<std::string>(v, file, "backend_tls.server_name", "a host name");
  }
}

void load_live(const YAML::Node& n, const std::filesystem::path& file, LiveOptions& live) {
  if (!n.IsMap()) fail(file, "live", "expected a mapping (ping_interval_ms, ...)");
  check_keys(n, {"ping_interval_ms", "write_stall_ms", "max_message_bytes", "max_clients"}, file,
             "live.");
  if (auto v = n["ping_interval_ms"]) {
    live.ping_interval = get_ms(v, file, "live.ping_interval_ms", 200, 300'000);
  }
  if (auto v = n["write_stall_ms"]) {
    live.write_stall = get_ms(v, file, "live.write_stall_ms", 100, 600'000);
  }
  if (auto v = n["max_message_bytes"]) {
    live.max_message = get<std::size_t>(v, file, "live.max_message_bytes", "a number of bytes");
    if (live.max_message < 256 || live.max_message > (16u << 20)) {
      fail(file, "live.max_message_bytes", "expected 256..16777216");
    }
  }
  if (auto v = n["max_clients"]) {
    live.max_clients = get<std::size_t>(v, file, "live.max_clients", "a number of clients");
    if (live.max_clients < 1 || live.max_clients > 10'000) {
      fail(file, "live.max_clients", "expected 1..10000");
    }
  }
}

// A count (`unit`: "bytes", "connections", ...) within min..max.
std::size_t get_count(const YAML::Node& node, const std::filesystem::path& file,
                      const std::string& key, const std::string& unit, std::uint64_t min,
                      std::uint64_t max) {
  const auto v = get<std::uint64_t>(node, file, key, "a number of " + unit);
  if (v < min || v > max) {
    fail(file, key,
         std::to_string(v) + " is out of range " + std::to_string(min) + ".." +
             std::to_string(max) + " " + unit);
  }
  return static_cast<std::size_t>(v);
}

void load_limits(const YAML::Node& n, const std::filesystem::path& file, ServerLimits& limits) {
  if (!n.IsMap()) fail(file, "limits", "expected a mapping (max_connections, ...)");
  check_keys(
      n,
      {"max_connections", "max_request_body_bytes", "max_body_bytes_in_flight", "accept_pause_ms"},
      file, "limits.");
  if (auto v = n["max_connections"]) {
    limits.max_connections =
        get_count(v, file, "limits.max_connections", "connections", 8, 100'000);
  }
  if (auto v = n["max_request_body_bytes"]) {
    limits.max_request_body =
        get_count(v, file, "limits.max_request_body_bytes", "bytes", 1024, 64ull << 20);
  }
  if (auto v = n["max_body_bytes_in_flight"]) {
    limits.max_body_in_flight =
        get_count(v, file, "limits.max_body_bytes_in_flight", "bytes", 1024, 1ull << 30);
  }
  if (auto v = n["accept_pause_ms"]) {
    limits.accept_pause = get_ms(v, file, "limits.accept_pause_ms", 10, 10'000);
  }
  if (limits.max_body_in_flight < limits.max_request_body) {
    fail(file, "limits.max_body_bytes_in_flight",
         std::to_string(limits.max_body_in_flight) + " is below limits.max_request_body_bytes (" +
             std::to_string(limits.max_request_body) +
             "): one request of the largest size could never be received; raise it");
  }
}

void load_truconnect(const YAML::Node& n, const std::filesystem::path& file, TruConnectConfig& tc) {
  const std::string at = "compat.truconnect.";
  if (!n.IsMap()) fail(file, "compat.truconnect", "expected a mapping (enabled, ws_listen, ...)");
  check_keys(n,
             {"enabled", "ws_listen", "http_listen", "wss_listen", "https_listen", "optional",
              "scale", "capture_mode", "station_code", "station_name", "bidirectional",
              "bound_a_code", "bound_b_code", "vehicle_on_deck_weight"},
             file, at);
  if (auto v = n["enabled"]) tc.enabled = get<bool>(v, file, at + "enabled", "true or false");
  listen_key(n["ws_listen"], file, at + "ws_listen", tc.ws_host, tc.ws_port);
  listen_key(n["http_listen"], file, at + "http_listen", tc.http_host, tc.http_port);
  listen_key(n["wss_listen"], file, at + "wss_listen", tc.wss_host, tc.wss_port);
  listen_key(n["https_listen"], file, at + "https_listen", tc.https_host, tc.https_port);
  if (auto v = n["optional"]) tc.optional = get<bool>(v, file, at + "optional", "true or false");
  if (auto v = n["scale"]) tc.scale = get<std::string>(v, file, at + "scale", "a scale id");
  if (auto v = n["capture_mode"]) {
    tc.capture_mode = get<std::string>(v, file, at + "capture_mode", "mobile or multideck");
    if (tc.capture_mode != "mobile" && tc.capture_mode != "multideck") {
      fail(file, at + "capture_mode", "'" + tc.capture_mode + "': expected mobile or multideck");
    }
  }
  if (auto v = n["station_code"]) {
    tc.station_code = get<std::string>(v, file, at + "station_code", "a string");
  }
  if (auto v = n["station_name"]) {
    tc.station_name = get<std::string>(v, file, at + "station_name", "a string");
  }
  if (auto v = n["bidirectional"]) {
    tc.bidirectional = get<bool>(v, file, at + "bidirectional", "true or false");
  }
  if (auto v = n["bound_a_code"]) {
    tc.bound_a_code = get<std::string>(v, file, at + "bound_a_code", "a string");
  }
  if (auto v = n["bound_b_code"]) {
    tc.bound_b_code = get<std::string>(v, file, at + "bound_b_code", "a string");
  }
  if (auto v = n["vehicle_on_deck_weight"]) {
    tc.vehicle_on_deck = get_decimal(v, file, at + "vehicle_on_deck_weight");
  }
}

void load_tls(const YAML::Node& n, const std::filesystem::path& file, LocalTlsConfig& tls) {
  if (!n.IsMap()) fail(file, "tls", "expected a mapping (enabled, listen, dir, ...)");
  check_keys(n, {"enabled", "listen", "dir", "renew_before_days", "check_interval_s"}, file,
             "tls.");
  tls.enabled = true;  // the section turns it on unless it says enabled: false
  if (auto v = n["enabled"]) tls.enabled = get<bool>(v, file, "tls.enabled", "true or false");
  listen_key(n["listen"], file, "tls.listen", tls.host, tls.port);
  if (auto v = n["dir"]) {
    tls.dir = get<std::string>(v, file, "tls.dir", "a directory path");
    if (tls.dir.empty())
      fail(file, "tls.dir", "must not be empty (leave it out for <data_dir>/tls)");
  }
  if (auto v = n["renew_before_days"]) {
    // Below a day a missed daily check lets the certificate expire; from 200 days on, a
    // 397-day certificate would be renewed at nearly every check.
    const auto days = get_count(v, file, "tls.renew_before_days", "days", 1, 200);
    tls.renew_before = std::chrono::hours(24 * days);
  }
  if (auto v = n["check_interval_s"]) {
    tls.check_interval = std::chrono::seconds(
        get_count(v, file, "tls.check_interval_s", "seconds", 1, std::uint64_t{7} * 86400));
  }
}

}  // namespace

void parse_listen(const std::string& text, std::string& host, std::uint16_t& port) {
  auto parsed = base::parse_host_port(text, base::PortZero::allowed);
  if (!parsed) throw std::invalid_argument("listen address: " + parsed.error().message);
  host = std::move(parsed->host);
  port = parsed->port;
}

scale::ScaleConfig make_scale(const std::string& id, const std::string& source,
                              const std::string& protocol) {
  scale::ScaleConfig sc;
  sc.id = id;
  auto spec = scale::parse_source(source);
  if (!spec) {
    throw std::invalid_argument("scale '" + id + "' source '" + source +
                                "': " + spec.error().message);
  }
  sc.source = *spec;
  if (!scale::make_parser(protocol)) {
    throw std::invalid_argument("scale '" + id + "': unknown protocol '" + protocol +
                                "' (list them with: weighlink-scale protocols)");
  }
  sc.protocol = protocol;
  return sc;
}

AgentConfig load_config_file(const std::filesystem::path& file) {
  YAML::Node root;
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    throw std::runtime_error(file.string() +
                             ": cannot read the configuration file: it is a directory; give the "
                             "YAML file (e.g. /etc/weighlink/agent.yaml)");
  }
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::BadFile&) {
    throw std::runtime_error(file.string() + ": cannot read the configuration file");
  } catch (const YAML::ParserException& e) {
    throw std::runtime_error(file.string() + ": not valid YAML: " + e.what());
  } catch (const std::exception& e) {
    throw std::runtime_error(file.string() + ": cannot read the configuration file (" + e.what() +
                             ")");
  }
  AgentConfig cfg;
  cfg.config_file = file;
  // Installers drop preset origins next to the configuration file (/etc/weighlink/origins.d).
  cfg.origins_dir = file.parent_path() / "origins.d";
  if (root.IsNull()) return cfg;
  if (!root.IsMap()) fail(file, "(top level)", "expected a mapping of keys");
  check_keys(root,
             {"listen",
              "data_dir",
              "station_id",
              "station_token_file",
              "station_key_file",
              "backends",
              "scales",
              "allowed_origins",
              "allowed_hosts",
              "origins_dir",
              "capture_timeout_ms",
              "outbox",
              "outbox_max_rows",
              "replay_batch_size",
              "replay_backoff_max_ms",
              "hello_interval_ms",
              "live",
              "compat",
              "backend_tls",
              "limits",
              "allow_remote",
              "tls",
              "station",
              "ticket",
              "evidence",
              "io",
              "displays",
              "cameras",
              "anpr",
              "printers"},
             file, "");
  listen_key(root["listen"], file, "listen", cfg.listen_host, cfg.listen_port);
  if (auto n = root["allow_remote"]) {
    cfg.allow_remote = get<bool>(n, file, "allow_remote", "true or false");
  }
  if (auto n = root["data_dir"]) cfg.data_dir = get<std::string>(n, file, "data_dir", "a path");
  if (auto n = root["station_id"]) {
    cfg.station_id = get<std::string>(n, file, "station_id", "a string");
  }
  if (auto n = root["station_token_file"]) {
    cfg.station_token_file = get<std::string>(n, file, "station_token_file", "a path");
  }
  if (auto n = root["station_key_file"]) {
    cfg.station_key_file = get<std::string>(n, file, "station_key_file", "a path");
  }
  if (auto n = root["backends"]) {
    cfg.backends = get<std::vector<std::string>>(n, file, "backends", "a list of HOST:PORT");
  }
  if (auto n = root["allowed_origins"]) {
    cfg.allowed_origins = get<std::vector<std::string>>(n, file, "allowed_origins", "a list");
  }
  if (auto n = root["origins_dir"]) {
    cfg.origins_dir = get<std::string>(n, file, "origins_dir", "a path (\"\" for none)");
  }
  if (auto n = root["allowed_hosts"]) {
    cfg.allowed_hosts = get<std::vector<std::string>>(n, file, "allowed_hosts", "a list");
  }
  if (auto n = root["capture_timeout_ms"]) {
    cfg.capture_timeout = get_ms(n, file, "capture_timeout_ms", 100, 120'000);
  }
  if (auto n = root["evidence"]) parse_evidence_config(n, file, cfg.evidence);
  if (auto n = root["outbox_max_rows"]) {  // the older spelling of outbox.max_rows
    cfg.outbox_max_rows = get<std::uint64_t>(n, file, "outbox_max_rows", "a positive number");
    if (cfg.outbox_max_rows == 0) fail(file, "outbox_max_rows", "must be at least 1");
  }
  if (auto n = root["outbox"]) {
    if (!n.IsMap()) {
      fail(file, "outbox",
           "expected a mapping (max_rows, min_retention_days, alert_pending_after_s)");
    }
    check_keys(n, {"max_rows", "min_retention_days", "alert_pending_after_s"}, file, "outbox.");
    if (auto v = n["alert_pending_after_s"]) {
      const auto s =
          get<std::uint32_t>(v, file, "outbox.alert_pending_after_s", "a number of seconds");
      if (s < 60 || s > 7 * 86400) {
        fail(file, "outbox.alert_pending_after_s", "must be 60 to 604800 (one week)");
      }
      cfg.outbox_alert_pending_after = std::chrono::seconds(s);
    }
    if (auto v = n["max_rows"]) {
      cfg.outbox_max_rows = get<std::uint64_t>(v, file, "outbox.max_rows", "a positive number");
      if (cfg.outbox_max_rows == 0) fail(file, "outbox.max_rows", "must be at least 1");
    }
    if (auto v = n["min_retention_days"]) {
      const auto days = get<std::uint32_t>(v, file, "outbox.min_retention_days",
                                           "a whole number of days (0 or more)");
      if (days > 3650) fail(file, "outbox.min_retention_days", "must be at most 3650 (10 years)");
      cfg.outbox_min_retention = std::chrono::hours(24 * days);
    }
  }
  if (auto n = root["replay_batch_size"]) {
    cfg.replay_batch_size =
        get_count(n, file, "replay_batch_size", "mutations per batch", 1, 10'000);
  }
  if (auto n = root["replay_backoff_max_ms"]) {
    cfg.replay_backoff_max = get_ms(n, file, "replay_backoff_max_ms", 200, 600'000);
  }
  if (auto n = root["hello_interval_ms"]) {
    // Below a second Hello would busy the backend for nothing (0 spun); above 10 minutes a
    // restored backend goes unnoticed too long (SPEC §5: at least every 30 s by default).
    cfg.hello_interval = get_ms(n, file, "hello_interval_ms", 1000, 600'000);
  }
  if (auto n = root["live"]) load_live(n, file, cfg.live);
  if (auto n = root["limits"]) load_limits(n, file, cfg.limits);
  if (auto n = root["backend_tls"]) load_backend_tls(n, file, cfg.backend_tls);
  if (auto n = root["tls"]) load_tls(n, file, cfg.tls);
  if (auto n = root["station"]) load_station(n, file, cfg.station);
  if (auto n = root["ticket"]) load_ticket(n, file, cfg.ticket);
  // A ticket is printed in the station's language unless its layout names one.
  if (cfg.ticket.language.empty()) cfg.ticket.language = cfg.station.language;
  if (auto n = root["compat"]) {
    if (!n.IsMap()) fail(file, "compat", "expected a mapping (truconnect)");
    check_keys(n, {"truconnect"}, file, "compat.");
    if (auto t = n["truconnect"]) load_truconnect(t, file, cfg.truconnect);
  }
  if (auto scales = root["scales"]) {
    if (!scales.IsSequence()) fail(file, "scales", "expected a list of scales");
    for (std::size_t i = 0; i < scales.size(); ++i) {
      const auto s = scales[i];
      const std::string where = "scales[" + std::to_string(i) + "].";
      if (!s.IsMap()) fail(file, where, "expected a mapping with id, source, protocol");
      // clang-format off
      check_keys(s,
                 {"id", "source", "protocol", "unit", "decimals", "checksum", "stale_after_ms",
                  "stability", "min_capture_weight", "axle_mode", "poll_interval_ms",
                  "poll_command", "reopen_backoff_max_ms", "reopen_after_silence_ms", "deck_count",
                  "custom_pattern", "custom_terminator", "custom_start", "custom_stable_values",
                  "zero_return", "zero_band"},  // the last two: config_legal.cpp
                 file, where);
      // clang-format on
      if (!s["source"])
        fail(file, where + "source", "missing (e.g. serial:/dev/ttyUSB0?baud=9600)");
      if (!s["protocol"]) fail(file, where + "protocol", "missing (see weighlink-scale protocols)");
      const auto id =
          s["id"] ? get<std::string>(s["id"], file, where + "id", "a string") : std::string("main");
      for (std::size_t j = 0; j < cfg.scales.size(); ++j) {
        if (cfg.scales[j].id == id) {
          fail(file, where + "id",
               "duplicate id '" + id + "' (scales[" + std::to_string(j) +
                   "] has it; give each scale its own id)");
        }
      }
      const auto source = get<std::string>(s["source"], file, where + "source", "a string");
      const auto protocol = get<std::string>(s["protocol"], file, where + "protocol", "a string");
      if (!scale::make_parser(protocol)) {
        fail(file, where + "protocol",
             "unknown protocol '" + protocol + "' (list them with: weighlink-scale protocols)");
      }
      std::optional<scale::ScaleConfig> sc;
      try {
        sc = make_scale(id, source, protocol);  // the protocol is known: only the source can fail
      } catch (const std::invalid_argument& e) {
        fail(file, where + "source", e.what());
      }
      try {
        load_scale_options(s, file, where, *sc);
      } catch (const std::invalid_argument& e) {
        fail(file, where.substr(0, where.size() - 1), e.what());
      }
      cfg.scales.push_back(std::move(*sc));
    }
  }
  load_legal(root, file, cfg.legal);
  load_io(root, file, cfg);  // after scales: each lane names one
  load_cameras(root, file, cfg);
  if (auto n = root["printers"]) load_printers(n, file, cfg.scales, cfg.printers);
  if (!cfg.truconnect.scale.empty() &&
      std::none_of(cfg.scales.begin(), cfg.scales.end(),
                   [&](const auto& s) { return s.id == cfg.truconnect.scale; })) {
    fail(file, "compat.truconnect.scale",
         "no scale with id '" + cfg.truconnect.scale + "' in scales");
  }
  if (auto n = root["displays"]) load_displays(n, file, cfg.scales, cfg.displays);
  check_device_ids(cfg, file);
  return cfg;
}

}  // namespace weighlink::agent
