#include "weighlink/agent/config.hpp"

#include <doctest/doctest.h>

#include <fstream>

#include "config_fixture.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::agent::load_config_file;
using weighlink::testing::TempDir;

TEST_CASE("config: a complete file loads") {
  TempDir dir;
  std::ofstream(dir / "c.yaml") << R"(listen: 127.0.0.1:9000
station_id: wb-07
backends: [10.0.0.5:50051]
scales:
  - id: deck
    source: serial:/dev/ttyUSB0?baud=4800&parity=even&bits=7
    protocol: mt-continuous
    unit: lb
)";
  auto cfg = load_config_file(dir / "c.yaml");
  CHECK(cfg.listen_port == 9000);
  CHECK(cfg.station_id == "wb-07");
  REQUIRE(cfg.scales.size() == 1);
  CHECK(cfg.scales[0].id == "deck");
  CHECK(cfg.scales[0].parser.unit == "lb");
}

TEST_CASE("config: each bad file gets an error naming the key") {
  TempDir dir;
  CHECK(error_of(dir, "listn: 1.2.3.4:5\n").find("listn: unknown key") != std::string::npos);
  CHECK(error_of(dir, "listen: nowhere\n").find("listen") != std::string::npos);
  CHECK(error_of(dir, "scales:\n  - source: serial:/dev/x\n").find("scales[0].protocol") !=
        std::string::npos);
  CHECK(error_of(dir, "scales:\n  - source: serial:/dev/x\n    protocol: nope\n")
            .find("unknown protocol 'nope'") != std::string::npos);
  CHECK(error_of(dir, "capture_timeout_ms: soon\n").find("capture_timeout_ms") !=
        std::string::npos);
  CHECK(error_of(dir, "listen: [\n").find("not valid YAML") != std::string::npos);
}

TEST_CASE("config: replay_backoff_max_ms caps the replay backoff, within 200..600000") {
  TempDir dir;
  std::ofstream(dir / "c.yaml") << "replay_backoff_max_ms: 1000\nhello_interval_ms: 1500\n";
  auto cfg = load_config_file(dir / "c.yaml");
  CHECK(cfg.replay_backoff_max == std::chrono::milliseconds(1000));
  CHECK(cfg.hello_interval == std::chrono::milliseconds(1500));
  CHECK(error_of(dir, "replay_backoff_max_ms: 50\n").find("replay_backoff_max_ms") !=
        std::string::npos);
  CHECK(error_of(dir, "replay_backoff_max_ms: soon\n").find("replay_backoff_max_ms") !=
        std::string::npos);
}

TEST_CASE("config: scale stability, capture minimum, polling and reopening keys load") {
  TempDir dir;
  std::ofstream(dir / "c.yaml") << R"(scales:
  - id: axle
    source: tcp:10.0.0.7:4196
    protocol: mt-continuous
    decimals: 1
    checksum: required
    stale_after_ms: 2000
    stability: {divisions: 3, time_ms: 1500, division: 20, max_gap_ms: 700}
    min_capture_weight: 200
    poll_interval_ms: 250
    poll_command: "\x05"
    reopen_backoff_max_ms: 3000
    reopen_after_silence_ms: 0
)";
  auto cfg = load_config_file(dir / "c.yaml");
  REQUIRE(cfg.scales.size() == 1);
  const auto& s = cfg.scales[0];
  CHECK(s.parser.decimals == 1);
  CHECK(s.parser.checksum == weighlink::scale::ChecksumMode::required);
  CHECK(s.stale_after == std::chrono::milliseconds(2000));
  CHECK(s.stability.divisions == 3);
  CHECK(s.stability.time == std::chrono::milliseconds(1500));
  CHECK(s.stability.division == weighlink::scale::Decimal{20, 0});
  CHECK(s.stability.max_gap == std::chrono::milliseconds(700));
  CHECK(s.min_capture_weight == weighlink::scale::Decimal{200, 0});
  CHECK(s.poll_interval == std::chrono::milliseconds(250));
  CHECK(s.poll_command == "\x05");
  CHECK(s.reopen_backoff_max == std::chrono::milliseconds(3000));
  CHECK(s.reopen_after_silence == std::chrono::milliseconds(0));
}

