#include "weighlink/scale/source.hpp"

#include <charconv>
#include <string>

namespace weighlink::scale {
namespace {

bool set_error(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

std::optional<long> to_number(std::string_view s) {
  long v = 0;
  const auto* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
  return v;
}

std::optional<std::uint16_t> to_port(std::string_view s) {
  const auto v = to_number(s);
  if (!v || *v < 1 || *v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(*v);
}

bool apply_serial_option(std::string_view key, std::string_view value, SerialSettings& s,
                         std::string* error) {
  auto bad = [&](std::string_view expected) {
    return set_error(error, "serial option '" + std::string(key) + "=" + std::string(value) +
                                "' is invalid: expected " + std::string(expected));
  };
  if (key == "baud") {
    const auto v = to_number(value);
    if (!v || *v < 50 || *v > 4'000'000) return bad("a baud rate such as 9600");
    s.baud = static_cast<int>(*v);
  } else if (key == "parity") {
    if (value == "none") {
      s.parity = Parity::none;
    } else if (value == "odd") {
      s.parity = Parity::odd;
    } else if (value == "even") {
      s.parity = Parity::even;
    } else if (value == "mark") {
      s.parity = Parity::mark;
    } else if (value == "space") {
      s.parity = Parity::space;
    } else {
      return bad("none, odd, even, mark or space");
    }
  } else if (key == "bits") {
    const auto v = to_number(value);
    if (!v || *v < 5 || *v > 8) return bad("5, 6, 7 or 8");
    s.data_bits = static_cast<int>(*v);
  } else if (key == "stop") {
    const auto v = to_number(value);
    if (!v || (*v != 1 && *v != 2)) return bad("1 or 2");
    s.stop_bits = static_cast<int>(*v);
  } else if (key == "flow") {
    if (value == "none") {
      s.flow = FlowControl::none;
    } else if (value == "xonxoff") {
      s.flow = FlowControl::xonxoff;
    } else if (value == "rtscts") {
      s.flow = FlowControl::rtscts;
    } else {
      return bad("none, xonxoff or rtscts");
    }
  } else {
    return set_error(error, "unknown serial option '" + std::string(key) +
                                "': expected baud, parity, bits, stop or flow");
  }
  return true;
}

std::optional<SourceSpec> parse_serial(std::string_view rest, std::string* error) {
  SerialSource source;
  const auto query_at = rest.find('?');
  source.device = std::string(rest.substr(0, query_at));
  if (source.device.empty()) {
    set_error(error, "serial source has no device: expected serial:DEV, e.g. serial:/dev/ttyUSB0");
    return std::nullopt;
  }
  if (query_at == std::string_view::npos) return source;
  std::string_view query = rest.substr(query_at + 1);
  std::string seen = "&";
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      set_error(error, "serial option '" + std::string(pair) + "' is not KEY=VALUE");
      return std::nullopt;
    }
    const std::string_view key = pair.substr(0, eq);
    if (seen.find("&" + std::string(key) + "&") != std::string::npos) {
      set_error(error, "serial option '" + std::string(key) + "' is given twice");
      return std::nullopt;
    }
    seen += std::string(key) + "&";
    if (!apply_serial_option(key, pair.substr(eq + 1), source.settings, error)) {
      return std::nullopt;
    }
  }
  return source;
}

std::optional<SourceSpec> parse_tcp(std::string_view rest, std::string* error) {
  TcpSource source;
  std::string_view host;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:PORT
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      set_error(error,
                "tcp source '" + std::string(rest) + "' is invalid: expected tcp:[IPV6]:PORT");
      return std::nullopt;
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      set_error(error,
                "tcp source '" + std::string(rest) + "' has no port: expected tcp:HOST:PORT");
      return std::nullopt;
    }
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) {
    set_error(error, "tcp source has no host: expected tcp:HOST:PORT, e.g. tcp:10.0.0.7:4196");
    return std::nullopt;
  }
  const auto p = to_port(port);
  if (!p) {
    set_error(error, "tcp port '" + std::string(port) + "' is invalid: expected 1..65535");
    return std::nullopt;
  }
  source.host = std::string(host);
  source.port = *p;
  return source;
}

}  // namespace

std::optional<SourceSpec> parse_source(std::string_view text, std::string* error) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    set_error(error, "scale source '" + std::string(text) +
                         "' has no type: expected serial:DEV, tcp:HOST:PORT, udp:PORT or "
                         "sim:PROFILE");
    return std::nullopt;
  }
  const std::string_view scheme = text.substr(0, colon);
  const std::string_view rest = text.substr(colon + 1);
  if (scheme == "serial") return parse_serial(rest, error);
  if (scheme == "tcp") return parse_tcp(rest, error);
  if (scheme == "udp") {
    const auto p = to_port(rest);
    if (!p) {
      set_error(error,
                "udp port '" + std::string(rest) + "' is invalid: expected udp:PORT, 1..65535");
      return std::nullopt;
    }
    return UdpSource{*p};
  }
  if (scheme == "sim") {
    if (rest.empty()) {
      set_error(error, "sim source has no profile: expected sim:static or sim:truck");
      return std::nullopt;
    }
    for (const char c : rest) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
      if (!ok) {
        set_error(error, "sim profile '" + std::string(rest) +
                             "' is invalid: expected a name such as static or truck");
        return std::nullopt;
      }
    }
    return SimSource{std::string(rest)};
  }
  set_error(error, "unknown scale source type '" + std::string(scheme) +
                       "': expected serial, tcp, udp or sim");
  return std::nullopt;
}

}  // namespace weighlink::scale
