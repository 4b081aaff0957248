// libserialport adapter: real serial ports (USB-serial, onboard UARTs, Windows COM ports).

#include <libserialport.h>

#include <cerrno>

#include "serial_adapters.hpp"

namespace weighlink::scale::detail {
namespace {

using boost::system::error_code;

// SP_ERR_FAIL carries the OS error (errno / GetLastError()); the other codes map to the closest
// generic condition. The caller formats the message.
error_code to_error(sp_return r) {
  switch (r) {
    case SP_ERR_ARG:
      return make_error_code(boost::system::errc::invalid_argument);
    case SP_ERR_MEM:
      return make_error_code(boost::system::errc::not_enough_memory);
    case SP_ERR_SUPP:
      return make_error_code(boost::system::errc::not_supported);
    case SP_ERR_FAIL: {
      const int code = sp_last_error_code();
      if (code != 0) return error_code(code, boost::system::system_category());
      return make_error_code(boost::system::errc::io_error);
    }
    default:
      return make_error_code(boost::system::errc::io_error);
  }
}

struct PortDeleter {
  void operator()(sp_port* port) const {
    sp_close(port);
    sp_free_port(port);
  }
};
using PortPtr = std::unique_ptr<sp_port, PortDeleter>;

sp_parity to_sp(Parity p) {
  switch (p) {
    case Parity::odd:
      return SP_PARITY_ODD;
    case Parity::even:
      return SP_PARITY_EVEN;
    case Parity::mark:
      return SP_PARITY_MARK;
    case Parity::space:
      return SP_PARITY_SPACE;
    case Parity::none:
      break;
  }
  return SP_PARITY_NONE;
}

sp_flowcontrol to_sp(FlowControl f) {
  switch (f) {
    case FlowControl::xonxoff:
      return SP_FLOWCONTROL_XONXOFF;
    case FlowControl::rtscts:
      return SP_FLOWCONTROL_RTSCTS;
    case FlowControl::none:
      break;
  }
  return SP_FLOWCONTROL_NONE;
}

class LibSerialPort final : public ByteSource {
 public:
  LibSerialPort(PortPtr port, std::string device, const SerialSettings& settings)
      : port_(std::move(port)), device_(std::move(device)), settings_(settings) {}

  boost::system::result<std::size_t> read(std::span<char> buffer,
                                          std::chrono::milliseconds timeout) override {
    // Returns as soon as any byte is there (sp_blocking_read would wait to fill the buffer).
    const sp_return r = sp_blocking_read_next(port_.get(), buffer.data(), buffer.size(),
                                              static_cast<unsigned>(timeout.count()));
    if (r < 0) return to_error(r);
    return static_cast<std::size_t>(r);
  }

  boost::system::result<void> write(std::string_view bytes) override {
    const sp_return r = sp_blocking_write(port_.get(), bytes.data(), bytes.size(), 2000);
    if (r < 0) return to_error(r);
    if (static_cast<std::size_t>(r) != bytes.size()) {
      return make_error_code(boost::system::errc::timed_out);
    }
    return {};
  }

  std::string describe() const override {
    return "serial " + device_ + " " + describe_settings(settings_);
  }

  int native_handle() const override {
#if defined(_WIN32)
    return -1;  // a HANDLE: the io-thread reader is POSIX only
#else
    int fd = -1;
    if (sp_get_port_handle(port_.get(), &fd) != SP_OK) return -1;
    return fd;
#endif
  }

 private:
  PortPtr port_;
  std::string device_;
  SerialSettings settings_;
};

}  // namespace

boost::system::result<std::unique_ptr<ByteSource>> open_libserialport(
    const std::string& device, const SerialSettings& settings) {
  sp_port* raw = nullptr;
  const sp_return found = sp_get_port_by_name(device.c_str(), &raw);
  if (found == SP_ERR_ARG) return make_error_code(boost::system::errc::no_such_device);
  if (found != SP_OK) return to_error(found);
  // sp_close() on a port that never opened is harmless (it returns SP_ERR_ARG).
  PortPtr port(raw);
  if (const sp_return r = sp_open(port.get(), SP_MODE_READ_WRITE); r != SP_OK) return to_error(r);
  sp_return r = sp_set_baudrate(port.get(), settings.baud);
  if (r == SP_OK) r = sp_set_bits(port.get(), settings.data_bits);
  if (r == SP_OK) r = sp_set_parity(port.get(), to_sp(settings.parity));
  if (r == SP_OK) r = sp_set_stopbits(port.get(), settings.stop_bits);
  if (r == SP_OK) r = sp_set_flowcontrol(port.get(), to_sp(settings.flow));
  if (r != SP_OK) return to_error(r);
  return std::unique_ptr<ByteSource>(
      std::make_unique<LibSerialPort>(std::move(port), device, settings));
}

}  // namespace weighlink::scale::detail

namespace weighlink::scale {

std::vector<SerialPortInfo> list_serial_ports() {
  std::vector<SerialPortInfo> out;
  sp_port** list = nullptr;
  if (sp_list_ports(&list) != SP_OK) return out;
  for (sp_port** p = list; *p != nullptr; ++p) {
    SerialPortInfo info;
    if (const char* name = sp_get_port_name(*p)) info.name = name;
    if (const char* d = sp_get_port_description(*p)) info.description = d;
    if (sp_get_port_transport(*p) == SP_TRANSPORT_USB) {
      int vid = 0;
      int pid = 0;
      if (sp_get_port_usb_vid_pid(*p, &vid, &pid) == SP_OK) {
        info.vid = static_cast<std::uint16_t>(vid);
        info.pid = static_cast<std::uint16_t>(pid);
      }
      if (const char* serial = sp_get_port_usb_serial(*p)) info.serial = serial;
    }
    out.push_back(std::move(info));
  }
  sp_free_port_list(list);
  return out;
}

}  // namespace weighlink::scale
