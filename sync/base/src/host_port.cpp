#include "weighlink/base/host_port.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace weighlink::base {
namespace {

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

}  // namespace

Expected<HostPort> parse_host_port(std::string_view text, PortZero zero) {
  const std::string example =
      zero == PortZero::allowed ? "127.0.0.1:8420, port 0 for any free one" : "127.0.0.1:8420";
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return invalid_argument(quoted(text) + " has no closing ']': expected [IPV6]:PORT, e.g. " +
                              "[::1]:8420");
    }
    host = text.substr(1, close - 1);
    if (host.find(':') == std::string_view::npos) {
      return invalid_argument(quoted(text) +
                              ": only an IPv6 address goes in brackets, e.g. [::1]:8420");
    }
    if (close + 1 == text.size() || text[close + 1] != ':') {
      return invalid_argument(quoted(text) + " has no port: expected [IPV6]:PORT, e.g. [::1]:8420");
    }
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return invalid_argument(quoted(text) + " has no port: expected HOST:PORT, e.g. " + example);
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return invalid_argument(quoted(text) +
                              ": an IPv6 address needs brackets, e.g. [::1]:8420 or [::]:8420");
    }
  }
  if (host.empty()) {
    return invalid_argument(quoted(text) + " has no host: expected HOST:PORT, e.g. " + example);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  const unsigned lowest = zero == PortZero::allowed ? 0 : 1;
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value > 65535 ||
      value < lowest) {
    return invalid_argument("port " + quoted(port) + " of " + quoted(text) + " is not a number " +
                            std::to_string(lowest) + "..65535");
  }
  return HostPort{std::string(host), static_cast<std::uint16_t>(value)};
}

std::string format_host_port(std::string_view host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

bool is_loopback_host(std::string_view host) {
  std::string h(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  std::transform(h.begin(), h.end(), h.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (h == "localhost" || h == "::1" || h == "0:0:0:0:0:0:0:1") return true;
  if (h.rfind("::ffff:", 0) == 0) h = h.substr(7);
  // 127.0.0.0/8, written as four decimal parts (bind() takes IP literals only).
  if (h.rfind("127.", 0) != 0) return false;
  int parts = 2;  // "127" was the first, the second starts here
  int digits = 0;
  for (std::size_t i = 4; i < h.size(); ++i) {
    if (h[i] == '.') {
      if (digits == 0) return false;
      ++parts;
      digits = 0;
    } else if (h[i] >= '0' && h[i] <= '9') {
      if (++digits > 3) return false;
    } else {
      return false;
    }
  }
  return parts == 4 && digits > 0;
}

std::string loopback_literal(std::string_view host) {
  std::string lower(host);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "localhost" ? "127.0.0.1" : std::string(host);
}

}  // namespace weighlink::base
