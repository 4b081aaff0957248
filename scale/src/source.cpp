#include "weighlink/scale/source.hpp"

#include <charconv>
#include <cstdio>
#include <string>

#include "weighlink/base/host_port.hpp"
#include "weighlink/scale/decimal.hpp"

namespace weighlink::scale {
namespace {

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

std::optional<std::uint16_t> to_usb_id(std::string_view s) {
  std::uint16_t v = 0;
  const auto* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, v, 16);
  if (s.empty() || s.size() > 4 || ec != std::errc{} || ptr != end) return std::nullopt;
  return v;
}

base::Expected<void> apply_serial_option(std::string_view key, std::string_view value,
                                         SerialSource& source) {
  SerialSettings& s = source.settings;
  auto bad = [&](std::string_view expected) {
    return base::invalid_argument("serial option '" + std::string(key) + "=" + std::string(value) +
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
  } else if (key == "vid" || key == "pid") {
    const auto v = to_usb_id(value);
    if (!v) return bad("a 4-digit hexadecimal USB id such as 0403");
    if (!source.usb) source.usb = UsbMatch{};
    (key == "vid" ? source.usb->vid : source.usb->pid) = *v;
  } else if (key == "serial") {
    if (value.empty()) return bad("the adapter's USB serial number");
    if (!source.usb) source.usb = UsbMatch{};
    source.usb->serial = std::string(value);
  } else {
    return base::invalid_argument("unknown serial option '" + std::string(key) +
                                  "': expected baud, parity, bits, stop, flow, vid, pid or serial");
  }
  return {};
}

// One KEY[=VALUE] of a source's options (`?baud=9600&parity=none`), taken off the front of
// `query`; empty ones are skipped. nullopt when none is left.
struct QueryPair {
  std::string_view pair;  // as written
  std::string_view key;
  std::string_view value;
  bool has_value = false;  // there was an '='
};
std::optional<QueryPair> next_pair(std::string_view& query) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const bool has_value = eq != std::string_view::npos;
    return QueryPair{pair, pair.substr(0, eq), has_value ? pair.substr(eq + 1) : std::string_view{},
                     has_value};
  }
  return std::nullopt;
}

base::Expected<SourceSpec> parse_serial(std::string_view rest) {
  SerialSource source;
  const auto query_at = rest.find('?');
  source.device = std::string(rest.substr(0, query_at));
  if (source.device.empty()) {
    return base::invalid_argument(
        "serial source has no device: expected serial:DEV, e.g. serial:/dev/ttyUSB0");
  }
  std::string_view query =
      query_at == std::string_view::npos ? std::string_view{} : rest.substr(query_at + 1);
  std::string seen = "&";
  while (const auto option = next_pair(query)) {
    const std::string_view pair = option->pair;
    if (!option->has_value || option->key.empty()) {
      return base::invalid_argument("serial option '" + std::string(pair) + "' is not KEY=VALUE");
    }
    const std::string_view key = option->key;
    if (seen.find("&" + std::string(key) + "&") != std::string::npos) {
      return base::invalid_argument("serial option '" + std::string(key) + "' is given twice");
    }
    seen += std::string(key) + "&";
    if (auto applied = apply_serial_option(key, option->value, source); !applied) {
      return applied.error();
    }
  }
  if (source.usb && source.device != "usb") {
    return base::invalid_argument(
        "serial device '" + source.device +
        "' with vid/pid/serial: a USB-pinned port is found by identity, so write "
        "serial:usb?vid=...&pid=...[&serial=...]");
  }
  if (!source.usb && source.device == "usb") {
    return base::invalid_argument(
        "serial:usb needs vid, pid or serial, e.g. serial:usb?vid=0403&pid=6001");
  }
  return source;
}

// "HOST:PORT" or "[IPV6]:PORT" (base::parse_host_port); `scheme` names the source in errors.
base::Expected<base::HostPort> parse_host_port(std::string_view scheme, std::string_view rest) {
  auto parsed = base::parse_host_port(rest);
  if (!parsed) {
    return base::Error{parsed.error().code, std::string(scheme) + " " + parsed.error().message};
  }
  return std::move(*parsed);
}

