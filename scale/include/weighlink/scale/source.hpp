#pragma once
// Scale sources (SPEC §4): "serial:DEV?baud=9600&parity=none&bits=8&stop=1", "tcp:HOST:PORT",
// "udp:PORT", "sim:PROFILE". Parsing is pure; opening lives in the transport adapters.

#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

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

struct SerialSource {
  std::string device;  // /dev/ttyUSB0, /dev/pts/3, a symlink, COM3
  SerialSettings settings;
};
struct TcpSource {
  std::string host;
  std::uint16_t port = 0;
};
struct UdpSource {
  std::uint16_t port = 0;
};
struct SimSource {
  std::string profile;
};
using SourceSpec = std::variant<SerialSource, TcpSource, UdpSource, SimSource>;

// Parses a source string; on failure `error` (if given) says what is wrong, naming the part.
[[nodiscard]] std::optional<SourceSpec> parse_source(std::string_view text, std::string* error);

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
};

// Opens a serial port. Real ports go through libserialport; pseudo-terminals (socat, ser2net,
// virtual COM drivers), which libserialport cannot open, go through termios on POSIX.
[[nodiscard]] boost::system::result<std::unique_ptr<ByteSource>> open_serial(
    const SerialSource& source);

}  // namespace weighlink::scale
