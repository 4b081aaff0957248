#include "weighlink/scale/source.hpp"

#include <doctest/doctest.h>

#include <system_error>

using namespace weighlink::scale;

TEST_CASE("source: serial with defaults and with every option") {
  auto s = parse_source("serial:/dev/ttyUSB0");
  REQUIRE(s.has_value());
  const auto& plain = std::get<SerialSource>(*s);
  CHECK(plain.device == "/dev/ttyUSB0");
  CHECK(plain.settings == SerialSettings{});
  CHECK(plain.settings.baud == 9600);
  CHECK(plain.settings.data_bits == 8);
  CHECK(plain.settings.parity == Parity::none);
  CHECK(plain.settings.stop_bits == 1);

  s = parse_source("serial:/dev/ttyS1?baud=4800&parity=even&bits=7&stop=2&flow=rtscts");
  REQUIRE(s.has_value());
  const auto& full = std::get<SerialSource>(*s);
  CHECK(full.device == "/dev/ttyS1");
  CHECK(full.settings == SerialSettings{4800, Parity::even, 7, 2, FlowControl::rtscts});

  s = parse_source("serial:COM3?parity=mark&flow=xonxoff");
  REQUIRE(s.has_value());
  CHECK(std::get<SerialSource>(*s).device == "COM3");
  CHECK(std::get<SerialSource>(*s).settings.parity == Parity::mark);
  CHECK(std::get<SerialSource>(*s).settings.flow == FlowControl::xonxoff);
  CHECK(std::get<SerialSource>(*parse_source("serial:/dev/x?parity=odd")).settings.parity ==
        Parity::odd);
  CHECK(std::get<SerialSource>(*parse_source("serial:/dev/x?parity=space")).settings.parity ==
        Parity::space);
}

TEST_CASE("source: tcp, udp and sim") {
  auto s = parse_source("tcp:10.0.0.7:4196");
  REQUIRE(s.has_value());
  CHECK(std::get<TcpSource>(*s).host == "10.0.0.7");
  CHECK(std::get<TcpSource>(*s).port == 4196);
  s = parse_source("tcp:[::1]:4001");
  REQUIRE(s.has_value());
  CHECK(std::get<TcpSource>(*s).host == "::1");
  CHECK(std::get<TcpSource>(*s).port == 4001);
  s = parse_source("udp:5000");
  REQUIRE(s.has_value());
  CHECK(std::get<UdpSource>(*s).port == 5000);
  s = parse_source("sim:truck");
  REQUIRE(s.has_value());
  CHECK(std::get<SimSource>(*s).profile == "truck");
}

TEST_CASE("source: bad input is refused with an error naming the bad part") {
  struct Case {
    const char* text;
    const char* names;
  };
  for (const auto& c : {
           Case{"", "no type"},
           Case{"/dev/ttyUSB0", "/dev/ttyUSB0"},
           Case{"usb:/dev/x", "'usb'"},
           Case{"serial:", "no device"},
           Case{"serial:?baud=9600", "no device"},
           Case{"serial:/dev/x?baud=fast", "baud=fast"},
           Case{"serial:/dev/x?baud=0", "baud=0"},
           Case{"serial:/dev/x?parity=sometimes", "parity=sometimes"},
           Case{"serial:/dev/x?bits=9", "bits=9"},
           Case{"serial:/dev/x?stop=3", "stop=3"},
           Case{"serial:/dev/x?flow=dtr", "flow=dtr"},
           Case{"serial:/dev/x?speed=9600", "'speed'"},
           Case{"serial:/dev/x?baud", "'baud'"},
           Case{"serial:/dev/x?baud=9600&baud=4800", "twice"},
           Case{"tcp:host", "no port"},
           Case{"tcp::4196", "no host"},
           Case{"tcp:host:0", "'0'"},
           Case{"tcp:host:70000", "'70000'"},
           Case{"tcp:host:http", "'http'"},
           Case{"tcp:[::1]4001", "[::1]4001"},
           Case{"udp:", "udp port"},
           Case{"udp:-1", "'-1'"},
           Case{"sim:", "no profile"},
           Case{"sim:Truck Big", "'Truck Big'"},
       }) {
    INFO(std::string(c.text));
    const auto parsed = parse_source(c.text);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().message.find(c.names) != std::string::npos);
    CHECK_FALSE(parse_source(c.text).has_value());
  }
}

