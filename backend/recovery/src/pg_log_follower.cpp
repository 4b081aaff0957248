// PgLogFollower (pg_log.hpp): the server log read incrementally, the way `tail -F` follows it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "weighlink/recovery/pg_log.hpp"

namespace weighlink::recovery {

PgLogFollower::PgLogFollower(std::string path) : path_(std::move(path)) {}

PgLogFollower::~PgLogFollower() { close_fd(); }

void PgLogFollower::close_fd() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void PgLogFollower::read_from_fd(std::vector<std::string>& lines, std::size_t& budget) {
  char buffer[65536];
  while (budget > 0) {
    const auto n =
        ::pread(fd_, buffer, std::min(sizeof buffer, budget), static_cast<off_t>(offset_));
    if (n <= 0) return;  // the end (or an error: the next call tries again)
    offset_ += static_cast<std::uint64_t>(n);
    budget -= static_cast<std::size_t>(n);
    for (const char c : std::string_view(buffer, static_cast<std::size_t>(n))) {
      if (c == '\n') {
        lines.push_back(std::move(partial_));
        partial_.clear();
      } else if (partial_.size() < kMaxLine) {
        partial_ += c;
      }
    }
  }
}

base::Expected<std::vector<std::string>> PgLogFollower::read_new_lines() {
  std::vector<std::string> lines;
  std::size_t budget = kMaxRead;
  const bool first = !started_;
  started_ = true;
  if (fd_ >= 0) {
    // What the file we hold gained: all of it, even when it was rotated away since.
    struct stat held {};
    if (::fstat(fd_, &held) == 0 && static_cast<std::uint64_t>(held.st_size) < offset_) {
      offset_ = 0;  // truncated in place (copytruncate): its new lines start at 0
      partial_.clear();
    }
    read_from_fd(lines, budget);
    struct stat named {};
    const bool same =
        ::stat(path_.c_str(), &named) == 0 && named.st_dev == device_ && named.st_ino == inode_;
    if (same || budget == 0) return lines;
    close_fd();  // rotated, or removed: follow the path
    partial_.clear();
  }
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    if (errno == ENOENT) return lines;  // not there (yet): read from its start when it appears
    const int error = errno;
    return base::errno_error(error, "cannot read the PostgreSQL server log --pg-log " + path_ +
                                        " (" + std::strerror(error) +
                                        "): give the monitor's user read access to it (e.g. the "
                                        "adm group for /var/log/postgresql)");
  }
  struct stat opened {};
  if (::fstat(fd_, &opened) != 0 || !S_ISREG(opened.st_mode)) {
    close_fd();
    return base::invalid_argument("--pg-log " + path_ +
                                  " is not a regular file: give the server log file "
                                  "(log_directory/log_filename, or pg_ctl -l FILE)");
  }
  device_ = opened.st_dev;
  inode_ = opened.st_ino;
  offset_ = first ? static_cast<std::uint64_t>(opened.st_size) : 0;
  read_from_fd(lines, budget);
  return lines;
}

}  // namespace weighlink::recovery
