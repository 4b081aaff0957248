// libFuzzer target: what `weighlink-backend verify-backup` reads, a backup file of any kind
// (backend/src/dump_archive.cpp). Every input must end in a verdict with a detail, never a crash;
// a byte offset in the detail lies in the file; what is read is the input, re-reading at most a
// field per read; a complete custom archive that ends with its last block is not complete one byte
// shorter.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "weighlink/recovery/dump_archive.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace weighlink::recovery;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  MemoryArchiveSource source(bytes);
  const auto d = inspect_dump(source);
  check(!d.detail.empty());
  check(d.file_size == size);
  check(!d.offset || *d.offset <= size);
  check(source.bytes_read() <= size + source.reads() * 1024);
  check(d.data_blocks_walked <= d.data_entries && d.data_entries <= d.toc_entries);
  check(d.table_data.size() <= d.data_entries);
  if (d.verdict == DumpVerdict::custom_ok) {
    check(d.data_blocks_walked == d.data_entries);
    if (d.detail.find("bytes after the last block") == std::string::npos) {
      MemoryArchiveSource shorter(bytes.first(size - 1));
      check(!inspect_dump(shorter).ok());
    }
  }
  return 0;
}
