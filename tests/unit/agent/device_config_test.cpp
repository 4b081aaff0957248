// The station devices' sections of the configuration (displays:, cameras:, anpr:, printers:; io:
// has io_config_test.cpp): what loads, and each mistake named by its key.
#include <doctest/doctest.h>

#include <fstream>

#include "config_fixture.hpp"
#include "weighlink/agent/config.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::agent::load_config_file;
using weighlink::testing::TempDir;

// The `displays:` section (config_displays.cpp): what loads, and each refusal naming the key.
const std::string kDisplayScales =
    "scales:\n"
    "  - {id: main, source: 'serial:/dev/ttyUSB0', protocol: mt-continuous}\n";

TEST_CASE("display config: serial and TCP displays load with their settings and defaults") {
  TempDir dir;
  std::ofstream(dir / "c.yaml") << kDisplayScales
                                << "displays:\n"
                                   "  - {id: yard, transport: serial, port: /dev/ttyUSB1, baud: "
                                   "4800, format: 7E1, protocol: sma, interval_ms: 250}\n"
                                   "  - {id: board, transport: tcp, address: '192.168.1.60:4001', "
                                   "protocol: mt-continuous, scale: main}\n";
  const auto cfg = load_config_file(dir / "c.yaml");
  REQUIRE(cfg.displays.size() == 2);
  const auto& yard = cfg.displays[0];
  CHECK(yard.transport == "serial");
  CHECK(yard.port == "/dev/ttyUSB1");
  CHECK(yard.serial.baud == 4800);
  CHECK(yard.serial.data_bits == 7);
  CHECK(yard.serial.parity == weighlink::scale::Parity::even);
  CHECK(yard.protocol == "sma");
  CHECK(yard.scale == "main");  // the only scale
  CHECK(yard.interval == std::chrono::milliseconds(250));
  const auto& board = cfg.displays[1];
  CHECK(board.host == "192.168.1.60");
  CHECK(board.tcp_port == 4001);
  CHECK(board.interval == std::chrono::milliseconds(200));
}

TEST_CASE("display config: each mistake is refused naming the key and what to write") {
  TempDir dir;
  auto display_error = [&](const std::string& displays,
                           const std::string& scales = kDisplayScales) {
    return error_of(dir, scales + "displays:\n" + displays);
  };
  auto has = [](const std::string& error, const std::string& part) {
    INFO(error);
    return error.find(part) != std::string::npos;
  };
  CHECK(has(display_error("  - {id: 'a b', transport: serial, port: /dev/x, protocol: sma}\n"),
            "displays[0].id: 'a b' is not a device id"));
  CHECK(has(display_error("  - {id: a, transport: usb, port: /dev/x, protocol: sma}\n"),
            "displays[0].transport: 'usb': expected serial or tcp"));
  CHECK(has(display_error("  - {id: a, transport: serial, protocol: sma}\n"),
            "displays[0].port: missing"));
  CHECK(has(display_error("  - {id: a, transport: serial, port: /dev/x, format: 9X1, protocol: "
                          "sma}\n"),
            "displays[0].format: '9X1'"));
  CHECK(has(display_error("  - {id: a, transport: tcp, address: 'nohost', protocol: sma}\n"),
            "displays[0].address:"));
  CHECK(has(display_error("  - {id: a, transport: tcp, port: /dev/x, protocol: sma}\n"),
            "displays[0].port: only for transport: serial"));
  // A protocol weighlink decodes but cannot send is refused with the list it can send.
  CHECK(has(display_error("  - {id: a, transport: serial, port: /dev/x, protocol: custom}\n"),
            "displays[0].protocol: 'custom': not a protocol weighlink can send; use one of "
            "mt-continuous"));
  CHECK(has(display_error("  - {id: a, transport: serial, port: /dev/x, protocol: sma, scale: "
                          "deck2}\n"),
            "displays[0].scale: no scale with id 'deck2'"));
  CHECK(has(
      display_error("  - {id: a, transport: serial, port: /dev/x, protocol: sma}\n",
                    kDisplayScales + "  - {id: b, source: 'serial:/dev/ttyUSB2', protocol: sma}\n"),
      "displays[0].scale: missing"));
  CHECK(has(display_error("  - {id: a, transport: serial, port: /dev/x, protocol: sma, "
                          "interval_ms: 5}\n"),
            "displays[0].interval_ms: 5: expected a whole number from 20 to 10000"));
  CHECK(has(display_error("  - {id: a, transport: serial, port: /dev/x, protocol: sma}\n"
                          "  - {id: a, transport: serial, port: /dev/y, protocol: sma}\n"),
            "displays[1].id: duplicate id 'a'"));
  CHECK(
      has(display_error("  - {id: a, transport: serial, port: /dev/x, protocol: sma, speed: 9}\n"),
          "displays[0].speed: unknown key"));
  CHECK(has(display_error("  {id: a}\n"), "displays: expected a list"));
}

