#pragma once
// The agent's configuration: one YAML file, overridden by command-line flags. Plain data.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "weighlink/agent/camera_config.hpp"
#include "weighlink/agent/display_config.hpp"
#include "weighlink/agent/evidence_config.hpp"
#include "weighlink/agent/io_config.hpp"
#include "weighlink/agent/legal_config.hpp"
#include "weighlink/agent/printer_config.hpp"
#include "weighlink/agent/station.hpp"
#include "weighlink/agent/ticket.hpp"
#include "weighlink/scale/decimal.hpp"
#include "weighlink/scale/reader.hpp"

namespace weighlink::agent {

// The live sockets (GET /v1/live and TruConnect's): keep-alive and limits.
struct LiveOptions {
  // The server pings a client that sent nothing for this long; a client that answers nothing
  // (no pong, no message) for twice this long is closed. Browsers answer pings by themselves.
  std::chrono::milliseconds ping_interval{15'000};
  // A client whose socket accepts no byte of a pending message for this long is closed (it
  // stopped reading); the others never wait for it.
  std::chrono::milliseconds write_stall{10'000};
  std::size_t max_message =
      std::size_t{64} * 1024;     // largest client message; larger closes with 1009
  std::size_t max_clients = 256;  // live sockets per listener; more get HTTP 503
};

// The HTTP/WebSocket server's resource limits (config `limits`, docs/security.md "Resources").
struct ServerLimits {
  // Connections open at once per listening port (the agent's and each TruConnect port): HTTP
  // connections and live sockets together. At the cap the longest-idle HTTP connection is closed
  // to make room; when none is idle the new connection gets 503 with Retry-After.
  std::size_t max_connections = 512;
  // The largest request body (per request); a larger Content-Length gets 413 before any is read.
  std::size_t max_request_body = 1 << 20;
  // Request-body bytes being received at once over every connection; a request whose body does
  // not fit in what is left gets 503 with Retry-After before its body is read.
  std::size_t max_body_in_flight = 16 << 20;
  // After "too many open files" (EMFILE/ENFILE) on accept, accepting pauses this long.
  std::chrono::milliseconds accept_pause{250};
};

// TruConnect compatibility (config `compat.truconnect`, docs/truconnect-compat.md).
struct TruConnectConfig {
  bool enabled = false;
  std::string ws_host = "127.0.0.1";
  std::uint16_t ws_port = 3030;
  std::string http_host = "127.0.0.1";
  std::uint16_t http_port = 3031;
  // A port that cannot be bound (another TruConnect still running) fails the start with exit 2;
  // optional: the agent starts without it, /readyz answers 503, and it retries binding.
  bool optional = false;
  // The same two over TLS (wss:// and https://), served when `tls.enabled` (docs/local-tls.md).
  std::string wss_host = "127.0.0.1";
  std::uint16_t wss_port = 3032;
  std::string https_host = "127.0.0.1";
  std::uint16_t https_port = 3033;
  std::string scale;                    // the scale it serves; empty = the first configured
  std::string capture_mode = "mobile";  // mobile | multideck: for clients that do not say
  std::string station_code;
  std::string station_name = "weighlink station";
  bool bidirectional = false;
  std::string bound_a_code = "A";
  std::string bound_b_code = "B";
  // A deck total above this means a vehicle is on the deck (in the scale's unit).
  scale::Decimal vehicle_on_deck{50, 0};
};

// https:// and wss:// on loopback with the station's own CA (config `tls`, docs/local-tls.md).
struct LocalTlsConfig {
  bool enabled = false;
  std::string host = "127.0.0.1";
  std::uint16_t port = 8421;
  // The CA and the server certificate; empty: <data_dir>/tls.
  std::filesystem::path dir;
  // The server certificate is renewed when fewer days than this remain.
  std::chrono::hours renew_before{24 * 30};
  // How often the running agent checks the certificate (renews it, or loads one that
  // `weighlink-agent tls renew` wrote).
  std::chrono::seconds check_interval{86400};
};

struct AgentConfig {
  std::filesystem::path config_file;  // the file it was read from, if any (for messages)
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8420;
  // A listen address (ours or TruConnect's) beyond loopback is refused unless this is set in the
  // file; the agent then warns at start.
  bool allow_remote = false;
  std::filesystem::path ready_file;
  std::filesystem::path data_dir = "./weighlink-data";
  std::string station_id = "station-1";
  std::filesystem::path station_token_file;
  // The key that signs the evidence chain (64+ hex digits); empty = <data_dir>/station.key,
  // created on first start.
  std::filesystem::path station_key_file;
  std::vector<std::string> backends;  // host:port
  // TLS to the backend (config `backend_tls`): PEM file paths. Off: plaintext.
  struct BackendTls {
    bool enabled = false;
    std::filesystem::path ca_file;    // empty: the system's CA store
    std::filesystem::path cert_file;  // client certificate (mutual TLS), with key_file
    std::filesystem::path key_file;
    std::string server_name;  // the name in the backend's certificate, if not the address host
  } backend_tls;
  std::vector<scale::ScaleConfig> scales;

  // Security (SPEC §4): browser origins allowed besides the agent's own page, and extra names
  // accepted in the Host header besides localhost, 127.0.0.1 and [::1].
  std::vector<std::string> allowed_origins;
  std::vector<std::string> allowed_hosts;
  // Drop-in files of preset origins (*.conf, one origin per line) read at start; by default
  // origins.d next to the configuration file; empty: none.
  std::filesystem::path origins_dir;

  std::chrono::milliseconds capture_timeout{3000};
  std::chrono::milliseconds status_interval{1000};
  std::uint64_t outbox_max_rows = 1'000'000;
  // Acknowledged mutations stay at least this long, and until a verified backup holds them.
  std::chrono::hours outbox_min_retention{24 * 7};
  // The oldest pending mutation waiting longer than this raises the stuck alarm (a log line, the
  // gauge weighlink_agent_outbox_stuck, uplink.stuck in /v1/status).
  std::chrono::seconds outbox_alert_pending_after{1800};
  std::size_t replay_batch_size = 200;
  std::chrono::milliseconds replay_backoff_max{10'000};
  std::chrono::milliseconds hello_interval{30'000};

  LiveOptions live;
  ServerLimits limits;
  TruConnectConfig truconnect;
  LocalTlsConfig tls;
  StationConfig station;    // the weighing workstation (station:)
  TicketConfig ticket;      // ticket.hpp
  EvidenceConfig evidence;  // the outbox's evidence archive (records.hpp)
  LegalConfig legal;        // scales[].zero_return and zero_band (legal_config.hpp)
  IoConfig io;              // lights, barriers, position sensors (io_config.hpp)
  DisplaysConfig displays;  // remote displays (display_config.hpp)
  CamerasConfig cameras;    // cameras: and anpr: (camera_config.hpp)
  PrintersConfig printers;  // ticket printers (printer_config.hpp)
};

// Checks that need the whole configuration, flags applied (listen addresses against
// allow_remote). Returns one line naming the key, the value and what to do; nullopt when valid.
[[nodiscard]] std::optional<std::string> validate_config(const AgentConfig& config);

// The station key, token and TLS private key files must be readable by their owner only (as ssh
// requires of its keys). Returns one line naming the file and the chmod to run; nullopt when
// they are private or absent (the default station key is created 0600 on first start). Always
// nullopt on Windows, whose ACLs mode bits do not describe.
[[nodiscard]] std::optional<std::string> check_secret_files(const AgentConfig& config);

// The problem with a file holding a secret (`what`), when it is open to its group or to every
// user: one line naming the file and the chmod to run. nullopt when private or absent; always on
// Windows.
[[nodiscard]] std::optional<std::string> secret_file_problem(const std::filesystem::path& file,
                                                             const std::string& what);

// True for 127.0.0.0/8, ::1 and ::ffff:127.x.x.x (and "localhost").
[[nodiscard]] bool is_loopback_host(const std::string& host);

// Reads a YAML configuration file. Throws std::runtime_error naming the file, the key and what is
// wrong (start-up only).
[[nodiscard]] AgentConfig load_config_file(const std::filesystem::path& file);

// "HOST:PORT" -> host and port; throws std::invalid_argument with a clear message.
void parse_listen(const std::string& text, std::string& host, std::uint16_t& port);

// One scale from a source string and protocol id; throws std::invalid_argument.
[[nodiscard]] scale::ScaleConfig make_scale(const std::string& id, const std::string& source,
                                            const std::string& protocol);

}  // namespace weighlink::agent
