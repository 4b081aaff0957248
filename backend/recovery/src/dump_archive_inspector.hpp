#pragma once
// The pg_dump archive inspector's parts, shared by dump_archive.cpp (sniffing: plain SQL dumps,
// files that are not dumps, the window over the source) and dump_archive_custom.cpp (the custom
// format: header, TOC, data blocks). Internal to weighlink::recovery; the interface is
// inspect_dump() in dump_archive.hpp.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weighlink/recovery/dump_archive.hpp"

// The custom format as PostgreSQL's pg_dump writes and pg_restore reads it
// (src/bin/pg_dump/pg_backup_archiver.c: WriteHead/ReadHead, WriteToc/ReadToc, ReadInt/ReadStr,
// ReadOffset; pg_backup_custom.c: _StartData/_EndData, _StartLOs/_StartLO/_EndLO/_EndLOs,
// _skipData/_skipLOs, _CloseArchive). Versions 1.10 (PostgreSQL 8.1) to 1.16 (17).
//
//   "PGDMP" vmaj vmin vrev intSize offSize format
//   compression: >= 1.15 one byte (0 none, 1 gzip, 2 lz4, 3 zstd), else an Int gzip level
//   Int x7 creation time, Str dbname, Str server version, Str pg_dump version
//   Int tocCount, then per entry: Int dumpId, Int hadDumper, Str tableoid, Str oid, Str tag,
//     Str desc, Int section (>= 1.11), Str defn, Str dropStmt, Str copyStmt, Str namespace,
//     Str tablespace, Str tableam (>= 1.14), Int relkind (>= 1.16), Str owner, Str withOids,
//     Str* dependencies ending with a NULL Str, then byte dataState + offSize bytes offset
//   data blocks, in TOC order, from the end of the TOC to the end of the file:
//     byte blkType (1 data, 3 large objects), Int dumpId,
//     data: (Int len, len bytes)* Int 0
//     large objects: (Int oid, (Int len, len bytes)* Int 0)* Int 0
//   Int = a sign byte and intSize bytes of magnitude, little-endian; Str = Int length (-1: NULL)
//   and the bytes.
//
// pg_dump writes the TOC before the data with every offset unset, and only when its output can
// seek goes back to rewrite it with the offsets (_CloseArchive). So a complete TOC proves nothing
// about the data; unset offsets mean pg_dump never got to its end, or wrote to a pipe.

