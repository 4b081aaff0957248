#pragma once
// A pseudo-terminal that stands in for an indicator's serial port (POSIX): the simulator writes
// frames to the master end, the agent opens the slave end (or a symlink to it) like a COM port.
// One owner thread; move-only.

#include <boost/system/result.hpp>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace weighlink::scale {

class PseudoTerminal {
 public:
  // Opens a master (non-blocking) and keeps a slave descriptor open in raw mode, so the pty
  // survives a reader closing and reopening it (no EIO on write) and no line discipline ever
  // rewrites the bytes (CR to NL, echo).
  [[nodiscard]] static boost::system::result<PseudoTerminal> open();

  PseudoTerminal(PseudoTerminal&& other) noexcept;
  PseudoTerminal& operator=(PseudoTerminal&& other) noexcept;
  PseudoTerminal(const PseudoTerminal&) = delete;
  PseudoTerminal& operator=(const PseudoTerminal&) = delete;
  ~PseudoTerminal();  // closes both ends, removes the link

  // Makes `link` a symlink to the slave device. A stale symlink is replaced; any other existing
  // file is refused (errc::file_exists).
  [[nodiscard]] boost::system::result<void> make_link(const std::filesystem::path& link);

  // Writes without blocking; returns how many bytes went in (fewer, or 0, when the buffer is
  // full because nobody reads).
  [[nodiscard]] boost::system::result<std::size_t> write_some(std::string_view bytes);

  // Reads without blocking what the reader wrote to the port (poll commands); 0 when none.
  [[nodiscard]] boost::system::result<std::size_t> read_some(char* buffer, std::size_t size);

  // Bytes written but not yet read by anyone on the slave side.
  [[nodiscard]] std::size_t unread() const;
  // Drops them, as a real line drops what is sent while no one listens.
  void discard_unread();

  [[nodiscard]] const std::string& device() const { return device_; }
  [[nodiscard]] const std::filesystem::path& link() const { return link_; }

 private:
  PseudoTerminal(int master, int slave, std::string device);
  void close_all();

  int master_ = -1;
  int slave_ = -1;
  std::string device_;
  std::filesystem::path link_;
};

}  // namespace weighlink::scale
