#include "weighlink/base/file_write.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace weighlink::base {

std::error_code fsync_path(const std::filesystem::path& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return {errno, std::generic_category()};
  std::error_code ec;
  if (::fsync(fd) != 0) ec = {errno, std::generic_category()};
  ::close(fd);
  return ec;
}

Expected<void> write_file_atomically(const std::filesystem::path& path, std::string_view text,
                                     mode_t new_file_mode) {
  struct stat old {};
  const bool existed = ::stat(path.c_str(), &old) == 0;
  const std::filesystem::path partial = path.string() + ".partial";
  ::unlink(partial.c_str());
  // A new file gets `new_file_mode` less the umask, as any file this process creates.
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                        existed ? 0600 : new_file_mode);
  if (fd < 0) {
    const int e = errno;
    return errno_error(e, "cannot create " + partial.string() + ": " + std::strerror(e) +
                              "; check that the folder exists and this user may write in it");
  }
  bool ok = !existed || ::fchmod(fd, old.st_mode & 07777) == 0;
  if (ok && existed && ::geteuid() == 0) ok = ::fchown(fd, old.st_uid, old.st_gid) == 0;
  std::string_view rest = text;
  while (ok && !rest.empty()) {
    const ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) rest.remove_prefix(static_cast<std::size_t>(n));
  }
  ok = ok && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok || ::rename(partial.c_str(), path.c_str()) != 0) {
    const int e = ok ? errno : saved;
    ::unlink(partial.c_str());
    return errno_error(e, "cannot write " + path.string() + ": " + std::strerror(e) +
                              "; check the space left on its disk");
  }
  (void)fsync_path(path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path(),
                   true);
  return {};
}

}  // namespace weighlink::base