TEST_CASE("config: a polled protocol with no poll setting polls at 500 ms; 0 turns it off") {
  TempDir dir;
  std::ofstream(dir / "c.yaml") << R"(scales:
  - {id: zm, source: 'serial:/dev/ttyS0', protocol: zm}
  - {id: off, source: 'serial:/dev/ttyS1', protocol: zm, poll_interval_ms: 0}
  - {id: stream, source: 'serial:/dev/ttyS2', protocol: mt-continuous}
  - {id: asked, source: 'serial:/dev/ttyS3', protocol: cardinal-sb400, poll_command: "\x05"}
)";
  const auto cfg = load_config_file(dir / "c.yaml");
  REQUIRE(cfg.scales.size() == 4);
  using weighlink::scale::effective_poll_interval;
  CHECK_FALSE(cfg.scales[0].poll_interval.has_value());
  CHECK(effective_poll_interval(cfg.scales[0]) == std::chrono::milliseconds(500));
  CHECK(effective_poll_interval(cfg.scales[1]) == std::chrono::milliseconds(0));
  CHECK(effective_poll_interval(cfg.scales[2]) == std::chrono::milliseconds(0));
  CHECK(effective_poll_interval(cfg.scales[3]) == std::chrono::milliseconds(500));
}

TEST_CASE("config: bad scale keys get an error naming the key") {
  TempDir dir;
  const std::string head = "scales:\n  - source: serial:/dev/x\n    protocol: mt-continuous\n";
  struct Case {
    const char* yaml;
    const char* names;
  };
  for (const auto& c : {
           Case{"    decimals: 12\n", "scales[0].decimals: expected 0..9"},
           Case{"    checksum: maybe\n", "scales[0].checksum: 'maybe'"},
           Case{"    stale_after_ms: 10\n", "scales[0].stale_after_ms: 10 is out of range"},
           Case{"    stability: 3\n", "scales[0].stability: expected a mapping"},
           Case{"    stability: {divisons: 3}\n", "scales[0].stability.divisons: unknown key"},
           Case{"    stability: {divisions: -1}\n", "scales[0].stability.divisions"},
           Case{"    stability: {time_ms: 90000}\n", "scales[0].stability.time_ms"},
           Case{"    stability: {division: 0}\n", "scales[0].stability.division: must be"},
           Case{"    stability: {division: heavy}\n", "scales[0].stability.division: 'heavy'"},
           Case{"    min_capture_weight: -5\n", "scales[0].min_capture_weight: must not be"},
           Case{"    min_capture_weight: 1e3\n", "scales[0].min_capture_weight: '1e3'"},
           Case{"    poll_interval_ms: 200\n", "scales[0].poll_command: protocol 'mt-continuous'"},
           Case{"    poll_interval_ms: 5\n    poll_command: W\n", "scales[0].poll_interval_ms"},
           Case{"    poll_interval_ms: 0\n    poll_command: W\n",
                "scales[0].poll_interval_ms: 0 means never poll"},
           Case{"    poll_command: ''\n    poll_interval_ms: 100\n", "scales[0].poll_command"},
           Case{"    reopen_backoff_max_ms: 1\n", "scales[0].reopen_backoff_max_ms"},
           Case{"    reopen_after_silence_ms: soon\n", "scales[0].reopen_after_silence_ms"},
       }) {
    INFO(std::string(c.yaml));
    const auto error = error_of(dir, head + c.yaml);
    CHECK_MESSAGE(error.find(c.names) != std::string::npos, error);
  }
  CHECK(error_of(dir, "scales:\n  - source: udp:nowhere:0\n    protocol: mt-continuous\n")
            .find("udp port '0'") != std::string::npos);
}

TEST_CASE("config: custom parser and deck keys load, and their errors name the key") {
  TempDir dir;
  std::ofstream(dir / "c.yaml") << R"(scales:
  - source: serial:/dev/x
    protocol: custom
    custom_pattern: '^(?<mode>[GN])(?<weight>[-0-9.]+)(?<unit>kg|lb)$'
    custom_terminator: "\r"
    custom_start: "\x02"
    custom_stable_values: [S, OK]
    deck_count: 2
)";
  auto cfg = load_config_file(dir / "c.yaml");
  REQUIRE(cfg.scales.size() == 1);
  const auto& p = cfg.scales[0].parser;
  CHECK(p.custom_pattern == "^(?<mode>[GN])(?<weight>[-0-9.]+)(?<unit>kg|lb)$");
  CHECK(p.custom_terminator == "\r");
  CHECK(p.custom_start == "\x02");
  CHECK(p.custom_stable_values == std::vector<std::string>{"S", "OK"});
  CHECK(p.deck_count == 2);

  const std::string head = "scales:\n  - source: serial:/dev/x\n";
  CHECK(error_of(dir, head + "    protocol: custom\n").find("scales[0].custom_pattern: ") !=
        std::string::npos);
  CHECK(error_of(dir, head + "    protocol: custom\n    custom_pattern: '(unclosed'\n")
            .find("scales[0].custom_pattern: ") != std::string::npos);
  CHECK(error_of(dir, head + "    protocol: zm\n    deck_count: 40\n")
            .find("scales[0].deck_count: ") != std::string::npos);
}

