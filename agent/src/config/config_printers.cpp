// The `printers:` section (printer_config.hpp): each printer's type and the keys its type needs,
// checked at start so a wrong device path or queue name fails loudly, not at the first ticket.
#include "config/config_printers.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "config/config_checks.hpp"
#include "weighlink/base/host_port.hpp"
#include "weighlink/scale/source.hpp"

namespace weighlink::agent {
namespace {

using config_checks::fail;
using config_checks::flag;
using config_checks::text;

std::uint32_t number(const YAML::Node& n, const std::filesystem::path& file, const std::string& key,
                     std::uint32_t min, std::uint32_t max) {
  std::uint32_t v = 0;
  try {
    v = n.as<std::uint32_t>();
  } catch (const YAML::Exception&) {
    fail(file, key, "expected a whole number " + std::to_string(min) + ".." + std::to_string(max));
  }
  if (v < min || v > max) {
    fail(
        file, key,
        std::to_string(v) + " is out of range " + std::to_string(min) + ".." + std::to_string(max));
  }
  return v;
}

PrinterConfig load_one(const YAML::Node& p, const std::filesystem::path& file,
                       const std::string& where, const std::vector<std::string>& scale_ids) {
  if (!p.IsMap()) fail(file, where, "expected a mapping with id, type and its connection");
  config_checks::check_keys(
      p,
      {"id", "type", "transport", "port", "device", "address", "queue", "server", "paper",
       "auto_print", "copies", "scales", "qr", "status_timeout_ms", "poll_interval_ms"},
      file, where + ".");
  // A key this printer's type needs: its text, or a failure with an example.
  const auto required = [&](const char* key, const std::string& example) {
    if (!p[key]) fail(file, where + "." + key, "missing (" + example + ")");
    return text(p[key], file, where + "." + key);
  };
  PrinterConfig c;
  c.id = required("id", "a name such as ticket-printer");
  config_checks::check_device_id(c.id, file, where + ".id");
  c.type = required("type", "escpos for a receipt printer, or cups");
  if (c.type == "escpos") {
    c.transport = required("transport", "serial, usb or tcp");
    if (c.transport == "serial") {
      c.port = required("port", "e.g. /dev/ttyUSB0?baud=19200, COM3");
      auto spec = scale::parse_source("serial:" + c.port);
      if (!spec) fail(file, where + ".port", spec.error().message);
    } else if (c.transport == "usb") {
#ifdef _WIN32
      fail(file, where + ".transport",
           "usb (a printer device file) is not supported on Windows; use tcp (port 9100) or "
           "serial (a COM port)");
#endif
      c.device = required("device", "e.g. /dev/usb/lp0");
    } else if (c.transport == "tcp") {
      c.address = required("address", "e.g. 192.168.1.50:9100");
      if (c.address.find(':') == std::string::npos) c.address += ":9100";
      auto hp = base::parse_host_port(c.address);
      if (!hp) fail(file, where + ".address", hp.error().message);
    } else {
      fail(file, where + ".transport", "'" + c.transport + "': expected serial, usb or tcp");
    }
  } else if (c.type == "cups") {
#ifdef _WIN32
    fail(file, where + ".type",
         "cups is not supported on Windows; print to the receipt printer with type escpos over "
         "tcp (port 9100) or serial");
#endif
    c.queue = required("queue", "the CUPS queue's name, see lpstat -p");
    if (auto n = p["server"]) {
      c.server = text(n, file, where + ".server");
      auto hp = base::parse_host_port(c.server);
      if (!hp) fail(file, where + ".server", hp.error().message);
    }
  } else {
    fail(file, where + ".type", "'" + c.type + "': expected escpos or cups");
  }
  if (auto n = p["paper"]) {
    c.paper = text(n, file, where + ".paper");
    if (c.paper != "80mm" && c.paper != "58mm") {
      fail(file, where + ".paper", "'" + c.paper + "': expected 80mm or 58mm");
    }
  }
  if (auto n = p["auto_print"]) c.auto_print = flag(n, file, where + ".auto_print");
  if (auto n = p["qr"]) c.qr = flag(n, file, where + ".qr");
  if (auto n = p["copies"]) c.copies = static_cast<int>(number(n, file, where + ".copies", 1, 5));
  if (auto n = p["status_timeout_ms"]) {
    c.status_timeout =
        std::chrono::milliseconds(number(n, file, where + ".status_timeout_ms", 100, 30'000));
  }
  if (auto n = p["poll_interval_ms"]) {
    c.poll_interval =
        std::chrono::milliseconds(number(n, file, where + ".poll_interval_ms", 100, 600'000));
  }
  if (auto n = p["scales"]) {
    if (!n.IsSequence()) fail(file, where + ".scales", "expected a list of scale ids");
    for (std::size_t i = 0; i < n.size(); ++i) {
      const auto at = where + ".scales[" + std::to_string(i) + "]";
      auto id = text(n[i], file, at);
      if (std::find(scale_ids.begin(), scale_ids.end(), id) == scale_ids.end()) {
        fail(file, at, "no scale with id '" + id + "' in scales");
      }
      c.scales.push_back(std::move(id));
    }
  }
  return c;
}

}  // namespace

void load_printers(const YAML::Node& n, const std::filesystem::path& file,
                   const std::vector<scale::ScaleConfig>& scales, PrintersConfig& out) {
  if (!n.IsSequence()) fail(file, "printers", "expected a list of printers");
  std::vector<std::string> scale_ids;
  scale_ids.reserve(scales.size());
  for (const auto& s : scales) scale_ids.push_back(s.id);
  for (std::size_t i = 0; i < n.size(); ++i) {
    const auto where = "printers[" + std::to_string(i) + "]";
    auto c = load_one(n[i], file, where, scale_ids);
    for (const auto& other : out.printers) {
      if (other.id == c.id) fail(file, where + ".id", "duplicate id '" + c.id + "'");
    }
    out.printers.push_back(std::move(c));
  }
}

}  // namespace weighlink::agent
