#pragma once
// What a backup file is, without a server: inspect_dump() tells a complete pg_dump custom-format
// archive (header, TOC, and a walk over every data block) or a complete plain SQL dump from a
// truncated one, an HTML/JSON error page, a gzip stream or other bytes (verify-backup's cheap
// tier; docs: shared/reference/backup-anchors.md §2). Sans-I/O: it reads through ArchiveSource,
// never decompresses, and reads only the header, the TOC and each data chunk's length word (a
// plain dump: its first and last KiB).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/pg/error.hpp"

namespace weighlink::recovery {

// Random access to the bytes of one archive. Not thread-safe: one inspection at a time.
class ArchiveSource {
 public:
  virtual ~ArchiveSource() = default;
  [[nodiscard]] virtual std::uint64_t size() const = 0;
  // Reads up to out.size() bytes at `offset`; returns how many. Short only at the end of the
  // source, or on a read error (then last_error() says what failed).
  [[nodiscard]] virtual std::size_t read_at(std::uint64_t offset, std::span<std::byte> out) = 0;
  [[nodiscard]] virtual std::string last_error() const { return {}; }
};

// Bytes in memory (tests, fuzzing). Does not copy: the bytes must outlive it. Counts what was
// read so that tests can check how little an inspection reads.
class MemoryArchiveSource final : public ArchiveSource {
 public:
  explicit MemoryArchiveSource(std::span<const std::byte> bytes) noexcept : bytes_(bytes) {}
  explicit MemoryArchiveSource(std::string_view bytes) noexcept
      : bytes_(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()) {}
  [[nodiscard]] std::uint64_t size() const override { return bytes_.size(); }
  [[nodiscard]] std::size_t read_at(std::uint64_t offset, std::span<std::byte> out) override;
  [[nodiscard]] std::uint64_t bytes_read() const noexcept { return bytes_read_; }
  [[nodiscard]] std::size_t reads() const noexcept { return reads_; }

 private:
  std::span<const std::byte> bytes_;
  std::uint64_t bytes_read_ = 0;
  std::size_t reads_ = 0;
};

// A regular file, read with pread(2) (dump_archive_file.cpp). Its size is taken when opened.
class FileArchiveSource final : public ArchiveSource {
 public:
  // Errors: the open(2)/fstat(2) errno (no such file, permission denied), is_a_directory for a
  // directory (pg_dump -Fd output), not_supported for a pipe, socket or device.
  [[nodiscard]] static pg::Result<std::unique_ptr<FileArchiveSource>> open(const std::string& path);
  ~FileArchiveSource() override;
  FileArchiveSource(const FileArchiveSource&) = delete;
  FileArchiveSource& operator=(const FileArchiveSource&) = delete;
  [[nodiscard]] std::uint64_t size() const override { return size_; }
  [[nodiscard]] std::size_t read_at(std::uint64_t offset, std::span<std::byte> out) override;
  [[nodiscard]] std::string last_error() const override { return error_; }

 private:
  FileArchiveSource(int fd, std::uint64_t size) noexcept : fd_(fd), size_(size) {}
  int fd_;
  std::uint64_t size_;
  std::string error_;
};

enum class DumpVerdict {
  custom_ok,   // pg_dump -Fc archive: header, TOC and every data block present to its end
  plain_ok,    // plain SQL dump that ends with pg_dump's "dump complete" footer
  not_a_dump,  // empty, an error page, compressed, another format, or a corrupt archive
  truncated,   // a dump that stops early (or whose data offsets were never written)
  unreadable,  // the source failed to deliver bytes it has (I/O error)
};

[[nodiscard]] std::string_view to_string(DumpVerdict verdict) noexcept;

struct DumpInspection {
  DumpVerdict verdict = DumpVerdict::not_a_dump;
  // One or two sentences: what the file is or what is wrong with it, at which byte offset, and
  // what to do about it.
  std::string detail;
  // The byte offset the detail is about: where the field or data block that is cut short or bad
  // starts (a plain dump without its footer: its size).
  std::optional<std::uint64_t> offset;
  std::uint64_t file_size = 0;

  // As far as they were read (custom format; plain dumps: the two versions from the head).
  std::string dbname;
  std::string server_version;   // "Dumped from database version"
  std::string pg_dump_version;  // "Dumped by pg_dump version"
  int format_minor = 0;         // archive format 1.<minor>: 14 for PostgreSQL 12..15
  std::string compression;      // "none", "gzip", "gzip level 6", "lz4", "zstd"
  std::string created;          // "2024-05-01 08:00:04", pg_dump's local time
  std::size_t toc_entries = 0;
  std::size_t data_entries = 0;         // TOC entries with a data block (TABLE DATA, BLOBS)
  std::size_t data_blocks_walked = 0;   // data blocks read to their terminator
  std::size_t large_objects = 0;        // large objects in the walked BLOBS blocks
  std::vector<std::string> table_data;  // "schema.table" of each TABLE DATA entry, TOC order
  std::vector<std::string> extensions;  // the name of each EXTENSION entry (custom format)

  [[nodiscard]] bool ok() const noexcept {
    return verdict == DumpVerdict::custom_ok || verdict == DumpVerdict::plain_ok;
  }
};

// Never throws. Reads O(TOC + number of data chunks) bytes of a custom archive, 2 KiB of anything
// else; memory is bounded by a 64 KiB window plus one small record per data entry.
[[nodiscard]] DumpInspection inspect_dump(ArchiveSource& source) noexcept;

}  // namespace weighlink::recovery
