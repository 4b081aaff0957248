// FileArchiveSource: the POSIX adapter of dump_archive.hpp (open, fstat, pread).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "weighlink/recovery/dump_archive.hpp"

namespace weighlink::recovery {

pg::Result<std::unique_ptr<FileArchiveSource>> FileArchiveSource::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return boost::system::error_code(errno, boost::system::system_category());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int error = errno;
    ::close(fd);
    return boost::system::error_code(error, boost::system::system_category());
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return boost::system::errc::make_error_code(S_ISDIR(st.st_mode)
                                                    ? boost::system::errc::is_a_directory
                                                    : boost::system::errc::not_supported);
  }
  return std::unique_ptr<FileArchiveSource>(
      new FileArchiveSource(fd, static_cast<std::uint64_t>(st.st_size)));
}

FileArchiveSource::~FileArchiveSource() { ::close(fd_); }

std::size_t FileArchiveSource::read_at(std::uint64_t offset, std::span<std::byte> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const auto n =
        ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n == 0) break;  // end of file
    if (n < 0) {
      if (errno == EINTR) continue;
      error_ = std::string("read error: ") + std::strerror(errno);
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  return done;
}

}  // namespace weighlink::recovery