TEST_CASE("config: live socket and TruConnect keys load") {
  TempDir dir;
  std::ofstream(dir / "c.yaml")
      << R"(live: {ping_interval_ms: 2000, write_stall_ms: 500, max_message_bytes: 4096, max_clients: 8}
compat:
  truconnect: {enabled: true, ws_listen: '127.0.0.1:0', http_listen: '127.0.0.1:3099', scale: pad,
               capture_mode: multideck, station_code: ROMIA, vehicle_on_deck_weight: 500,
               optional: true}
scales:
  - {id: pad, source: 'serial:/dev/ttyUSB0', protocol: mcgs}
  - {id: b, source: 'serial:/dev/ttyUSB1', protocol: mcgs, axle_mode: direct}
)";
  auto cfg = load_config_file(dir / "c.yaml");
  CHECK(cfg.live.ping_interval.count() == 2000);
  CHECK(cfg.live.write_stall.count() == 500);
  CHECK(cfg.live.max_message == 4096);
  CHECK(cfg.live.max_clients == 8);
  CHECK(cfg.truconnect.enabled);
  CHECK(cfg.truconnect.ws_port == 0);
  CHECK(cfg.truconnect.http_port == 3099);
  CHECK(cfg.truconnect.scale == "pad");
  CHECK(cfg.truconnect.capture_mode == "multideck");
  CHECK(cfg.truconnect.vehicle_on_deck.to_string() == "500");
  CHECK(cfg.truconnect.optional);
  REQUIRE(cfg.scales.size() == 2);
  CHECK(weighlink::scale::axle_mode(cfg.scales[0]) == weighlink::scale::AxleMode::cumulative);
  CHECK(weighlink::scale::axle_mode(cfg.scales[1]) == weighlink::scale::AxleMode::direct);
}

TEST_CASE("config: bad live and TruConnect keys get an error naming the key") {
  TempDir dir;
  const std::string scale = "scales: [{id: main, source: 'serial:/dev/ttyS0', protocol: mcgs}]\n";
  CHECK(error_of(dir, "live: {ping_interval_ms: 5}\n").find("live.ping_interval_ms") !=
        std::string::npos);
  CHECK(error_of(dir, "live: {pings: 5}\n").find("live.pings: unknown key") != std::string::npos);
  CHECK(error_of(dir, "live: 3\n").find("live: expected a mapping") != std::string::npos);
  CHECK(error_of(dir, "compat: {other: {}}\n").find("compat.other: unknown key") !=
        std::string::npos);
  CHECK(error_of(dir, scale + "compat: {truconnect: {capture_mode: axle}}\n")
            .find("compat.truconnect.capture_mode") != std::string::npos);
  CHECK(error_of(dir, scale + "compat: {truconnect: {ws_listen: 'nowhere'}}\n")
            .find("compat.truconnect.ws_listen") != std::string::npos);
  CHECK(error_of(dir, scale + "compat: {truconnect: {scale: deck9}}\n")
            .find("compat.truconnect.scale: no scale with id 'deck9'") != std::string::npos);
  CHECK(error_of(dir, scale + "compat: {truconnect: {enabled: maybe}}\n")
            .find("compat.truconnect.enabled") != std::string::npos);
  CHECK(error_of(dir, scale + "compat: {truconnect: {optional: sometimes}}\n")
            .find("compat.truconnect.optional") != std::string::npos);
  CHECK(error_of(dir,
                 "scales: [{id: m, source: 'serial:/dev/ttyS0', protocol: mcgs, "
                 "axle_mode: sideways}]\n")
            .find("scales[0].axle_mode") != std::string::npos);
}