base::Expected<SourceSpec> parse_tcp(std::string_view rest) {
  auto hp = parse_host_port("tcp", rest);
  if (!hp) return hp.error();
  return TcpSource{std::move(hp->host), hp->port};
}

// An IP address literal (the sender filter compares addresses, so no names): dotted IPv4, or
// IPv6 hex groups with colons.
bool is_ip_literal(std::string_view s) {
  if (s.empty() || s.size() > 45) return false;
  if (s.find(':') != std::string_view::npos) {
    return s.find_first_not_of("0123456789abcdefABCDEF:.") == std::string_view::npos;
  }
  int parts = 0;
  std::size_t start = 0;
  while (true) {
    const auto dot = s.find('.', start);
    const auto part = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    const auto v = to_number(part);
    if (!v || *v < 0 || *v > 255 || part.size() > 3) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

// udp:[BIND_HOST:]PORT[?from=SENDER_IP]
base::Expected<SourceSpec> parse_udp(std::string_view rest) {
  const auto query_at = rest.find('?');
  std::string_view query =
      query_at == std::string_view::npos ? std::string_view{} : rest.substr(query_at + 1);
  rest = rest.substr(0, query_at);
  UdpSource source;
  if (rest.find(':') == std::string_view::npos) {  // udp:PORT binds loopback
    const auto p = to_port(rest);
    if (!p) {
      return base::invalid_argument(
          "udp port '" + std::string(rest) +
          "' is invalid: expected udp:PORT or udp:BIND_HOST:PORT, port 1..65535");
    }
    source.port = *p;
  } else {
    auto hp = parse_host_port("udp", rest);
    if (!hp) return hp.error();
    source.host = std::move(hp->host);
    source.port = hp->port;
  }
  while (const auto option = next_pair(query)) {
    const auto [pair, key, value, has_value] = *option;
    if (key != "from") {
      return base::invalid_argument(
          "unknown udp option '" + std::string(key) +
          "': expected from=SENDER_IP, e.g. udp:0.0.0.0:5000?from=10.0.0.7");
    }
    if (!is_ip_literal(value)) {
      return base::invalid_argument(
          "udp option '" + std::string(pair) +
          "' is invalid: expected from=SENDER_IP, the indicator's IP address");
    }
    source.from = std::string(value);
  }
  if (source.from.empty() && !base::is_loopback_host(source.host)) {
    return base::invalid_argument(
        "udp source on " + source.host + ":" + std::to_string(source.port) +
        " takes datagrams from the network: add ?from=SENDER_IP (the "
        "indicator's address), e.g. udp:" +
        source.host + ":" + std::to_string(source.port) + "?from=10.0.0.7");
  }
  return source;
}

base::Expected<SourceSpec> parse_sim(std::string_view rest) {
  const auto query_at = rest.find('?');
  const std::string_view profile = rest.substr(0, query_at);
  if (profile.empty()) {
    return base::invalid_argument("sim source has no profile: expected sim:static or sim:truck");
  }
  for (const char c : profile) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) {
      return base::invalid_argument("sim profile '" + std::string(profile) +
                                    "' is invalid: expected a name such as static or truck");
    }
  }
  SimSource source;
  source.profile = std::string(profile);
  std::string_view query =
      query_at == std::string_view::npos ? std::string_view{} : rest.substr(query_at + 1);
  while (const auto option = next_pair(query)) {
    const auto [pair, key, value, has_value] = *option;
    const auto v = to_number(value);
    if (key == "rate") {
      if (!v || *v < 1 || *v > 1000) {
        return base::invalid_argument("sim option '" + std::string(pair) +
                                      "' is invalid: expected rate=1..1000 (Hz)");
      }
      source.rate_hz = static_cast<double>(*v);
    } else if (key == "seed") {
      if (!v || *v < 0) {
        return base::invalid_argument("sim option '" + std::string(pair) +
                                      "' is invalid: expected seed=N, N >= 0");
      }
      source.seed = static_cast<std::uint64_t>(*v);
    } else if (key == "weight") {
      const auto w = Decimal::parse(value);
      if (!w || w->units < 0) {
        return base::invalid_argument(
            "sim option '" + std::string(pair) +
            "' is invalid: expected weight=W, a displayed weight such as 32540");
      }
      source.weight = std::string(value);
    } else if (key == "decks") {
      if (!v || *v < 2 || *v > 16) {
        return base::invalid_argument("sim option '" + std::string(pair) +
                                      "' is invalid: expected decks=2..16");
      }
      source.decks = static_cast<int>(*v);
    } else if (key == "cumulative") {
      if (!v || (*v != 0 && *v != 1)) {
        return base::invalid_argument("sim option '" + std::string(pair) +
                                      "' is invalid: expected cumulative=0 or 1");
      }
      source.cumulative = *v == 1;
    } else {
      return base::invalid_argument("unknown sim option '" + std::string(key) +
                                    "': expected rate, seed, weight, decks or cumulative");
    }
  }
  return source;
}

}  // namespace

