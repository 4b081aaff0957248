#include "weighlink/recovery/dump_archive.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <utility>

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

namespace weighlink::backend {

std::size_t MemoryArchiveSource::read_at(std::uint64_t offset, std::span<std::byte> out) {
  ++reads_;
  if (offset >= bytes_.size()) return 0;
  const auto n =
      static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), bytes_.size() - offset));
  std::memcpy(out.data(), bytes_.data() + offset, n);
  bytes_read_ += n;
  return n;
}

std::string_view to_string(DumpVerdict verdict) noexcept {
  switch (verdict) {
    case DumpVerdict::custom_ok:
      return "custom_ok";
    case DumpVerdict::plain_ok:
      return "plain_ok";
    case DumpVerdict::not_a_dump:
      return "not_a_dump";
    case DumpVerdict::truncated:
      return "truncated";
    case DumpVerdict::unreadable:
      return "unreadable";
  }
  return "unknown";
}

namespace {

constexpr std::size_t kWindow = 64 * 1024;  // what one read_at fetches while parsing
constexpr std::size_t kSniff = 1024;        // head and tail of anything that is not PGDMP
constexpr std::size_t kKeep = 256;          // longest name or version kept from the archive
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

std::string num(std::uint64_t v) { return std::to_string(v); }

// Printable ASCII as is, the rest escaped; at most `max` input bytes.
std::string escaped(std::span<const std::byte> bytes, std::size_t max) {
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

std::string hex(std::span<const std::byte> bytes, std::size_t max) {
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

std::string_view as_text(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

std::string_view trim_right(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string_view last_line(std::string_view text) {
  const auto nl = text.rfind('\n');
  return nl == std::string_view::npos ? text : text.substr(nl + 1);
}

// The value of a "-- <label>version" comment line in the head of a plain dump.
std::string comment_value(std::string_view head, std::string_view label) {
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
std::string describe(const DataEntry& e, std::optional<std::uint64_t> block = std::nullopt) {
  std::string out = e.desc;
  if (!e.name.empty() && e.name != e.desc) out += " " + e.name;
  out += " (dump id " + std::to_string(e.dump_id);
  if (block) out += ", block at byte " + std::to_string(*block);
  return out + ")";
}

class Inspector {
 public:
  Inspector(ArchiveSource& source, DumpInspection& out) : win_(source), out_(out) {}

  void run() {
    out_.file_size = win_.size();
    if (!inspect()) {
      out_.verdict = problem_->verdict;
      out_.detail = std::move(problem_->detail);
      out_.offset = problem_->offset;
    }
  }

 private:
  enum class Phase { sniff, header, toc, data };

  bool inspect() {
    const auto size = win_.size();
    if (size == 0) {
      return fail(DumpVerdict::not_a_dump, 0,
                  "empty file (0 bytes): the backup job wrote nothing; check its log and take "
                  "the backup again");
    }
    const std::byte* p = nullptr;
    const auto head_len = static_cast<std::size_t>(std::min<std::uint64_t>(size, kSniff));
    if (!need(0, head_len, p, kSniff)) return false;
    const std::span<const std::byte> head(p, head_len);
    const auto text = as_text(head);
    if (text.starts_with("PGDMP")) return custom();
    if (size < 5) {
      return fail(DumpVerdict::not_a_dump, 0,
                  "only " + num(size) + " bytes (\"" + escaped(head, 16) +
                      "\"): too short for a pg_dump archive, which starts with the 5 bytes PGDMP");
    }
    if (text.starts_with("--\n-- PostgreSQL database dump\n--")) {
      return plain(text, "-- PostgreSQL database dump complete", "pg_dump");
    }
    if (text.starts_with("--\n-- PostgreSQL database cluster dump\n--")) {
      return plain(text, "-- PostgreSQL database cluster dump complete", "pg_dumpall");
    }
    return not_a_dump(head);
  }

  // ---- anything that is not a custom archive -------------------------------------------------

  bool plain(std::string_view head, std::string_view footer, std::string_view tool) {
    out_.server_version = comment_value(head, "\n-- Dumped from database version ");
    out_.pg_dump_version = comment_value(head, "\n-- Dumped by " + std::string(tool) + " version ");
    const auto size = win_.size();
    const auto tail_len = static_cast<std::size_t>(std::min<std::uint64_t>(size, kSniff));
    const std::byte* p = nullptr;
    if (!need(size - tail_len, tail_len, p, tail_len)) return false;
    const std::span<const std::byte> tail(p, tail_len);
    // pg_dump ends with "--\n<footer>\n--\n\n"; the releases that write \restrict (17.6, 16.10,
    // 15.14 and later) follow it with "\unrestrict <key>\n\n".
    auto rest = trim_right(as_text(tail));
    if (last_line(rest).starts_with("\\unrestrict ")) {
      rest = trim_right(rest.substr(0, rest.size() - last_line(rest).size()));
    }
    if (last_line(rest) == "--") {
      rest = trim_right(rest.substr(0, rest.size() - last_line(rest).size()));
    }
    if (trim_right(last_line(rest)) == footer) {
      out_.verdict = DumpVerdict::plain_ok;
      out_.detail = "complete plain SQL dump (" + std::string(tool) +
                    (out_.pg_dump_version.empty() ? "" : " " + out_.pg_dump_version) + ", " +
                    num(size) + " bytes, ending with \"" + std::string(footer) +
                    "\"); restore it with psql";
      return true;
    }
    const auto shown = tail.subspan(tail.size() - std::min<std::size_t>(tail.size(), 60));
    return fail(DumpVerdict::truncated, size,
                "plain dump without its footer: it should end with \"" + std::string(footer) +
                    "\" but its last bytes (up to byte " + num(size) + ") are \"" +
                    escaped(shown, shown.size()) + "\"; " + std::string(tool) +
                    " did not finish or the file was cut short" + std::string(kRetake));
  }

  bool not_a_dump(std::span<const std::byte> head) {
    const auto text = as_text(head);
    const auto starts = [&](std::initializer_list<unsigned char> magic) {
      if (head.size() < magic.size()) return false;
      std::size_t i = 0;
      for (const auto m : magic) {
        if (static_cast<unsigned char>(head[i++]) != m) return false;
      }
      return true;
    };
    const auto compressed = [&](std::string_view tool) {
      return fail(DumpVerdict::not_a_dump, 0,
                  std::string(tool) + "-compressed (starts with " + hex(head, 4) +
                      "); a dump must be pg_dump -Fc output, not piped through " +
                      std::string(tool) +
                      " (the custom format compresses its data itself): decompress it to see "
                      "what is inside, and take backups with pg_dump -Fc --file");
    };
    if (starts({0x1f, 0x8b})) return compressed("gzip");
    if (starts({0x28, 0xb5, 0x2f, 0xfd})) return compressed("zstd");
    if (starts({0xfd, '7', 'z', 'X', 'Z', 0x00})) return compressed("xz");
    if (starts({'B', 'Z', 'h'})) return compressed("bzip2");
    if (starts({0x04, 0x22, 0x4d, 0x18})) return compressed("lz4");
    if (starts({'P', 'K', 0x03, 0x04})) return compressed("zip");

    // Text bodies: what a web server or an API answered instead of the file.
    auto body = text;
    if (body.starts_with("\xef\xbb\xbf")) body.remove_prefix(3);
    const auto ws = body.find_first_not_of(" \t\r\n");
    body.remove_prefix(ws == std::string_view::npos ? body.size() : ws);
    const auto shown = escaped(std::as_bytes(std::span(body.data(), body.size())), 100);
    if (iequals_prefix(body, "<!doctype") || iequals_prefix(body, "<html")) {
      return fail(DumpVerdict::not_a_dump, 0,
                  "an HTML page, not a dump (\"" + shown +
                      "\"): a web server's error or login page was saved in place of the "
                      "backup; check the download's URL and credentials");
    }
    if (iequals_prefix(body, "<?xml")) {
      return fail(DumpVerdict::not_a_dump, 0,
                  "an XML document, not a dump (\"" + shown +
                      "\"), probably an object store's error response; check the download's "
                      "bucket, key and credentials");
    }
    if (body.starts_with("{") || body.starts_with("[")) {
      return fail(DumpVerdict::not_a_dump, 0,
                  "a JSON document, not a dump (\"" + shown +
                      "\"), probably an API's error response; check the download's URL and "
                      "credentials");
    }
    if (text.size() >= 262 && text.substr(257, 5) == "ustar") {
      return fail(
          DumpVerdict::not_a_dump, 0,
          "a tar archive (pg_dump -Ft?), not a custom-format dump" + std::string(kWantCustom));
    }
    return fail(DumpVerdict::not_a_dump, 0,
                "not a pg_dump archive: it starts with " + hex(head, 16) + " (\"" +
                    escaped(head, 16) +
                    "\"), where a custom-format dump starts with \"PGDMP\" and a plain one with "
                    "\"--\\n-- PostgreSQL database dump\"");
  }

  // ---- the custom format ---------------------------------------------------------------------

  bool custom() {
    phase_ = Phase::header;
    const std::byte* p = nullptr;
    field_ = "the format version";
    if (!need(5, 2, p)) return false;
    const int vmaj = byte_at(p, 0);
    const int vmin = byte_at(p, 1);
    out_.format_minor = vmin;
    const auto version = std::to_string(vmaj) + "." + std::to_string(vmin);
    if (vmaj != 1 || vmin > kMaxMinor) {
      return fail(DumpVerdict::not_a_dump, 5,
                  "unsupported custom-format version " + version +
                      " at byte 5: this verifier reads 1." + std::to_string(kMinMinor) + " to 1." +
                      std::to_string(kMaxMinor) +
                      " (PostgreSQL 8.1 to 17); update weighlink, or check the file with a "
                      "pg_restore as new as the pg_dump that wrote it");
    }
    if (vmin < kMinMinor) {
      return fail(DumpVerdict::not_a_dump, 5,
                  "custom-format version " + version +
                      " at byte 5 is older than 1.10 (PostgreSQL 8.1), which this verifier does "
                      "not read; dump the database again with a current pg_dump");
    }
    field_ = "the integer and offset sizes and the format";
    if (!need(7, 4, p)) return false;
    int_size_ = byte_at(p, 1);
    off_size_ = byte_at(p, 2);
    const int format = byte_at(p, 3);
    if (int_size_ < 1 || int_size_ > 8) {
      return fail(DumpVerdict::not_a_dump, 8,
                  "unsupported integer size " + std::to_string(int_size_) +
                      " at byte 8 (pg_dump writes 4)" + std::string(kCorrupt));
    }
    if (off_size_ < 1 || off_size_ > 8) {
      return fail(DumpVerdict::not_a_dump, 9,
                  "unsupported offset size " + std::to_string(off_size_) +
                      " at byte 9 (pg_dump writes 8)" + std::string(kCorrupt));
    }
    if (format == kArchTar) {
      return fail(DumpVerdict::not_a_dump, 10,
                  "the header says tar format (byte 10 is 3): this is the toc.dat of a pg_dump -Ft "
                  "archive, not a custom-format dump" +
                      std::string(kWantCustom));
    }
    if (format == kArchDirectory) {
      return fail(DumpVerdict::not_a_dump, 10,
                  "the header says directory format (byte 10 is 5): this is the toc.dat of a "
                  "pg_dump -Fd directory, not a custom-format dump" +
                      std::string(kWantCustom));
    }
    if (format != kArchCustom) {
      return fail(DumpVerdict::not_a_dump, 10,
                  "unknown archive format " + std::to_string(format) +
                      " at byte 10 (1 is custom, 3 tar, 5 directory)" + std::string(kCorrupt));
    }
    std::uint64_t pos = 11;
    field_ = "the compression";
    if (vmin >= 15) {
      if (!need(pos, 1, p)) return false;
      static constexpr std::string_view kAlgorithms[] = {"none", "gzip", "lz4", "zstd"};
      const int algorithm = byte_at(p, 0);
      if (algorithm > 3) {
        return fail(DumpVerdict::not_a_dump, pos,
                    "unknown compression algorithm " + std::to_string(algorithm) + " at byte " +
                        num(pos) + " (0 none, 1 gzip, 2 lz4, 3 zstd)" + std::string(kCorrupt));
      }
      out_.compression = kAlgorithms[algorithm];
      pos += 1;
    } else {
      std::int64_t level = 0;
      if (!read_int(pos, level)) return false;
      out_.compression = level == 0    ? "none"
                         : level == -1 ? "gzip"
                                       : "gzip level " + std::to_string(level);
    }
    field_ = "the creation time";
    std::int64_t tm[7] = {};
    for (auto& v : tm) {
      if (!read_int(pos, v)) return false;
    }
    out_.created = creation_time(tm);
    field_ = "the database name";
    if (!read_str(pos, &out_.dbname)) return false;
    field_ = "the server version";
    if (!read_str(pos, &out_.server_version)) return false;
    field_ = "the pg_dump version";
    if (!read_str(pos, &out_.pg_dump_version)) return false;
    if (!toc(pos)) return false;
    return data(pos);
  }

  static std::string creation_time(const std::int64_t (&tm)[7]) {
    // tm_sec, tm_min, tm_hour, tm_mday, tm_mon, tm_year, tm_isdst as pg_dump's localtime().
    if (tm[0] < 0 || tm[0] > 60 || tm[1] < 0 || tm[1] > 59 || tm[2] < 0 || tm[2] > 23 ||
        tm[3] < 1 || tm[3] > 31 || tm[4] < 0 || tm[4] > 11 || tm[5] < 0 || tm[5] > 8099) {
      return {};
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", static_cast<int>(tm[5] + 1900),
                  static_cast<int>(tm[4] + 1), static_cast<int>(tm[3]), static_cast<int>(tm[2]),
                  static_cast<int>(tm[1]), static_cast<int>(tm[0]));
    return buf;
  }

  bool toc(std::uint64_t& pos) {
    field_ = "the number of TOC entries";
    const auto count_at = pos;
    std::int64_t count = 0;
    if (!read_int(pos, count)) return false;
    phase_ = Phase::toc;
    if (count < 0 || count > kMaxTocEntries) {
      return fail(DumpVerdict::not_a_dump, count_at,
                  "corrupt TOC: it claims " + std::to_string(count) + " entries at byte " +
                      num(count_at) + ", which no pg_dump writes" + std::string(kCorrupt));
    }
    toc_count_ = count;
    const int minor = out_.format_minor;
    for (std::int64_t i = 0; i < count; ++i) {
      entry_index_ = i;
      entry_id_ = 0;
      DataEntry e;
      std::string ns;
      std::int64_t had_dumper = 0;
      field_ = "its dump id";
      const auto id_at = pos;
      if (!read_int(pos, e.dump_id)) return false;
      if (e.dump_id <= 0) {
        return fail(DumpVerdict::not_a_dump, id_at,
                    "corrupt TOC: " + toc_where() + " has dump id " + std::to_string(e.dump_id) +
                        " at byte " + num(id_at) + " (ids start at 1)" + std::string(kCorrupt));
      }
      entry_id_ = e.dump_id;
      field_ = "its data flag";
      if (!read_int(pos, had_dumper)) return false;
      e.had_dumper = had_dumper != 0;
      field_ = "its catalog ids";
      if (!read_str(pos) || !read_str(pos)) return false;
      field_ = "its tag";
      if (!read_str(pos, &e.name)) return false;
      field_ = "its description";
      if (!read_str(pos, &e.desc)) return false;
      if (minor >= 11) {
        field_ = "its section";
        const auto section_at = pos;
        std::int64_t section = 0;
        if (!read_int(pos, section)) return false;
        if (section < 1 || section > 4) {
          return fail(DumpVerdict::not_a_dump, section_at,
                      "corrupt TOC: " + toc_where() + " has section " + std::to_string(section) +
                          " at byte " + num(section_at) + " (1 to 4)" + std::string(kCorrupt));
        }
      }
      field_ = "its SQL";
      if (!read_str(pos) || !read_str(pos) || !read_str(pos)) return false;
      field_ = "its schema";
      if (!read_str(pos, &ns)) return false;
      field_ = "its tablespace";
      if (!read_str(pos)) return false;
      if (minor >= 14) {
        field_ = "its table access method";
        if (!read_str(pos)) return false;
      }
      if (minor >= 16) {
        field_ = "its relkind";
        std::int64_t relkind = 0;
        if (!read_int(pos, relkind)) return false;
      }
      field_ = "its owner";
      if (!read_str(pos) || !read_str(pos)) return false;
      field_ = "its dependencies";
      for (bool null = false; !null;) {
        if (!read_str(pos, nullptr, &null)) return false;
      }
      field_ = "its data offset";
      const auto state_at = pos;
      const std::byte* p = nullptr;
      if (!need(pos, 1 + static_cast<std::size_t>(off_size_), p)) return false;
      e.state = byte_at(p, 0);
      if (e.state != kPosNotSet && e.state != kPosSet && e.state != kNoData) {
        return fail(DumpVerdict::not_a_dump, state_at,
                    "corrupt TOC: " + toc_where() + " has data offset flag " +
                        std::to_string(e.state) + " at byte " + num(state_at) + " (1 to 3)" +
                        std::string(kCorrupt));
      }
      for (int b = off_size_ - 1; b >= 0; --b) e.offset = (e.offset << 8) | byte_at(p, 1 + b);
      pos += 1 + static_cast<std::uint64_t>(off_size_);
      ++out_.toc_entries;
      if (e.had_dumper != (e.state != kNoData)) {
        return fail(DumpVerdict::not_a_dump, state_at,
                    "corrupt TOC: " + toc_where() + " (" + e.desc + ") " +
                        (e.had_dumper ? "is marked as having data, but its offset flag says none"
                                      : "has a data offset flag but is not marked as having data") +
                        " (flag at byte " + num(state_at) + ")" + std::string(kCorrupt));
      }
      if (e.state == kNoData) continue;
      if (!ns.empty()) e.name = ns + "." + e.name;
      if (e.desc == "TABLE DATA") out_.table_data.push_back(e.name);
      entries_.push_back(std::move(e));
      out_.data_entries = entries_.size();
    }
    toc_end_ = pos;
    return true;
  }

  std::string toc_where() const {
    return "entry " + std::to_string(entry_index_ + 1) + " of " + std::to_string(toc_count_) +
           (entry_id_ > 0 ? " (dump id " + std::to_string(entry_id_) + ")" : "");
  }

  bool data(std::uint64_t pos) {
    phase_ = Phase::data;
    const auto size = win_.size();
    auto& by_id = by_id_;
    by_id.reserve(entries_.size());
    std::size_t unset = 0;
    const DataEntry* first_beyond = nullptr;
    std::size_t beyond = 0;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const auto& e = entries_[i];
      by_id.emplace_back(e.dump_id, i);
      if (e.state == kPosNotSet) {
        ++unset;
      } else if (e.offset < toc_end_) {
        return fail(DumpVerdict::not_a_dump, e.offset,
                    "corrupt TOC: it places the data of " + describe(e) + " at byte " +
                        num(e.offset) + ", inside the header and TOC, which end at byte " +
                        num(toc_end_) + std::string(kCorrupt));
      } else if (e.offset >= size) {
        if (beyond++ == 0) first_beyond = &e;
      }
    }
    std::sort(by_id.begin(), by_id.end());
    for (std::size_t i = 1; i < by_id.size(); ++i) {
      if (by_id[i].first == by_id[i - 1].first) {
        const auto& e = entries_[by_id[i].second];
        return fail(DumpVerdict::not_a_dump, toc_end_,
                    "corrupt TOC: two data entries have dump id " + std::to_string(e.dump_id) +
                        " (" + describe(entries_[by_id[i - 1].second]) + " and " + e.desc + ")" +
                        std::string(kCorrupt));
      }
    }
    if (first_beyond != nullptr) {
      // Name the block the file ends in: the last one that starts before the end.
      const DataEntry* cut = nullptr;
      for (const auto& e : entries_) {
        if (e.state == kPosSet && e.offset < size && (cut == nullptr || e.offset > cut->offset)) {
          cut = &e;
        }
      }
      return fail(DumpVerdict::truncated, cut != nullptr ? cut->offset : size,
                  "the file ends at byte " + num(size) +
                      (cut != nullptr ? ", inside the data of " + describe(*cut, cut->offset)
                                      : std::string()) +
                      ", before the data of " + num(beyond) + " of " + num(entries_.size()) +
                      " data entries (the first, " + describe(*first_beyond) +
                      ", would start at byte " + num(first_beyond->offset) + ")" +
                      std::string(kRetake));
    }
    unset_ = unset;

    // Walk the blocks from the end of the TOC: pg_dump writes them there one after the other, in
    // TOC order, and nothing after the last.
    std::size_t walked = 0;
    while (walked < entries_.size()) {
      block_ = nullptr;
      if (pos == size) {
        const auto missing = std::find_if(entries_.begin(), entries_.end(),
                                          [](const DataEntry& e) { return !e.walked; });
        return fail(DumpVerdict::truncated, pos,
                    "the file ends at byte " + num(size) + " after " + num(walked) + " of " +
                        num(entries_.size()) + " data blocks: the data of " + describe(*missing) +
                        (entries_.size() - walked > 1
                             ? " and " + num(entries_.size() - walked - 1) + " more are"
                             : std::string(" is")) +
                        " missing" + unset_note() + std::string(kRetake));
      }
      if (!block(pos)) return false;
      ++walked;
      out_.data_blocks_walked = walked;
    }
    block_ = nullptr;

    std::string summary = "custom-format archive 1." + std::to_string(out_.format_minor) +
                          " of database \"" + out_.dbname + "\" (pg_dump " + out_.pg_dump_version +
                          ", compression " + out_.compression + "): " + num(out_.toc_entries) +
                          " TOC entries, " + num(walked) + " data blocks walked to their ends";
    if (unset > 0) {
      return fail(DumpVerdict::truncated, toc_end_,
                  summary + ", but the TOC's data offsets were never written (" + num(unset) +
                      " of " + num(entries_.size()) +
                      " data entries have none): pg_dump did not finish, or wrote to a pipe "
                      "instead of a file; pg_restore can read it only in order (no --jobs): "
                      "take the backup again with pg_dump -Fc --file");
    }
    out_.verdict = DumpVerdict::custom_ok;
    if (pos < size) {
      summary += "; " + num(size - pos) + " bytes after the last block (from byte " + num(pos) +
                 ") that pg_dump did not write and pg_restore ignores";
    } else {
      summary += ", the last ending at the end of the file (byte " + num(size) + ")";
    }
    out_.detail = std::move(summary);
    return true;
  }

  std::string unset_note() const {
    return unset_ == 0 ? std::string()
                       : " (and the TOC's data offsets were never written: pg_dump did not "
                         "finish)";
  }

  // One data block at `pos`, to the byte after its terminator.
  bool block(std::uint64_t& pos) {
    const auto start = pos;
    block_start_ = start;
    field_ = "the block header";
    const std::byte* p = nullptr;
    if (!need(pos, 2 + static_cast<std::size_t>(int_size_), p)) return false;
    const int type = byte_at(p, 0);
    pos += 1;
    std::int64_t id = 0;
    if (!read_int(pos, id)) return false;
    if (type != kBlkData && type != kBlkBlobs) {
      return fail(DumpVerdict::not_a_dump, start,
                  "the data block at byte " + num(start) + " has type " + std::to_string(type) +
                      " (1 is table data, 3 large objects)" + unset_note() + std::string(kCorrupt));
    }
    const auto it =
        std::lower_bound(by_id_.begin(), by_id_.end(), std::pair<std::int64_t, std::size_t>{id, 0});
    if (it == by_id_.end() || it->first != id) {
      return fail(DumpVerdict::not_a_dump, start,
                  "the data block at byte " + num(start) + " is for dump id " + std::to_string(id) +
                      ", which has no data entry in the TOC" + unset_note() +
                      std::string(kCorrupt));
    }
    DataEntry& e = entries_[it->second];
    if (e.walked) {
      return fail(DumpVerdict::not_a_dump, start,
                  "a second data block for " + describe(e) + " at byte " + num(start) +
                      std::string(kCorrupt));
    }
    if (e.state == kPosSet && e.offset != start) {
      return fail(DumpVerdict::not_a_dump, start,
                  "the TOC places the data of " + describe(e) + " at byte " + num(e.offset) +
                      ", but its block is at byte " + num(start) +
                      " (data blocks overlap or are out of place)" + std::string(kCorrupt));
    }
    block_ = &e;
    if (type == kBlkData) {
      if (!chunks(pos)) return false;
    } else {
      for (;;) {
        field_ = "a large object's oid";
        std::int64_t oid = 0;
        if (!read_int(pos, oid)) return false;
        if (oid == 0) break;
        if (!chunks(pos)) return false;
        ++out_.large_objects;
      }
    }
    e.walked = true;
    return true;
  }

  // (Int len, len bytes)* Int 0: the compressed (or plain) data, skipped unread.
  bool chunks(std::uint64_t& pos) {
    const auto size = win_.size();
    for (;;) {
      field_ = "a chunk length";
      const auto len_at = pos;
      std::int64_t len = 0;
      if (!read_int(pos, len)) return false;
      if (len == 0) return true;
      if (len < 0) {
        return fail(DumpVerdict::not_a_dump, len_at,
                    "negative chunk length " + std::to_string(len) + " at byte " + num(len_at) +
                        " in the data of " + describe(*block_) + std::string(kCorrupt));
      }
      if (static_cast<std::uint64_t>(len) > size - pos) {
        return fail(DumpVerdict::truncated, len_at,
                    "the file ends at byte " + num(size) + ", inside the data of " +
                        describe(*block_, block_start_) + ": its chunk at byte " + num(len_at) +
                        " declares " + std::to_string(len) + " bytes, " + num(size - pos) +
                        " are left" + unset_note() + std::string(kRetake));
      }
      pos += static_cast<std::uint64_t>(len);
    }
  }

  // ---- primitives ----------------------------------------------------------------------------

  static int byte_at(const std::byte* p, std::size_t i) { return static_cast<int>(p[i]); }

  bool read_int(std::uint64_t& pos, std::int64_t& value) {
    const std::byte* p = nullptr;
    const auto n = 1 + static_cast<std::size_t>(int_size_);
    if (!need(pos, n, p)) return false;
    const int sign = byte_at(p, 0);
    std::uint64_t magnitude = 0;
    for (int b = int_size_; b >= 1; --b) magnitude = (magnitude << 8) | byte_at(p, b);
    // pg_dump writes C ints: a 0/1 sign byte and a magnitude of at most 2^31.
    constexpr std::uint64_t kMax = std::uint64_t{1} << 31;
    if (sign > 1 || magnitude > kMax || (sign == 0 && magnitude == kMax)) {
      return fail(DumpVerdict::not_a_dump, pos,
                  "corrupt integer at byte " + num(pos) + " (" + hex({p, n}, n) + "), " + where() +
                      std::string(kCorrupt));
    }
    value = sign ? -static_cast<std::int64_t>(magnitude) : static_cast<std::int64_t>(magnitude);
    pos += n;
    return true;
  }

  // A Str; its first kKeep bytes go to `keep` when given.
  bool read_str(std::uint64_t& pos, std::string* keep = nullptr, bool* is_null = nullptr) {
    const auto len_at = pos;
    std::int64_t len = 0;
    if (!read_int(pos, len)) return false;
    if (is_null != nullptr) *is_null = len == -1;
    if (len == -1) return true;
    if (len < -1 || len > kMaxString) {
      return fail(DumpVerdict::not_a_dump, len_at,
                  "corrupt string length " + std::to_string(len) + " at byte " + num(len_at) +
                      ", " + where() + std::string(kCorrupt));
    }
    const auto ulen = static_cast<std::uint64_t>(len);
    if (ulen > win_.size() - pos) {
      return fail(DumpVerdict::truncated, len_at,
                  "the file ends at byte " + num(win_.size()) + ", " + where() +
                      ": the string at byte " + num(len_at) + " declares " + num(ulen) +
                      " bytes, " + num(win_.size() - pos) + " are left" + std::string(kRetake));
    }
    if (keep != nullptr) {
      keep->clear();
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(ulen, kKeep));
      const std::byte* p = nullptr;
      if (n > 0 && !need(pos, n, p)) return false;
      if (n > 0) keep->assign(reinterpret_cast<const char*>(p), n);
      if (ulen > kKeep) *keep += "...";
    }
    pos += ulen;
    return true;
  }

  bool need(std::uint64_t at, std::size_t n, const std::byte*& p, std::size_t ahead = kWindow) {
    switch (win_.get(at, n, p, ahead)) {
      case Fetch::ok:
        return true;
      case Fetch::eof:
        return fail(DumpVerdict::truncated, at,
                    "the file ends at byte " + num(win_.size()) + ", " + where() + " at byte " +
                        num(at) + unset_note() + std::string(kRetake));
      case Fetch::error:
        break;
    }
    const auto error = win_.source_error();
    return fail(DumpVerdict::unreadable, at,
                "could not read " + num(n) + " bytes at byte " + num(at) + " of " +
                    num(win_.size()) + (error.empty() ? std::string() : ": " + error) +
                    "; check the disk or the file system, then run the check again");
  }

  // Where the field being read is, for a detail.
  std::string where() const {
    switch (phase_) {
      case Phase::sniff:
        return "reading its first bytes";
      case Phase::header:
        return std::string("inside the archive header, reading ") + field_;
      case Phase::toc:
        return "inside the TOC, reading " + toc_where() + ": " + field_;
      case Phase::data:
        if (block_ == nullptr) return "inside a data block header";
        return "inside the data of " + describe(*block_, block_start_) + ", reading " + field_;
    }
    return {};
  }

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

}  // namespace

DumpInspection inspect_dump(ArchiveSource& source) noexcept {
  DumpInspection out;
  try {
    Inspector(source, out).run();
  } catch (const std::exception& e) {
    try {
      out.verdict = DumpVerdict::unreadable;
      out.detail = std::string("the inspection failed: ") + e.what();
    } catch (...) {
      out.detail.clear();
    }
  } catch (...) {
    out.verdict = DumpVerdict::unreadable;
  }
  return out;
}

}  // namespace weighlink::backend