TEST_CASE("config: the outbox keys load, and their errors name the key") {
  TempDir dir;
  std::ofstream(dir / "c.yaml") << "outbox:\n  max_rows: 5000\n  min_retention_days: 30\n";
  auto cfg = load_config_file(dir / "c.yaml");
  CHECK(cfg.outbox_max_rows == 5000);
  CHECK(cfg.outbox_min_retention == std::chrono::hours(24 * 30));
  std::ofstream(dir / "c.yaml", std::ios::trunc) << "outbox:\n  min_retention_days: 0\n";
  CHECK(load_config_file(dir / "c.yaml").outbox_min_retention == std::chrono::hours(0));
  std::ofstream(dir / "c.yaml", std::ios::trunc) << "outbox_max_rows: 7\n";  // older spelling
  CHECK(load_config_file(dir / "c.yaml").outbox_max_rows == 7);

  CHECK(error_of(dir, "outbox:\n  max_rows: 0\n").find("outbox.max_rows: must be at least 1") !=
        std::string::npos);
  CHECK(error_of(dir, "outbox_max_rows: 0\n").find("outbox_max_rows: must be at least 1") !=
        std::string::npos);
  CHECK(error_of(dir, "outbox:\n  max_rows: -3\n").find("outbox.max_rows") != std::string::npos);
  CHECK(error_of(dir, "outbox:\n  min_retention_days: 3651\n")
            .find("outbox.min_retention_days: must be at most 3650") != std::string::npos);
  CHECK(error_of(dir, "outbox:\n  min_retention_days: week\n").find("outbox.min_retention_days") !=
        std::string::npos);
  CHECK(error_of(dir, "outbox:\n  max_row: 5\n").find("outbox.max_row: unknown key") !=
        std::string::npos);
  CHECK(error_of(dir, "outbox: 5\n").find("outbox: expected a mapping") != std::string::npos);
}

TEST_CASE("config: the limits keys load, and their errors name the key and the range") {
  TempDir dir;
  std::ofstream(dir / "c.yaml") << "limits:\n  max_connections: 64\n  max_request_body_bytes: "
                                   "65536\n  max_body_bytes_in_flight: 1048576\n  "
                                   "accept_pause_ms: 100\n";
  auto cfg = load_config_file(dir / "c.yaml");
  CHECK(cfg.limits.max_connections == 64);
  CHECK(cfg.limits.max_request_body == 65536);
  CHECK(cfg.limits.max_body_in_flight == 1048576);
  CHECK(cfg.limits.accept_pause == std::chrono::milliseconds(100));
  const weighlink::agent::ServerLimits defaults;
  CHECK(defaults.max_connections == 512);
  CHECK(defaults.max_request_body == 1048576);
  CHECK(defaults.max_body_in_flight == 16 * 1048576);

  CHECK(error_of(dir, "limits:\n  max_connections: 0\n")
            .find("limits.max_connections: 0 is out of range 8..100000 connections") !=
        std::string::npos);
  CHECK(error_of(dir, "limits:\n  max_connections: -5\n").find("limits.max_connections") !=
        std::string::npos);
  CHECK(error_of(dir, "limits:\n  max_request_body_bytes: 10\n")
            .find("limits.max_request_body_bytes: 10 is out of range") != std::string::npos);
  CHECK(error_of(dir, "limits:\n  max_body_bytes_in_flight: 2048\n")
            .find("limits.max_body_bytes_in_flight: 2048 is below") != std::string::npos);
  CHECK(error_of(dir, "limits:\n  accept_pause_ms: 0\n")
            .find("limits.accept_pause_ms: 0 is out of range 10..10000 ms") != std::string::npos);
  CHECK(
      error_of(dir, "limits:\n  max_conections: 9\n").find("limits.max_conections: unknown key") !=
      std::string::npos);
  CHECK(error_of(dir, "limits: 5\n").find("limits: expected a mapping") != std::string::npos);
}