TEST_CASE("camera config: cameras and the ANPR intake load; mistakes name the key") {
  TempDir dir;
  std::ofstream(dir / "cam.pass") << "secret\n";
  const auto pass = (dir / "cam.pass").string();
  std::ofstream(dir / "c.yaml") << "scales:\n  - {id: main, source: 'tcp:127.0.0.1:4001', "
                                   "protocol: mt-continuous}\n"
                                   "cameras:\n"
                                   "  - {id: entry-cam, url: 'http://192.168.1.64/ISAPI/Streaming/"
                                   "channels/101/picture', username: admin, password_file: '" +
                                       pass +
                                       "', auth: digest, deadline_ms: 800, scales: [main], "
                                       "on_axles: true}\n"
                                       "  - {id: rear, type: rtsp, url: 'rtsp://10.0.0.2/s'}\n"
                                       "anpr:\n  listen: '0.0.0.0:8421'\n  cameras:\n"
                                       "    - {id: gate, source_ip: 192.168.1.70, scale: main}\n";
  const auto cfg = load_config_file(dir / "c.yaml");
  REQUIRE(cfg.cameras.cameras.size() == 2);
  const auto& c = cfg.cameras.cameras[0];
  CHECK(c.auth == "digest");
  CHECK(c.deadline == std::chrono::milliseconds(800));
  CHECK(c.on_axles);
  CHECK(c.scales == std::vector<std::string>{"main"});
  CHECK(cfg.cameras.cameras[1].deadline == std::chrono::milliseconds(1500));  // the default
  CHECK(cfg.cameras.cameras[1].auth == "auto");
  CHECK(cfg.cameras.anpr.cameras.at(0).source_ip == "192.168.1.70");
  CHECK(weighlink::agent::AgentConfig{}.cameras.cameras.empty());

  const auto cam = [](const std::string& item) { return "cameras:\n  - " + item + "\n"; };
  CHECK(error_of(dir, cam("{id: 'a b', url: 'http://h/p'}")).find("cameras[0].id") !=
        std::string::npos);
  CHECK(error_of(dir, cam("{id: a, url: 'https://h/p'}")).find("plain HTTP") != std::string::npos);
  CHECK(error_of(dir, cam("{id: a, url: 'http://u:p@h/p'}")).find("password_file") !=
        std::string::npos);
  CHECK(error_of(dir, cam("{id: a, type: rtsp, url: 'http://h/p'}")).find("rtsp://") !=
        std::string::npos);
  CHECK(error_of(dir, cam("{id: a, url: 'http://h/p', auth: ntlm}")).find("cameras[0].auth") !=
        std::string::npos);
  CHECK(error_of(dir, cam("{id: a, url: 'http://h/p', deadline_ms: 5}")).find("deadline_ms") !=
        std::string::npos);
  CHECK(error_of(dir, cam("{id: a, url: 'http://h/p', password_file: /nonexistent/p, "
                          "username: u}"))
            .find("cameras[0].password_file") != std::string::npos);
  CHECK(error_of(dir, cam("{id: a, url: 'http://h/p', lens: wide}")).find("cameras[0].lens") !=
        std::string::npos);
  CHECK(error_of(dir, "cameras:\n  - {id: a, url: 'http://h/p'}\n  - {id: a, url: 'http://h/q'}\n")
            .find("duplicate id") != std::string::npos);
  CHECK(error_of(dir,
                 "scales:\n  - {id: main, source: 'tcp:127.0.0.1:4001', protocol: "
                 "mt-continuous}\n" +
                     cam("{id: a, url: 'http://h/p', scales: [side]}"))
            .find("cameras[0].scales[0]") != std::string::npos);
  CHECK(error_of(dir, "anpr: {listen: 'nowhere'}\n").find("anpr.listen") != std::string::npos);
  CHECK(error_of(dir, "anpr: {listen: '0.0.0.0:8421'}\n").find("anpr.cameras") !=
        std::string::npos);
}

