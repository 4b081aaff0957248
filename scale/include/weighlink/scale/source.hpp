#pragma once
// Scale sources (SPEC §4): "serial:DEV?baud=9600&parity=none&bits=8&stop=1",
// "serial:usb?vid=0403&pid=6001&serial=A50285BI" (a USB-serial adapter pinned by identity),
// "tcp:HOST:PORT", "udp:PORT" or "udp:BIND_HOST:PORT", with "?from=SENDER_IP" to take datagrams
// from the indicator only (required when BIND_HOST is not loopback),
// "sim:PROFILE?rate=10&seed=1&weight=32540&decks=2&cumulative=1".
// Parsing and USB matching are pure; opening lives in the transport adapters.

#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "weighlink/base/error.hpp"

namespace weighlink::scale {

enum class Parity { none, odd, even, mark, space };
enum class FlowControl { none, xonxoff, rtscts };

struct SerialSettings {
  int baud = 9600;
  Parity parity = Parity::none;
  int data_bits = 8;  // 5..8
  int stop_bits = 1;  // 1 or 2
  FlowControl flow = FlowControl::none;
  friend bool operator==(const SerialSettings&, const SerialSettings&) = default;
};

// Identifies a USB-serial adapter whatever name the OS gave it (ttyUSB0 today, ttyUSB1 after a
// replug next to another adapter). Absent fields match anything.
struct UsbMatch {
  std::optional<std::uint16_t> vid;
  std::optional<std::uint16_t> pid;
  std::optional<std::string> serial;
  friend bool operator==(const UsbMatch&, const UsbMatch&) = default;
};

struct SerialSource {
  std::string device;  // /dev/ttyUSB0, /dev/pts/3, a symlink, COM3; "usb" when `usb` is set
  SerialSettings settings;
  // When set, the port is looked up by USB identity at every (re)open.
  std::optional<UsbMatch> usb{};
};
struct TcpSource {
  std::string host;
  std::uint16_t port = 0;
};
struct UdpSource {
  std::string host = "127.0.0.1";  // the local address to bind (this machine only by default)
  std::uint16_t port = 0;
  // The indicator's IP address: datagrams from any other sender are dropped and counted. Empty:
  // any sender (allowed only on a loopback address, where senders are local programs).
  std::string from{};
};
struct SimSource {
  std::string profile;
  double rate_hz = 10.0;
  std::uint64_t seed = 1;
  std::optional<std::string> weight{};  // static and noise profiles: the displayed weight, "32540"
  int decks = 0;                        // multi-deck protocols: weights per deck (2..16)
  bool cumulative = false;              // axles profile: an MCGS-style accumulating indicator
};
using SourceSpec = std::variant<SerialSource, TcpSource, UdpSource, SimSource>;

// Applies a serial format such as "8N1" or "7E1" (data bits 5..8, parity N/E/O/M/S in either
// case, stop bits 1 or 2) to `settings`; false (and `settings` unchanged) when it is not one.
[[nodiscard]] bool parse_serial_format(std::string_view format, SerialSettings& settings);

// Parses a source string; the Error (invalid_argument) says what is wrong, naming the part.
[[nodiscard]] base::Expected<SourceSpec> parse_source(std::string_view text);

// A serial port as the OS enumerates it.
struct SerialPortInfo {
  std::string name;  // /dev/ttyUSB0, COM3
  std::optional<std::uint16_t> vid;
  std::optional<std::uint16_t> pid;
  std::string serial;       // USB serial number; empty when the port has none
  std::string description;  // for messages
};

// The one port in `ports` matching `match`; the Error when none (no_such_device) or several
// (invalid_argument: pinning exists to make the choice certain, so guessing is refused) match.
[[nodiscard]] base::Expected<std::string> match_usb_port(std::span<const SerialPortInfo> ports,
                                                         const UsbMatch& match);
// "vid=0403 pid=6001 serial=A50285BI", for messages.
[[nodiscard]] std::string describe(const UsbMatch& match);

// Every serial port the OS knows now, through libserialport (USB identity where it has one).
[[nodiscard]] std::vector<SerialPortInfo> list_serial_ports();

// A byte stream from an indicator. One reader thread owns it.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Waits up to `timeout` for bytes; returns how many were read (0 on timeout).
  [[nodiscard]] virtual boost::system::result<std::size_t> read(
      std::span<char> buffer, std::chrono::milliseconds timeout) = 0;
  // Sends bytes to the indicator (polled protocols). Blocks until written.
  [[nodiscard]] virtual boost::system::result<void> write(std::string_view bytes) = 0;
  // "serial /dev/ttyUSB0 9600 8N1", for logs.
  [[nodiscard]] virtual std::string describe() const = 0;
  // POSIX: the file descriptor read() waits on, for a caller that waits on it itself (the
  // io-thread reader); the source keeps owning it. -1 when there is none to wait on.
  [[nodiscard]] virtual int native_handle() const { return -1; }
};

// Opens a serial port. Real ports go through libserialport; pseudo-terminals (socat, ser2net,
// virtual COM drivers), which libserialport cannot open, go through termios on POSIX.
// A `usb` source is resolved with list_serial_ports() first; when no single port matches, the
// error is errc::no_such_device and `detail` (if given) says what was seen.
[[nodiscard]] boost::system::result<std::unique_ptr<ByteSource>> open_serial(
    const SerialSource& source, std::string* detail = nullptr);

// Opens any source. `protocol` is what a sim source encodes. On failure `detail` (if given) gets a
// one-line explanation beyond the error code where there is one.
[[nodiscard]] boost::system::result<std::unique_ptr<ByteSource>> open_source(
    const SourceSpec& spec, std::string_view protocol, std::string* detail = nullptr);

// Transport adapters behind open_source() (net_asio.cpp, sim_source.cpp). TCP connects within
// `connect_timeout`; a closed connection is reported as an error by read().
[[nodiscard]] boost::system::result<std::unique_ptr<ByteSource>> open_tcp(
    const TcpSource& source, std::chrono::milliseconds connect_timeout);
[[nodiscard]] boost::system::result<std::unique_ptr<ByteSource>> open_udp(const UdpSource& source);
// A simulated indicator: `source.profile` encoded as `protocol` frames at source.rate_hz.
[[nodiscard]] boost::system::result<std::unique_ptr<ByteSource>> open_sim(
    const SimSource& source, std::string_view protocol, std::string* detail = nullptr);

}  // namespace weighlink::scale