TEST_CASE("config: intervals, timeouts and sizes have lower and upper bounds") {
  TempDir dir;
  CHECK(error_of(dir, "hello_interval_ms: 0\n")
            .find("hello_interval_ms: 0 is out of range 1000..600000 ms") != std::string::npos);
  CHECK(error_of(dir, "hello_interval_ms: 999\n").find("hello_interval_ms") != std::string::npos);
  CHECK(error_of(dir, "capture_timeout_ms: 0\n")
            .find("capture_timeout_ms: 0 is out of range 100..120000 ms") != std::string::npos);
  CHECK(error_of(dir, "replay_batch_size: 0\n").find("replay_batch_size: 0 is out of range 1..") !=
        std::string::npos);
  CHECK(error_of(dir, "replay_batch_size: 100000\n").find("replay_batch_size") !=
        std::string::npos);
  CHECK(error_of(dir, "allow_remote: sometimes\n").find("allow_remote: expected true or false") !=
        std::string::npos);
}

TEST_CASE("config: loopback hosts") {
  using weighlink::agent::is_loopback_host;
  for (const char* h :
       {"127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"}) {
    CAPTURE(h);
    CHECK(is_loopback_host(h));
  }
  for (const char* h : {"0.0.0.0", "::", "10.0.0.7", "127.0.0", "127.0.0.1.5", "1270.0.0.1",
                        "127.0.0.1a", "192.168.1.127", "", "::ffff:10.0.0.1"}) {
    CAPTURE(h);
    CHECK_FALSE(is_loopback_host(h));
  }
}

TEST_CASE("config: a listen address beyond loopback needs allow_remote") {
  weighlink::agent::AgentConfig cfg;
  CHECK_FALSE(weighlink::agent::validate_config(cfg).has_value());
  cfg.listen_host = "0.0.0.0";
  auto problem = weighlink::agent::validate_config(cfg);
  REQUIRE(problem.has_value());
  CHECK(problem->find("listen (or --listen): 0.0.0.0:8420") != std::string::npos);
  CHECK(problem->find("allow_remote: true") != std::string::npos);
  cfg.allow_remote = true;
  CHECK_FALSE(weighlink::agent::validate_config(cfg).has_value());
  cfg = {};
  cfg.truconnect.ws_host = "10.0.0.5";  // only checked when TruConnect is on
  CHECK_FALSE(weighlink::agent::validate_config(cfg).has_value());
  cfg.truconnect.enabled = true;
  problem = weighlink::agent::validate_config(cfg);
  REQUIRE(problem.has_value());
  CHECK(problem->find("compat.truconnect.ws_listen: 10.0.0.5:3030") != std::string::npos);
}

#ifndef _WIN32
#include <sys/stat.h>

TEST_CASE("config: key and token files open to the group or to everyone are refused") {
  TempDir dir;
  weighlink::agent::AgentConfig cfg;
  cfg.data_dir = dir.path();
  // No key yet: the agent creates it 0600.
  CHECK_FALSE(weighlink::agent::check_secret_files(cfg).has_value());
  const auto key = dir / "station.key";
  std::ofstream(key) << std::string(64, 'a') << "\n";
  ::chmod(key.c_str(), 0600);
  CHECK_FALSE(weighlink::agent::check_secret_files(cfg).has_value());
  ::chmod(key.c_str(), 0640);
  auto problem = weighlink::agent::check_secret_files(cfg);
  REQUIRE(problem.has_value());
  CHECK(problem->find(key.string() + ": the station key file is open to its group (mode 0640)") !=
        std::string::npos);
  CHECK(problem->find("chmod 600 " + key.string()) != std::string::npos);
  ::chmod(key.c_str(), 0400);
  const auto token = dir / "token";
  std::ofstream(token) << "tok\n";
  ::chmod(token.c_str(), 0644);
  cfg.station_token_file = token;
  problem = weighlink::agent::check_secret_files(cfg);
  REQUIRE(problem.has_value());
  CHECK(problem->find("the station token file is open to every user (mode 0644)") !=
        std::string::npos);
  ::chmod(token.c_str(), 0600);
  cfg.backend_tls.enabled = true;
  cfg.backend_tls.key_file = dir / "tls.key";
  std::ofstream(cfg.backend_tls.key_file) << "-----BEGIN PRIVATE KEY-----\n";
  ::chmod(cfg.backend_tls.key_file.c_str(), 0604);
  problem = weighlink::agent::check_secret_files(cfg);
  REQUIRE(problem.has_value());
  CHECK(problem->find("backend_tls.key_file") != std::string::npos);
}
#endif