TEST_CASE("config: printers load, each bad one named by its key") {
  TempDir dir;
  const std::string scales =
      "scales:\n  - {id: deck, source: 'sim:static', protocol: mt-continuous}\n";
  CHECK(
      error_of(dir, scales +
                        "printers:\n  - id: tp\n    type: escpos\n    transport: tcp\n    address: "
                        "127.0.0.1\n    auto_print: true\n    scales: [deck]\n    paper: 58mm\n")
          .empty());
  const auto cfg = weighlink::agent::load_config_file(dir / "c.yaml");
  REQUIRE(cfg.printers.printers.size() == 1);
  CHECK(cfg.printers.printers[0].address == "127.0.0.1:9100");
  CHECK(cfg.printers.printers[0].auto_print);
  CHECK(cfg.printers.printers[0].paper == "58mm");
  CHECK(error_of(dir, scales + "printers:\n  - id: tp\n    type: escpos\n    transport: serial\n")
            .find("printers[0].port: missing") != std::string::npos);
  CHECK(error_of(dir, scales + "printers:\n  - id: tp\n    type: escpos\n    transport: parallel\n")
            .find("printers[0].transport: 'parallel'") != std::string::npos);
  CHECK(
      error_of(dir, scales + "printers:\n  - id: tp\n    type: laser\n").find("printers[0].type") !=
      std::string::npos);
  CHECK(
      error_of(dir, scales + "printers:\n  - id: tp\n    type: cups\n").find("printers[0].queue") !=
      std::string::npos);
  CHECK(
      error_of(dir,
               scales + "printers:\n  - id: tp\n    type: cups\n    queue: q\n    scales: [yard]\n")
          .find("printers[0].scales[0]: no scale with id 'yard'") != std::string::npos);
  CHECK(error_of(dir,
                 scales + "printers:\n  - id: tp\n    type: cups\n    queue: q\n    colour: red\n")
            .find("colour") != std::string::npos);
  CHECK(error_of(dir, scales + "printers:\n  - id: 'a b'\n    type: cups\n    queue: q\n")
            .find("printers[0].id") != std::string::npos);
  CHECK(error_of(dir,
                 scales +
                     "printers:\n  - {id: a, type: cups, queue: q}\n  - {id: a, type: cups, queue: "
                     "r}\n")
            .find("printers[1].id: duplicate") != std::string::npos);
  CHECK(error_of(dir, scales + "printers:\n  - {id: a, type: cups, queue: q, copies: 9}\n")
            .find("printers[0].copies") != std::string::npos);
}

TEST_CASE(
    "config: a device id is one device's, across cameras, printers, io modules and displays") {
  TempDir dir;
  const std::string base =
      "scales:\n  - {id: deck, source: 'sim:static', protocol: mt-continuous}\n"
      "printers:\n  - {id: gate, type: escpos, transport: tcp, address: 127.0.0.1}\n";
  CHECK(error_of(dir, base + "displays:\n  - {id: board, transport: tcp, address: "
                             "'127.0.0.1:4001', protocol: sma}\n")
            .empty());
  const auto error = error_of(dir, base +
                                       "displays:\n  - {id: gate, transport: tcp, address: "
                                       "'127.0.0.1:4001', protocol: sma}\n");
  INFO(error);
  CHECK(error.find("displays[0].id: id 'gate' is already printers[0].id") != std::string::npos);
}