TEST_CASE("source: udp binds loopback by default, or the address given with its sender") {
  auto s = parse_source("udp:5000");
  REQUIRE(s.has_value());
  CHECK(std::get<UdpSource>(*s).host == "127.0.0.1");
  CHECK(std::get<UdpSource>(*s).port == 5000);
  CHECK(std::get<UdpSource>(*s).from.empty());
  s = parse_source("udp:127.0.0.1:13805");
  REQUIRE(s.has_value());
  CHECK(std::get<UdpSource>(*s).host == "127.0.0.1");
  CHECK(std::get<UdpSource>(*s).port == 13805);
  s = parse_source("udp:[::]:5000?from=fd00::7");
  REQUIRE(s.has_value());
  CHECK(std::get<UdpSource>(*s).host == "::");
  CHECK(std::get<UdpSource>(*s).from == "fd00::7");
  s = parse_source("udp:0.0.0.0:5000?from=10.0.0.7");
  REQUIRE(s.has_value());
  CHECK(std::get<UdpSource>(*s).host == "0.0.0.0");
  CHECK(std::get<UdpSource>(*s).from == "10.0.0.7");
  s = parse_source("udp:127.0.0.1:5000?from=127.0.0.1");
  REQUIRE(s.has_value());
  CHECK(std::get<UdpSource>(*s).from == "127.0.0.1");
}

TEST_CASE("source: a udp source beyond loopback needs its sender; bad senders are refused") {
  struct Case {
    const char* text;
    const char* names;
  };
  for (const auto& c : {
           Case{"udp:0.0.0.0:5000", "add ?from=SENDER_IP"},
           Case{"udp:[::]:5000", "add ?from=SENDER_IP"},
           Case{"udp:10.0.0.2:5000", "add ?from=SENDER_IP"},
           Case{"udp:5000?from=indicator.local", "'from=indicator.local'"},
           Case{"udp:5000?from=10.0.0.256", "'from=10.0.0.256'"},
           Case{"udp:5000?from=", "'from='"},
           Case{"udp:5000?to=10.0.0.1", "unknown udp option 'to'"},
       }) {
    CAPTURE(c.text);
    const auto parsed = parse_source(c.text);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().message.find(c.names) != std::string::npos);
  }
}

TEST_CASE("source: a USB-serial adapter pinned by vid, pid and serial number") {
  auto s = parse_source("serial:usb?vid=0403&pid=6001&serial=A50285BI&baud=4800");
  REQUIRE(s.has_value());
  const auto& usb = std::get<SerialSource>(*s);
  CHECK(usb.device == "usb");
  REQUIRE(usb.usb.has_value());
  CHECK(usb.usb->vid == 0x0403);
  CHECK(usb.usb->pid == 0x6001);
  CHECK(usb.usb->serial == "A50285BI");
  CHECK(usb.settings.baud == 4800);
  s = parse_source("serial:usb?vid=1A86");
  REQUIRE(s.has_value());
  CHECK(std::get<SerialSource>(*s).usb->vid == 0x1a86);
  CHECK_FALSE(std::get<SerialSource>(*s).usb->pid.has_value());
  CHECK_FALSE(std::get<SerialSource>(*parse_source("serial:/dev/ttyUSB0")).usb);
}

TEST_CASE("source: sim with rate and seed") {
  auto s = parse_source("sim:truck?rate=50&seed=7");
  REQUIRE(s.has_value());
  CHECK(std::get<SimSource>(*s).profile == "truck");
  CHECK(std::get<SimSource>(*s).rate_hz == 50.0);
  CHECK(std::get<SimSource>(*s).seed == 7);
  s = parse_source("sim:static");
  REQUIRE(s.has_value());
  CHECK(std::get<SimSource>(*s).rate_hz == 10.0);
  CHECK_FALSE(std::get<SimSource>(*s).weight.has_value());
  s = parse_source("sim:axles?decks=3&cumulative=1&weight=1250.5");
  REQUIRE(s.has_value());
  CHECK(std::get<SimSource>(*s).decks == 3);
  CHECK(std::get<SimSource>(*s).cumulative);
  CHECK(std::get<SimSource>(*s).weight == "1250.5");
}

