#include "weighlink/scale/source.hpp"

#include <doctest/doctest.h>

using namespace weighlink::scale;

TEST_CASE("source: serial with defaults and with every option") {
  std::string error;
  auto s = parse_source("serial:/dev/ttyUSB0", &error);
  REQUIRE(s);
  const auto& plain = std::get<SerialSource>(*s);
  CHECK(plain.device == "/dev/ttyUSB0");
  CHECK(plain.settings == SerialSettings{});
  CHECK(plain.settings.baud == 9600);
  CHECK(plain.settings.data_bits == 8);
  CHECK(plain.settings.parity == Parity::none);
  CHECK(plain.settings.stop_bits == 1);

  s = parse_source("serial:/dev/ttyS1?baud=4800&parity=even&bits=7&stop=2&flow=rtscts", &error);
  REQUIRE(s);
  const auto& full = std::get<SerialSource>(*s);
  CHECK(full.device == "/dev/ttyS1");
  CHECK(full.settings == SerialSettings{4800, Parity::even, 7, 2, FlowControl::rtscts});

  s = parse_source("serial:COM3?parity=mark&flow=xonxoff", &error);
  REQUIRE(s);
  CHECK(std::get<SerialSource>(*s).device == "COM3");
  CHECK(std::get<SerialSource>(*s).settings.parity == Parity::mark);
  CHECK(std::get<SerialSource>(*s).settings.flow == FlowControl::xonxoff);
  CHECK(
      std::get<SerialSource>(*parse_source("serial:/dev/x?parity=odd", nullptr)).settings.parity ==
      Parity::odd);
  CHECK(std::get<SerialSource>(*parse_source("serial:/dev/x?parity=space", nullptr))
            .settings.parity == Parity::space);
}

TEST_CASE("source: tcp, udp and sim") {
  auto s = parse_source("tcp:10.0.0.7:4196", nullptr);
  REQUIRE(s);
  CHECK(std::get<TcpSource>(*s).host == "10.0.0.7");
  CHECK(std::get<TcpSource>(*s).port == 4196);
  s = parse_source("tcp:[::1]:4001", nullptr);
  REQUIRE(s);
  CHECK(std::get<TcpSource>(*s).host == "::1");
  CHECK(std::get<TcpSource>(*s).port == 4001);
  s = parse_source("udp:5000", nullptr);
  REQUIRE(s);
  CHECK(std::get<UdpSource>(*s).port == 5000);
  s = parse_source("sim:truck", nullptr);
  REQUIRE(s);
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
    INFO(c.text);
    std::string error;
    CHECK_FALSE(parse_source(c.text, &error).has_value());
    CHECK(error.find(c.names) != std::string::npos);
    CHECK_FALSE(parse_source(c.text, nullptr).has_value());
  }
}
