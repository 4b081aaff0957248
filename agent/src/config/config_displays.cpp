// Remote displays (`displays:`, docs/configuration.md): where each one is (a serial port with its
// baud and format, or a TCP address), the protocol it understands (one of scale/'s encoders, the
// ones `weighlink-scale simulate` speaks), the scale it repeats and how often it gets a frame.
#include "config/config_displays.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <stdexcept>

#include "config/config_checks.hpp"
#include "weighlink/base/host_port.hpp"
#include "weighlink/scale/encode.hpp"
#include "weighlink/scale/parser.hpp"

namespace weighlink::agent {
namespace {

using config_checks::fail;

std::string scalar(const YAML::Node& n, const std::filesystem::path& file, const std::string& key,
                   const std::string& expected) {
  if (!n.IsScalar()) fail(file, key, "expected " + expected);
  return n.as<std::string>();
}

std::int64_t number(const YAML::Node& n, const std::filesystem::path& file, const std::string& key,
                    std::int64_t min, std::int64_t max) {
  const auto what = "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  std::int64_t v = 0;
  try {
    v = n.as<std::int64_t>();
  } catch (const YAML::Exception&) {
    fail(file, key, "expected " + what);
  }
  if (v < min || v > max) fail(file, key, std::to_string(v) + ": expected " + what);
  return v;
}

// The protocol ids a display can be driven in: those scale/ has an encoder for.
std::string encodable_protocols() {
  std::string list;
  scale::DisplayState probe;
  for (const auto& p : scale::protocols()) {
    if (scale::encode_frame(p.id, probe)) list += (list.empty() ? "" : ", ") + std::string(p.id);
  }
  return list;
}

DisplayConfig load_one(const YAML::Node& d, const std::filesystem::path& file,
                       const std::string& where, const std::vector<scale::ScaleConfig>& scales) {
  if (!d.IsMap()) fail(file, where, "expected a mapping with id, transport, protocol, scale");
  config_checks::check_keys(d,
                            {"id", "transport", "port", "baud", "format", "address", "protocol",
                             "scale", "interval_ms", "reopen_backoff_max_ms"},
                            file, where + ".");
  DisplayConfig out;
  if (!d["id"]) fail(file, where + ".id", "missing (e.g. id: yard-display)");
  out.id = scalar(d["id"], file, where + ".id", "a device id");
  config_checks::check_device_id(out.id, file, where + ".id");

  out.transport = d["transport"]
                      ? scalar(d["transport"], file, where + ".transport", "serial or tcp")
                      : std::string();
  if (out.transport != "serial" && out.transport != "tcp") {
    fail(file, where + ".transport", "'" + out.transport + "': expected serial or tcp");
  }
  if (out.transport == "serial") {
    if (d["address"]) fail(file, where + ".address", "only for transport: tcp (use port)");
    if (!d["port"]) fail(file, where + ".port", "missing (e.g. port: /dev/ttyUSB1 or COM4)");
    out.port = scalar(d["port"], file, where + ".port", "a serial port path");
    if (out.port.empty()) fail(file, where + ".port", "empty (e.g. port: /dev/ttyUSB1)");
    if (auto n = d["baud"])
      out.serial.baud = static_cast<int>(number(n, file, where + ".baud", 50, 4'000'000));
    if (auto n = d["format"]) {
      const auto f = scalar(n, file, where + ".format", "a format like 8N1");
      if (!scale::parse_serial_format(f, out.serial)) {
        fail(file, where + ".format",
             "'" + f + "': expected data bits, parity, stop bits like 8N1 or 7E1");
      }
    }
  } else {
    for (const char* k : {"port", "baud", "format"}) {
      if (d[k]) fail(file, where + "." + k, "only for transport: serial (use address: HOST:PORT)");
    }
    if (!d["address"]) fail(file, where + ".address", "missing (e.g. address: 192.168.1.60:4001)");
    const auto text = scalar(d["address"], file, where + ".address", "HOST:PORT");
    auto hp = base::parse_host_port(text);
    if (!hp) fail(file, where + ".address", hp.error().message);
    out.host = hp->host;
    out.tcp_port = hp->port;
  }

  if (!d["protocol"]) fail(file, where + ".protocol", "missing (e.g. protocol: mt-continuous)");
  out.protocol = scalar(d["protocol"], file, where + ".protocol", "a protocol id");
  if (!scale::encode_frame(out.protocol, scale::DisplayState{})) {
    fail(file, where + ".protocol",
         "'" + out.protocol + "': not a protocol weighlink can send; use one of " +
             encodable_protocols());
  }

  if (auto n = d["scale"]) {
    out.scale = scalar(n, file, where + ".scale", "a scale id");
  } else if (scales.size() == 1) {
    out.scale = scales.front().id;
  } else {
    fail(file, where + ".scale", "missing: name the scale this display repeats (a scales[] id)");
  }
  if (std::none_of(scales.begin(), scales.end(),
                   [&](const auto& s) { return s.id == out.scale; })) {
    fail(file, where + ".scale", "no scale with id '" + out.scale + "' in scales");
  }
  if (auto n = d["interval_ms"]) {
    out.interval = std::chrono::milliseconds(number(n, file, where + ".interval_ms", 20, 10'000));
  }
  if (auto n = d["reopen_backoff_max_ms"]) {
    out.reopen_backoff_max =
        std::chrono::milliseconds(number(n, file, where + ".reopen_backoff_max_ms", 100, 600'000));
  }
  return out;
}

}  // namespace

void load_displays(const YAML::Node& node, const std::filesystem::path& file,
                   const std::vector<scale::ScaleConfig>& scales, DisplaysConfig& out) {
  if (!node.IsSequence()) {
    fail(file, "displays",
         "expected a list of displays ({id, transport, port|address, protocol, scale})");
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    const auto where = "displays[" + std::to_string(i) + "]";
    auto d = load_one(node[i], file, where, scales);
    for (std::size_t j = 0; j < out.size(); ++j) {
      if (out[j].id == d.id) {
        fail(file, where + ".id",
             "duplicate id '" + d.id + "' (displays[" + std::to_string(j) +
                 "] has it; give each display its own id)");
      }
    }
    out.push_back(std::move(d));
  }
}

}  // namespace weighlink::agent