TEST_CASE("source: bad new forms are refused with an error naming the bad part") {
  struct Case {
    const char* text;
    const char* names;
  };
  for (const auto& c : {
           Case{"serial:usb", "needs vid, pid or serial"},
           Case{"serial:/dev/ttyUSB0?vid=0403", "'/dev/ttyUSB0' with vid/pid/serial"},
           Case{"serial:usb?vid=xyz", "vid=xyz"},
           Case{"serial:usb?pid=123456", "pid=123456"},
           Case{"serial:usb?serial=", "serial="},
           Case{"udp:host:0", "'0'"},
           Case{"udp::5000", "no host"},
           Case{"udp:5000x", "'5000x'"},
           Case{"udp:[::1]5000", "[::1]5000"},
           Case{"sim:truck?rate=0", "rate=0"},
           Case{"sim:truck?rate=fast", "rate=fast"},
           Case{"sim:truck?seed=-1", "seed=-1"},
           Case{"sim:truck?speed=3", "'speed'"},
           Case{"sim:?rate=3", "no profile"},
           Case{"sim:static?weight=-5", "weight=-5"},
           Case{"sim:static?weight=lots", "weight=lots"},
           Case{"sim:truck?decks=1", "decks=1"},
           Case{"sim:truck?decks=17", "decks=17"},
           Case{"sim:axles?cumulative=yes", "cumulative=yes"},
       }) {
    INFO(std::string(c.text));
    const auto parsed = parse_source(c.text);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().message.find(c.names) != std::string::npos);
  }
}

TEST_CASE("usb: the one port with the pinned identity is chosen, by name whatever it is now") {
  const std::vector<SerialPortInfo> ports{
      {"/dev/ttyS0", std::nullopt, std::nullopt, "", "onboard"},
      {"/dev/ttyUSB0", 0x1a86, 0x7523, "", "CH340"},
      {"/dev/ttyUSB1", 0x0403, 0x6001, "A50285BI", "FT232R"},
      {"/dev/ttyUSB2", 0x0403, 0x6001, "B7781122", "FT232R"},
  };
  auto chosen = [&](const UsbMatch& match) {
    auto found = match_usb_port(ports, match);
    return found ? *found : "error: " + found.error().message;
  };
  CHECK(chosen(UsbMatch{0x1a86, 0x7523, std::nullopt}) == "/dev/ttyUSB0");
  CHECK(chosen(UsbMatch{0x0403, 0x6001, "B7781122"}) == "/dev/ttyUSB2");
  CHECK(chosen(UsbMatch{std::nullopt, std::nullopt, "A50285BI"}) == "/dev/ttyUSB1");

  // Two identical adapters: refused rather than guessed, naming what to add.
  const auto two = match_usb_port(ports, UsbMatch{0x0403, 0x6001, std::nullopt});
  REQUIRE_FALSE(two.has_value());
  CHECK(two.error().code == std::errc::invalid_argument);
  CHECK(two.error().message.find("2 serial ports match USB vid=0403 pid=6001") !=
        std::string::npos);
  CHECK(two.error().message.find("add serial=") != std::string::npos);

  // Unplugged: the error lists what is there.
  const auto none = match_usb_port(ports, UsbMatch{0x067b, 0x2303, std::nullopt});
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().code == std::errc::no_such_device);
  const std::string& error = none.error().message;
  CHECK(error.find("no serial port matches USB vid=067b pid=2303") != std::string::npos);
  CHECK(error.find("/dev/ttyUSB2 (vid=0403 pid=6001 serial=B7781122)") != std::string::npos);
  CHECK(error.find("/dev/ttyS0 (not USB)") != std::string::npos);
  const auto no_ports = match_usb_port({}, UsbMatch{0x0403, std::nullopt, std::nullopt});
  REQUIRE_FALSE(no_ports.has_value());
  CHECK(no_ports.error().message.find("ports seen: none") != std::string::npos);
}

TEST_CASE("source: a serial format such as 8N1 or 7e1 sets data bits, parity and stop bits") {
  SerialSettings s;
  s.baud = 4800;
  REQUIRE(parse_serial_format("7e2", s));
  CHECK(s.data_bits == 7);
  CHECK(s.parity == Parity::even);
  CHECK(s.stop_bits == 2);
  CHECK(s.baud == 4800);  // untouched
  REQUIRE(parse_serial_format("8O1", s));
  CHECK(s.parity == Parity::odd);
  REQUIRE(parse_serial_format("5S1", s));
  CHECK(s.parity == Parity::space);
  REQUIRE(parse_serial_format("8M1", s));
  CHECK(s.parity == Parity::mark);
  REQUIRE(parse_serial_format("8N1", s));
  CHECK(s.parity == Parity::none);
  const auto before = s;
  for (const char* bad : {"", "8N", "9N1", "4N1", "8X1", "8N3", "8N1 ", "N81"}) {
    INFO(bad);
    CHECK_FALSE(parse_serial_format(bad, s));
    CHECK(s == before);
  }
}