TEST_CASE("station config: fields, language and tare age load; mistakes name the key") {
  TempDir dir;
  std::ofstream(dir / "c.yaml") << R"(station:
  language: sw
  tare_max_age_days: 30
  reference_fields:
    - {id: customer, label: {en: Customer, sw: Mteja}, required: true, max_length: 40}
    - {id: direction, type: choice, choices: [in, out]}
    - {id: moisture, label: Moisture, type: number}
)";
  const auto cfg = load_config_file(dir / "c.yaml");
  CHECK(cfg.station.language == "sw");
  CHECK(cfg.station.tare_max_age_days == 30);
  REQUIRE(cfg.station.reference_fields.size() == 3);
  CHECK(cfg.station.reference_fields[0].required);
  CHECK(cfg.station.reference_fields[0].max_length == 40);
  CHECK(cfg.station.reference_fields[2].label.at("sw") == "Moisture");
  CHECK(weighlink::agent::AgentConfig{}.station.reference_fields.size() == 5);

  CHECK(error_of(dir, "station: {language: fr}\n").find("station.language") != std::string::npos);
  CHECK(error_of(dir, "station: {tare_max_age_days: -1}\n").find("tare_max_age_days") !=
        std::string::npos);
  CHECK(error_of(dir, "station: {reference_fields: [{id: Customer}]}\n")
            .find("station.reference_fields[0].id") != std::string::npos);
  CHECK(error_of(dir, "station: {reference_fields: [{id: d, type: choice}]}\n")
            .find("reference_fields[0].choices") != std::string::npos);
  CHECK(error_of(dir, "station: {reference_fields: [{id: a}, {id: a}]}\n").find("listed twice") !=
        std::string::npos);
  CHECK(error_of(dir, "station: {colour: red}\n").find("station.colour") != std::string::npos);
}

// A baseline JPEG's header: SOI, APP0, SOF0 (2x3 pixels, 3 components), EOI.
const std::string kTinyJpeg(
    "\xFF\xD8\xFF\xE0\x00\x04\x00\x00\xFF\xC0\x00\x11\x08\x00\x03\x00\x02\x03\x01\x11\x00\x02"
    "\x11\x01\x03\x11\x01\xFF\xD9",
    29);

TEST_CASE("config: the ticket section loads, with its logo checked at start") {
  TempDir dir;
  const auto logo = dir / "logo.jpg";
  std::ofstream(logo, std::ios::binary) << kTinyJpeg;
  std::ofstream(dir / "c.yaml") << "ticket:\n  header: [Athi River, 'Box 1']\n  footer: [Asante]\n"
                                   "  fields: [record_id, plate, customer]\n  paper: 80mm\n"
                                   "  language: sw\n  logo_file: " +
                                       logo.string() + "\n";
  const auto cfg = load_config_file(dir / "c.yaml");
  CHECK(cfg.ticket.header == std::vector<std::string>{"Athi River", "Box 1"});
  CHECK(cfg.ticket.footer == std::vector<std::string>{"Asante"});
  CHECK(cfg.ticket.fields == std::vector<std::string>{"record_id", "plate", "customer"});
  CHECK(cfg.ticket.paper == "80mm");
  CHECK(cfg.ticket.language == "sw");
  CHECK(cfg.ticket.logo_jpeg == kTinyJpeg);

  std::ofstream(dir / "not.jpg") << "GIF89a....";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"ticket: {paper: letter}", "ticket.paper: 'letter': expected a4 or 80mm"},
      {"ticket: {language: fr}", "ticket.language: 'fr': expected en or sw"},
      {"ticket: {fields: [plate, Plate]}", "ticket.fields[1]: 'Plate': a field id"},
      {"ticket: {fields: [plate, plate]}", "ticket.fields[1]: 'plate' is listed twice"},
      {"ticket: {colour: red}", "ticket.colour: unknown key"},
      {"ticket: {header: 'one line'}", "ticket.header: expected a list of lines"},
      {"ticket: {logo_file: " + (dir / "none.jpg").string() + "}", "ticket.logo_file: cannot read"},
      {"ticket: {logo_file: " + (dir / "not.jpg").string() + "}", "is not a JPEG"},
  };
  for (const auto& item : bad) {
    const auto error = error_of(dir, item.first + "\n");
    // CHECK_MESSAGE's lambda cannot capture a structured binding (clang): the pair's members.
    CHECK_MESSAGE(error.find(item.second) != std::string::npos, item.first, " -> ", error);
    CHECK(error.starts_with((dir / "c.yaml").string() + ": "));
  }
}
