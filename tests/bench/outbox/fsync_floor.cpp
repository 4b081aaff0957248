// bench_outbox's fsync floor: the disk's own fsync latency, and every sync of the process counted.
#include <fcntl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "outbox_bench.hpp"

namespace weighlink::bench::outbox {

// These definitions take the place of libc's for libsqlite3 too (the executable comes first in
// symbol lookup), so "syncs per mutation" counts what reached the disk, WAL checkpoints included,
// rather than inferring it from commits. If the counter does not move while the fsync floor is
// measured, the figures say n/a.
std::atomic<std::uint64_t> g_syncs{0};

}  // namespace weighlink::bench::outbox

extern "C" int fdatasync(int fd) {
  weighlink::bench::outbox::g_syncs.fetch_add(1, std::memory_order_relaxed);
  return static_cast<int>(::syscall(SYS_fdatasync, fd));
}

extern "C" int fsync(int fd) {
  weighlink::bench::outbox::g_syncs.fetch_add(1, std::memory_order_relaxed);
  return static_cast<int>(::syscall(SYS_fsync, fd));
}

namespace weighlink::bench::outbox {

// `append`: each 4 KiB write extends a new file, so fdatasync also writes the new size (a journal
// commit on a journalled filesystem). Otherwise each write overwrites a block of a 1 MiB file
// written and synced beforehand.
Percentiles measure_fsync(const std::filesystem::path& file, std::size_t iterations, bool append) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("cannot create " + file.string() + ": " + std::strerror(errno));
  std::vector<char> block(4096);
  constexpr std::size_t kOverwriteBlocks = 256;
  if (!append) {
    std::memset(block.data(), 'x', block.size());
    for (std::size_t i = 0; i < kOverwriteBlocks; ++i) {
      if (::pwrite(fd, block.data(), block.size(), static_cast<off_t>(i * block.size())) !=
          static_cast<ssize_t>(block.size())) {
        die("pwrite " + file.string() + ": " + std::strerror(errno));
      }
    }
    if (::fsync(fd) != 0) die("fsync " + file.string() + ": " + std::strerror(errno));
  }
  std::vector<double> us;
  us.reserve(iterations);
  for (std::size_t i = 0; i < iterations + kWarmup; ++i) {
    std::memset(block.data(), static_cast<int>('a' + i % 26), block.size());
    const std::size_t at = append ? i : i % kOverwriteBlocks;
    const auto start = Clock::now();
    if (::pwrite(fd, block.data(), block.size(), static_cast<off_t>(at * block.size())) !=
        static_cast<ssize_t>(block.size())) {
      die("pwrite " + file.string() + ": " + std::strerror(errno));
    }
    if (::fdatasync(fd) != 0) die("fdatasync " + file.string() + ": " + std::strerror(errno));
    if (i >= static_cast<std::size_t>(kWarmup)) us.push_back(micros_since(start));
  }
  ::close(fd);
  std::filesystem::remove(file);
  return percentiles(std::move(us), 1000.0);
}

std::string filesystem_name(const std::filesystem::path& dir) {
  struct statfs st {};
  if (statfs(dir.c_str(), &st) != 0) return "unknown";
  switch (static_cast<unsigned long>(st.f_type)) {
    case 0xEF53:
      return "ext2/3/4";
    case 0x01021994:
      return "tmpfs";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x794C7630:
      return "overlayfs";
    default: {
      char hex[32];
      std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(st.f_type));
      return hex;
    }
  }
}

}  // namespace weighlink::bench::outbox
