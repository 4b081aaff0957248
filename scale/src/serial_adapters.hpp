#pragma once
// Internal: the two serial adapters behind open_serial() (one source file per external API) and
// the helpers open_serial() uses to choose between them.

#include <memory>
#include <string>

#include "weighlink/scale/source.hpp"

namespace weighlink::scale::detail {

// "9600 8N1", "9600 7E1 rtscts": for describe() and logs.
[[nodiscard]] std::string describe_settings(const SerialSettings& settings);

// serial_libserialport.cpp. Fails with errc::no_such_device when libserialport does not know the
// name as a serial port (its SP_ERR_ARG), so the caller can try the termios path.
[[nodiscard]] boost::system::result<std::unique_ptr<ByteSource>> open_libserialport(
    const std::string& device, const SerialSettings& settings);

// serial_termios.cpp (POSIX). Opens any terminal device, pseudo-terminals included.
[[nodiscard]] boost::system::result<std::unique_ptr<ByteSource>> open_termios(
    const std::string& device, const SerialSettings& settings);
// True for a pseudo-terminal slave (/dev/pts/N, UNIX98 pty majors).
[[nodiscard]] bool is_pseudo_terminal(const std::string& resolved_path);
// True when the path opens as a terminal (isatty).
[[nodiscard]] bool is_terminal(const std::string& path);

}  // namespace weighlink::scale::detail