namespace weighlink::recovery::dump_detail {

constexpr std::size_t kWindow = std::size_t{64} * 1024;  // what one read_at fetches while parsing
constexpr std::size_t kSniff = 1024;  // head and tail of anything that is not PGDMP
constexpr std::size_t kKeep = 256;    // longest name or version kept from the archive
// Larger than any string or TOC pg_dump writes (its strings are palloc'd, < 1 GiB); beyond these
// the bytes are not a TOC at all.
constexpr std::int64_t kMaxString = std::int64_t{1} << 30;
constexpr std::int64_t kMaxTocEntries = std::int64_t{1} << 24;

// pg_backup_archiver.h and pg_backup_custom.c.
constexpr int kArchCustom = 1;
constexpr int kArchTar = 3;
constexpr int kArchDirectory = 5;
constexpr int kPosNotSet = 1;
constexpr int kPosSet = 2;
constexpr int kNoData = 3;
constexpr int kBlkData = 1;
constexpr int kBlkBlobs = 3;
constexpr int kMinMinor = 10;
constexpr int kMaxMinor = 16;

constexpr std::string_view kRetake =
    "; the dump is incomplete: take the backup again (check the disk space and the backup "
    "job's log), or copy it again if it was copied";
constexpr std::string_view kCorrupt = "; the archive is corrupt: use another backup";
constexpr std::string_view kWantCustom =
    "; verify-backup reads pg_dump custom-format archives: take backups with pg_dump -Fc --file";

inline std::string num(std::uint64_t v) { return std::to_string(v); }

// Printable ASCII as is, the rest escaped; at most `max` input bytes.
inline std::string escaped(std::span<const std::byte> bytes, std::size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (bytes.size() > max) out += "...";
  return out;
}

inline std::string hex(std::span<const std::byte> bytes, std::size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (!out.empty()) out += ' ';
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

inline std::string_view as_text(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

inline bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

inline std::string_view trim_right(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

inline std::string_view last_line(std::string_view text) {
  const auto nl = text.rfind('\n');
  return nl == std::string_view::npos ? text : text.substr(nl + 1);
}

// The value of a "-- <label>version" comment line in the head of a plain dump.
inline std::string comment_value(std::string_view head, std::string_view label) {
  const auto at = head.find(label);
  if (at == std::string_view::npos) return {};
  const auto from = at + label.size();
  const auto nl = head.find('\n', from);
  if (nl == std::string_view::npos) return {};
  return std::string(head.substr(from, std::min<std::size_t>(nl - from, kKeep)));
}

struct Problem {
  DumpVerdict verdict;
  std::string detail;
  std::optional<std::uint64_t> offset;
};

enum class Fetch { ok, eof, error };

// A window of the source: parsing asks for a few bytes at a time, the source is read in
// kWindow pieces.
class Window {
 public:
  explicit Window(ArchiveSource& source) : source_(source), size_(source.size()) {}

  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

  // Points `out` at [at, at + n) (n <= kWindow), reading `ahead` bytes from `at` when not held.
  // `out` is valid until the next get().
  Fetch get(std::uint64_t at, std::size_t n, const std::byte*& out, std::size_t ahead = kWindow) {
    if (n > size_ || at > size_ - n) return Fetch::eof;
    if (at >= start_ && at - start_ <= len_ && n <= len_ - (at - start_)) {
      out = buf_.data() + (at - start_);
      return Fetch::ok;
    }
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(std::max(ahead, n), size_ - at));
    if (buf_.size() < want) buf_.resize(want);
    start_ = at;
    len_ = std::min(want, source_.read_at(at, std::span(buf_.data(), want)));
    if (len_ < n) return Fetch::error;
    out = buf_.data();
    return Fetch::ok;
  }

  [[nodiscard]] std::string source_error() const { return source_.last_error(); }

 private:
  ArchiveSource& source_;
  std::uint64_t size_;
  std::vector<std::byte> buf_;
  std::uint64_t start_ = 0;
  std::size_t len_ = 0;
};

// A TOC entry that has a data block.
struct DataEntry {
  std::int64_t dump_id = 0;
  bool had_dumper = false;
  int state = kNoData;
  std::uint64_t offset = 0;
  std::string desc;
  std::string name;  // "schema.tag", or the tag alone
  bool walked = false;
};

// "TABLE DATA public.weighings (dump id 3363)", with the block's offset when given.
inline std::string describe(const DataEntry& e, std::optional<std::uint64_t> block = std::nullopt) {
  std::string out = e.desc;
  if (!e.name.empty() && e.name != e.desc) out += " " + e.name;
  out += " (dump id " + std::to_string(e.dump_id);
  if (block) out += ", block at byte " + std::to_string(*block);
  return out + ")";
}
class Inspector {
 public:
  Inspector(ArchiveSource& source, DumpInspection& out) : win_(source), out_(out) {}

  void run();

 private:
  enum class Phase { sniff, header, toc, data };

  bool inspect();

  // ---- anything that is not a custom archive -------------------------------------------------

  bool plain(std::string_view head, std::string_view footer, std::string_view tool);

  bool not_a_dump(std::span<const std::byte> head);

  // ---- the custom format ---------------------------------------------------------------------

  bool custom();

  static std::string creation_time(const std::int64_t (&tm)[7]);

  bool toc(std::uint64_t& pos);

  std::string toc_where() const {
    return "entry " + std::to_string(entry_index_ + 1) + " of " + std::to_string(toc_count_) +
           (entry_id_ > 0 ? " (dump id " + std::to_string(entry_id_) + ")" : "");
  }

  bool data(std::uint64_t pos);

  std::string unset_note() const;

  // One data block at `pos`, to the byte after its terminator.
  bool block(std::uint64_t& pos);

  // (Int len, len bytes)* Int 0: the compressed (or plain) data, skipped unread.
  bool chunks(std::uint64_t& pos);

  // ---- primitives ----------------------------------------------------------------------------

  static int byte_at(const std::byte* p, std::size_t i) { return static_cast<int>(p[i]); }

  bool read_int(std::uint64_t& pos, std::int64_t& value);

  // A Str; its first kKeep bytes go to `keep` when given.
  bool read_str(std::uint64_t& pos, std::string* keep = nullptr, bool* is_null = nullptr);

  bool need(std::uint64_t at, std::size_t n, const std::byte*& p, std::size_t ahead = kWindow);

  // Where the field being read is, for a detail.
  std::string where() const;

  bool fail(DumpVerdict verdict, std::uint64_t offset, std::string detail) {
    if (!problem_) problem_ = Problem{verdict, std::move(detail), offset};
    return false;
  }

  Window win_;
  DumpInspection& out_;
  std::optional<Problem> problem_;
  Phase phase_ = Phase::sniff;
  const char* field_ = "";
  int int_size_ = 4;
  int off_size_ = 8;
  std::int64_t toc_count_ = 0;
  std::int64_t entry_index_ = 0;
  std::int64_t entry_id_ = 0;
  std::uint64_t toc_end_ = 0;
  std::vector<DataEntry> entries_;
  std::vector<std::pair<std::int64_t, std::size_t>> by_id_;  // dump id, index in entries_
  std::size_t unset_ = 0;
  const DataEntry* block_ = nullptr;
  std::uint64_t block_start_ = 0;
};

}  // namespace weighlink::recovery::dump_detail
