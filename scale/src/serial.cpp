// open_serial(): picks the serial adapter for a device name.
//
// libserialport handles real ports well (USB-serial enumeration, Windows COM ports) but cannot
// open pseudo-terminals: its Linux lookup wants a /sys/class/tty entry, which ptys lack, and
// sp_open() fails with ENOTTY reading modem lines a pty does not have. Virtual serial ports are
// real in the field (socat, ser2net, "virtual COM" drivers) and are how the simulator and the
// tests feed the agent, so ptys, and anything else libserialport refuses that is still a
// terminal, go through plain termios. See docs/decisions/0001-virtual-serial-ports.md.

#include <filesystem>
#include <system_error>

#include "serial_adapters.hpp"
#include "weighlink/scale/source.hpp"

namespace weighlink::scale {
namespace detail {

std::string describe_settings(const SerialSettings& s) {
  std::string out = std::to_string(s.baud) + " " + std::to_string(s.data_bits);
  switch (s.parity) {
    case Parity::none:
      out += 'N';
      break;
    case Parity::odd:
      out += 'O';
      break;
    case Parity::even:
      out += 'E';
      break;
    case Parity::mark:
      out += 'M';
      break;
    case Parity::space:
      out += 'S';
      break;
  }
  out += std::to_string(s.stop_bits);
  if (s.flow == FlowControl::xonxoff) out += " xonxoff";
  if (s.flow == FlowControl::rtscts) out += " rtscts";
  return out;
}

}  // namespace detail

boost::system::result<std::unique_ptr<ByteSource>> open_serial(const SerialSource& source,
                                                               std::string* detail) {
  std::string name = source.device;
  if (source.usb) {
    // Looked up at every (re)open: after a replug the adapter may come back under another name.
    const auto ports = list_serial_ports();
    auto found = match_usb_port(ports, *source.usb);
    if (!found) {
      if (detail) *detail = std::move(found.error().message);
      return make_error_code(boost::system::errc::no_such_device);  // none or several
    }
    name = std::move(*found);
  }
#if defined(_WIN32)
  return detail::open_libserialport(name, source.settings);
#else
  // Resolve symlinks (udev by-id names, the simulator's --pty link) so the decision is made on
  // the device itself; a missing device fails here with ENOENT.
  std::error_code ec;
  const auto resolved = std::filesystem::canonical(name, ec);
  if (ec) return boost::system::error_code(ec.value(), boost::system::system_category());
  const std::string device = resolved.string();
  if (detail::is_pseudo_terminal(device)) return detail::open_termios(device, source.settings);
  auto port = detail::open_libserialport(device, source.settings);
  if (!port && port.error() == boost::system::errc::no_such_device && detail::is_terminal(device)) {
    return detail::open_termios(device, source.settings);
  }
  return port;
#endif
}

}  // namespace weighlink::scale