bool parse_serial_format(std::string_view format, SerialSettings& settings) {
  if (format.size() != 3) return false;
  const char bits = format[0];
  const char stop = format[2];
  // The letters in the order of Parity's values, upper and lower case.
  constexpr std::string_view kParity = "NOEMSnoems";
  const auto parity = kParity.find(format[1]);
  if (bits < '5' || bits > '8' || (stop != '1' && stop != '2') ||
      parity == std::string_view::npos) {
    return false;
  }
  settings.data_bits = bits - '0';
  settings.stop_bits = stop - '0';
  settings.parity = static_cast<Parity>(parity % 5);
  return true;
}

base::Expected<SourceSpec> parse_source(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    return base::invalid_argument(
        "scale source '" + std::string(text) +
        "' has no type: expected serial:DEV, tcp:HOST:PORT, udp:[HOST:]PORT or "
        "sim:PROFILE");
  }
  const std::string_view scheme = text.substr(0, colon);
  const std::string_view rest = text.substr(colon + 1);
  if (scheme == "serial") return parse_serial(rest);
  if (scheme == "tcp") return parse_tcp(rest);
  if (scheme == "udp") return parse_udp(rest);
  if (scheme == "sim") return parse_sim(rest);
  return base::invalid_argument("unknown scale source type '" + std::string(scheme) +
                                "': expected serial, tcp, udp or sim");
}

namespace {

std::string hex4(std::uint16_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04x", static_cast<unsigned>(v));
  return buf;
}

std::string describe_port(const SerialPortInfo& p) {
  std::string out = p.name;
  if (p.vid && p.pid) {
    out += " (vid=" + hex4(*p.vid) + " pid=" + hex4(*p.pid);
    if (!p.serial.empty()) out += " serial=" + p.serial;
    out += ")";
  } else {
    out += " (not USB)";
  }
  return out;
}

}  // namespace

std::string describe(const UsbMatch& match) {
  std::string out;
  auto add = [&](const std::string& part) { out += (out.empty() ? "" : " ") + part; };
  if (match.vid) add("vid=" + hex4(*match.vid));
  if (match.pid) add("pid=" + hex4(*match.pid));
  if (match.serial) add("serial=" + *match.serial);
  return out.empty() ? "any USB port" : out;
}

base::Expected<std::string> match_usb_port(std::span<const SerialPortInfo> ports,
                                           const UsbMatch& match) {
  std::vector<const SerialPortInfo*> found;
  for (const auto& p : ports) {
    if (!p.vid || !p.pid) continue;  // not a USB port: it cannot be pinned by USB identity
    if (match.vid && *match.vid != *p.vid) continue;
    if (match.pid && *match.pid != *p.pid) continue;
    if (match.serial && *match.serial != p.serial) continue;
    found.push_back(&p);
  }
  if (found.size() == 1) return found.front()->name;
  std::string seen;
  for (const auto& p : ports) seen += (seen.empty() ? "" : ", ") + describe_port(p);
  if (seen.empty()) seen = "none";
  if (found.empty()) {
    return base::Error{std::make_error_code(std::errc::no_such_device),
                       "no serial port matches USB " + describe(match) +
                           "; is the adapter plugged in? ports seen: " + seen};
  }
  return base::invalid_argument(std::to_string(found.size()) + " serial ports match USB " +
                                describe(match) +
                                "; add serial=... to pick one; ports seen: " + seen);
}

}  // namespace weighlink::scale
