// inspect_dump() against real pg_dump 15 output (tests/vectors/dumps/, made as its README says),
// every prefix of it, and archives built here byte by byte for the layouts pg_dump 15 does not
// write (format 1.12, 1.13, 1.15, 1.16, 8-byte integers) and for corruptions.
#include "weighlink/recovery/dump_archive.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace weighlink::recovery;

namespace {

const std::filesystem::path kDumps =
    std::filesystem::path(WEIGHLINK_SOURCE_DIR) / "tests/vectors/dumps";

std::string vector_bytes(const std::string& name) {
  std::ifstream in(kDumps / name, std::ios::binary);
  REQUIRE_MESSAGE(in, "missing test vector " << (kDumps / name).string());
  std::ostringstream all;
  all << in.rdbuf();
  return all.str();
}

DumpInspection inspect(std::string_view bytes) {
  MemoryArchiveSource source(bytes);
  return inspect_dump(source);
}

const std::vector<std::string> kVectorTables = {"audit.log", "public.empty_table",
                                                "public.stations", "public.weighings"};

// ---- a custom-format archive written byte by byte, as pg_dump's WriteHead/WriteToc/_StartData
// ---- write it (see the layout at the top of backend/src/dump_archive.cpp)

struct SynthEntry {
  SynthEntry(int id_, std::string desc_, std::string tag_, std::optional<std::string> ns_)
      : id(id_), desc(std::move(desc_)), tag(std::move(tag_)), ns(std::move(ns_)) {}
  int id = 0;
  std::string desc;  // "TABLE DATA" and "BLOBS" get a data block
  std::string tag;
  std::optional<std::string> ns;
  std::optional<std::string> payload;  // the bytes after the block header, instead of chunks
  std::optional<int> state;            // the data offset flag, instead of 2 (or 3)
  [[nodiscard]] bool has_data() const { return desc == "TABLE DATA" || desc == "BLOBS"; }
};

struct Synth {
  int minor = 16;
  int int_size = 4;
  int off_size = 8;
  int compression = 0;  // >= 1.15: the algorithm byte; else the Int level
  std::vector<SynthEntry> entries = {
      {1, "ENCODING", "ENCODING", std::nullopt}, {2, "TABLE", "stations", "public"},
      {3, "TABLE", "weighings", "public"},       {4, "TABLE DATA", "stations", "public"},
      {5, "TABLE DATA", "weighings", "public"},  {6, "BLOBS", "BLOBS", std::nullopt},
      {7, "INDEX", "weighings_taken", "public"},
  };
  std::map<int, std::uint64_t> offset_override;  // dump id -> the offset the TOC gives

  void put_int(std::string& out, std::int64_t v) const {
    out.push_back(v < 0 ? '\1' : '\0');
    auto m = static_cast<std::uint64_t>(v < 0 ? -v : v);
    for (int i = 0; i < int_size; ++i, m >>= 8) out.push_back(static_cast<char>(m & 0xff));
  }
  void put_str(std::string& out, const std::optional<std::string>& s) const {
    if (!s) return put_int(out, -1);
    put_int(out, static_cast<std::int64_t>(s->size()));
    out += *s;
  }

  [[nodiscard]] std::string header() const {
    std::string out = "PGDMP";
    for (const int b : {1, minor, 0, int_size, off_size, 1}) out.push_back(static_cast<char>(b));
    if (minor >= 15) {
      out.push_back(static_cast<char>(compression));
    } else {
      put_int(out, compression);
    }
    for (const int v : {4, 5, 6, 7, 4, 124, 0}) put_int(out, v);  // 2024-05-07 06:05:04
    put_str(out, "synth");
    put_str(out, "17.2");
    put_str(out, "17.2");
    return out;
  }

  [[nodiscard]] std::string toc(const std::map<int, std::uint64_t>& offsets) const {
    std::string out;
    put_int(out, static_cast<std::int64_t>(entries.size()));
    for (const auto& e : entries) {
      put_int(out, e.id);
      put_int(out, e.has_data() ? 1 : 0);
      put_str(out, "1259");
      put_str(out, std::to_string(16000 + e.id));
      put_str(out, e.tag);
      put_str(out, e.desc);
      if (minor >= 11) put_int(out, e.has_data() ? 3 : e.desc == "INDEX" ? 4 : 2);
      put_str(out, e.has_data() ? "" : "CREATE " + e.desc + " " + e.tag + ";");
      put_str(out, e.has_data() ? "" : "DROP " + e.desc + " " + e.tag + ";");
      put_str(out, e.desc == "TABLE DATA"
                       ? std::optional<std::string>("COPY " + e.tag + " FROM stdin;\n")
                       : std::nullopt);
      put_str(out, e.ns);
      put_str(out, "");
      if (minor >= 14)
        put_str(out, e.desc == "TABLE" ? std::optional<std::string>("heap") : std::nullopt);
      if (minor >= 16) put_int(out, e.desc == "TABLE" ? 'r' : 0);
      put_str(out, "weighlink");
      put_str(out, "false");
      if (e.id > 1) put_str(out, std::to_string(e.id - 1));
      put_str(out, std::nullopt);
      const auto at = offsets.find(e.id);
      const int state = e.state.value_or(!e.has_data() ? 3 : at == offsets.end() ? 1 : 2);
      out.push_back(static_cast<char>(state));
      auto o = at == offsets.end() ? 0 : at->second;
      for (int i = 0; i < off_size; ++i, o >>= 8) out.push_back(static_cast<char>(o & 0xff));
    }
    return out;
  }

  [[nodiscard]] std::string block(const SynthEntry& e) const {
    std::string out(1, e.desc == "BLOBS" ? '\3' : '\1');
    put_int(out, e.id);
    if (e.payload) return out + *e.payload;
    if (e.desc == "BLOBS") {
      // Two large objects, one with an oid above 2^31 (written as a negative C int).
      for (const std::int64_t oid : {16400, -5}) {
        put_int(out, oid);
        put_int(out, 3);
        out += "abc";
        put_int(out, 0);
      }
      put_int(out, 0);
      return out;
    }
    for (const std::string row : {"1\tnorth gate\n", "2\tsouth gate\n"}) {
      put_int(out, static_cast<std::int64_t>(row.size()));
      out += row;
    }
    put_int(out, 0);
    return out;
  }

  [[nodiscard]] std::string build(bool set_offsets = true) const {
    const auto head = header();
    const auto toc_size = toc({}).size();
    std::map<int, std::uint64_t> offsets;
    std::string data;
    for (const auto& e : entries) {
      if (!e.has_data()) continue;
      offsets[e.id] = head.size() + toc_size + data.size();
      data += block(e);
    }
    for (const auto& [id, o] : offset_override) offsets[id] = o;
    return head + toc(set_offsets ? offsets : std::map<int, std::uint64_t>{}) + data;
  }
};

// The byte of pg_dump 15's TOC count in a vector (format 1.14, 4-byte integers).
std::size_t toc_count_offset(const DumpInspection& d) {
  return 11 + 5 + 7 * 5 + (5 + d.dbname.size()) + (5 + d.server_version.size()) +
         (5 + d.pg_dump_version.size());
}

std::string with_int_at(std::string bytes, std::size_t at, std::int64_t v) {
  Synth s;
  std::string word;
  s.put_int(word, v);
  bytes.replace(at, word.size(), word);
  return bytes;
}

// Every prefix of `bytes` shorter than `upto`: never a complete dump; truncated from 5 bytes on,
// with a detail naming where the file ends.
void check_every_prefix(const std::string& name, const std::string& bytes, std::size_t upto) {
  std::size_t bad = 0;
  std::string first_bad;
  for (std::size_t k = 0; k < upto; ++k) {
    const auto d = inspect(std::string_view(bytes).substr(0, k));
    const bool ok =
        !d.ok() &&
        (k < 5 ? d.verdict == DumpVerdict::not_a_dump : d.verdict == DumpVerdict::truncated) &&
        d.offset.has_value() && *d.offset <= k &&
        (k < 5 || d.detail.find("ends at byte " + std::to_string(k)) != std::string::npos);
    if (!ok && bad++ == 0) {
      first_bad = name + " cut at " + std::to_string(k) + ": " + std::string(to_string(d.verdict)) +
                  ": " + d.detail;
    }
  }
  CHECK_MESSAGE(bad == 0, bad << " bad prefixes, the first: " << first_bad);
}

// A source whose reads fail after `ok_reads` successful ones.
class FailingSource final : public ArchiveSource {
 public:
  FailingSource(std::string_view bytes, std::size_t ok_reads)
      : inner_(bytes), ok_reads_(ok_reads) {}
  std::uint64_t size() const override { return inner_.size(); }
  std::size_t read_at(std::uint64_t offset, std::span<std::byte> out) override {
    if (reads_++ >= ok_reads_) return 0;
    return inner_.read_at(offset, out);
  }
  std::string last_error() const override { return "read error: injected"; }

 private:
  MemoryArchiveSource inner_;
  std::size_t ok_reads_;
  std::size_t reads_ = 0;
};

}  // namespace

TEST_CASE("dump archive: pg_dump 15 custom dumps, uncompressed and gzip, are complete") {
  for (const std::string name : {"custom-z0.dump", "custom-gzip.dump"}) {
    CAPTURE(name);
    const auto d = inspect(vector_bytes(name));
    CHECK(d.verdict == DumpVerdict::custom_ok);
    CHECK_FALSE(d.offset.has_value());
    CHECK(d.format_minor == 14);
    CHECK(d.dbname == "vectors");
    CHECK(d.server_version.starts_with("15."));
    CHECK(d.pg_dump_version.starts_with("15."));
    CHECK(d.compression == (name == "custom-z0.dump" ? "none" : "gzip"));
    CHECK(d.created.size() == 19);
    CHECK(d.toc_entries == 24);
    CHECK(d.data_entries == 4);
    CHECK(d.data_blocks_walked == 4);
    CHECK(d.table_data == kVectorTables);  // public.empty_table has a block with no rows
    CHECK(d.detail.find("4 data blocks walked") != std::string::npos);
    CHECK(d.detail.find("end of the file (byte " + std::to_string(d.file_size) + ")") !=
          std::string::npos);
  }
}

TEST_CASE("dump archive: a custom dump with large objects walks the BLOBS block") {
  const auto d = inspect(vector_bytes("custom-lo.dump"));
  CHECK(d.verdict == DumpVerdict::custom_ok);
  CHECK(d.dbname == "vectors_lo");
  CHECK(d.data_entries == 3);
  CHECK(d.data_blocks_walked == 3);
  CHECK(d.large_objects == 2);
  CHECK(d.table_data == std::vector<std::string>{"public.docs", "public.empty_table"});
}

TEST_CASE("dump archive: every prefix of each custom vector is truncated, never complete") {
  for (const std::string name :
       {"custom-z0.dump", "custom-gzip.dump", "custom-lo.dump", "custom-pipe.dump"}) {
    const auto bytes = vector_bytes(name);
    check_every_prefix(name, bytes, bytes.size());
  }
}

TEST_CASE("dump archive: a dump written to a pipe has no data offsets and is refused") {
  const auto d = inspect(vector_bytes("custom-pipe.dump"));
  CHECK(d.verdict == DumpVerdict::truncated);
  CHECK(d.data_blocks_walked == 4);  // every block is there, but pg_restore --jobs cannot use it
  CHECK(d.detail.find("data offsets were never written") != std::string::npos);
  CHECK(d.detail.find("wrote to a pipe") != std::string::npos);
  // Cut in its data, the detail says both.
  const auto bytes = vector_bytes("custom-pipe.dump");
  const auto cut = inspect(std::string_view(bytes).substr(0, bytes.size() - 40));
  CHECK(cut.verdict == DumpVerdict::truncated);
  CHECK(cut.detail.find("inside the data of TABLE DATA public.weighings") != std::string::npos);
  CHECK(cut.detail.find("offsets were never written") != std::string::npos);
}

TEST_CASE("dump archive: a truncated custom dump names the table and the offsets") {
  const auto bytes = vector_bytes("custom-z0.dump");
  const auto d = inspect(std::string_view(bytes).substr(0, bytes.size() - 40));
  CHECK(d.verdict == DumpVerdict::truncated);
  CHECK(d.data_blocks_walked == 3);
  CHECK(d.detail.find("the file ends at byte " + std::to_string(bytes.size() - 40)) !=
        std::string::npos);
  CHECK(d.detail.find("TABLE DATA public.weighings") != std::string::npos);
  CHECK(d.detail.find("take the backup again") != std::string::npos);
  // Cut before the last block starts: the TOC's offset for it is past the end.
  const auto toc_only = inspect(std::string_view(bytes).substr(0, 5000));
  CHECK(toc_only.verdict == DumpVerdict::truncated);
  CHECK(toc_only.detail.find("inside the TOC, reading entry 22 of 24") != std::string::npos);
}

TEST_CASE("dump archive: bytes after the last block are reported but do not fail the dump") {
  const auto d = inspect(vector_bytes("custom-gzip.dump") + "junk");
  CHECK(d.verdict == DumpVerdict::custom_ok);
  CHECK(d.detail.find("4 bytes after the last block") != std::string::npos);
}

TEST_CASE("dump archive: a plain dump is complete only with its footer") {
  const auto bytes = vector_bytes("plain.sql");
  const auto d = inspect(bytes);
  CHECK(d.verdict == DumpVerdict::plain_ok);
  CHECK(d.pg_dump_version.starts_with("15."));
  CHECK(d.server_version.starts_with("15."));

  const auto footer = bytes.rfind("-- PostgreSQL database dump complete");
  REQUIRE(footer != std::string::npos);
  const auto cut = inspect(std::string_view(bytes).substr(0, footer - 1));
  CHECK(cut.verdict == DumpVerdict::truncated);
  CHECK(cut.detail.starts_with("plain dump without its footer"));
  CHECK(cut.offset == footer - 1);
  std::size_t bad = 0;
  for (std::size_t k = 0; k < footer + 36; ++k) {
    const auto p = inspect(std::string_view(bytes).substr(0, k));
    if (p.ok() || (p.verdict != DumpVerdict::truncated && p.verdict != DumpVerdict::not_a_dump)) {
      ++bad;
    }
  }
  CHECK(bad == 0);
  // Older pg_dump (before \restrict) and pg_dumpall.
  CHECK(inspect("--\n-- PostgreSQL database dump\n--\n\nSET x = 1;\n\n--\n-- PostgreSQL database "
                "dump complete\n--\n\n")
            .verdict == DumpVerdict::plain_ok);
  CHECK(inspect("--\n-- PostgreSQL database cluster dump\n--\n\n\\connect x\n--\n-- PostgreSQL "
                "database cluster dump complete\n--\n\n")
            .verdict == DumpVerdict::plain_ok);
}

TEST_CASE("dump archive: a large plain dump is judged from its first and last KiB") {
  const auto bytes = vector_bytes("plain.sql");
  const auto footer = bytes.rfind("\n--\n-- PostgreSQL database dump complete");
  const std::string big =
      bytes.substr(0, footer) + std::string(4 << 20, 'x') + bytes.substr(footer);
  MemoryArchiveSource source(big);
  const auto d = inspect_dump(source);
  CHECK(d.verdict == DumpVerdict::plain_ok);
  CHECK(source.bytes_read() <= 2048);
  CHECK(source.reads() == 2);
}

TEST_CASE("dump archive: error pages, compressed files and other bytes are not dumps") {
  const auto empty = inspect("");
  CHECK(empty.verdict == DumpVerdict::not_a_dump);
  CHECK(empty.detail.starts_with("empty file (0 bytes)"));

  const auto tiny = inspect("PGD");
  CHECK(tiny.verdict == DumpVerdict::not_a_dump);
  CHECK(tiny.detail.starts_with("only 3 bytes (\"PGD\")"));

  const auto html = inspect("\r\n  <!DOCTYPE html><html><body>502 Bad Gateway</body></html>");
  CHECK(html.verdict == DumpVerdict::not_a_dump);
  CHECK(html.detail.starts_with("an HTML page"));
  CHECK(html.detail.find("502 Bad Gateway") != std::string::npos);
  CHECK(inspect("<HTML><HEAD><TITLE>Login</TITLE>").detail.starts_with("an HTML page"));

  const auto json = inspect(R"({"error":"NoSuchKey","message":"not found"})");
  CHECK(json.verdict == DumpVerdict::not_a_dump);
  CHECK(json.detail.starts_with("a JSON document"));
  CHECK(json.detail.find("NoSuchKey") != std::string::npos);

  const auto xml = inspect(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code></Error>");
  CHECK(xml.verdict == DumpVerdict::not_a_dump);
  CHECK(xml.detail.starts_with("an XML document"));

  const auto gz = inspect(vector_bytes("plain.sql.gz"));
  CHECK(gz.verdict == DumpVerdict::not_a_dump);
  CHECK(gz.detail.starts_with("gzip-compressed (starts with 1f 8b 08"));
  CHECK(gz.detail.find("a dump must be pg_dump -Fc output, not piped through gzip") !=
        std::string::npos);

  std::string tar(1024, '\0');
  tar.replace(0, 7, "toc.dat");
  tar.replace(257, 6, std::string("ustar\0", 6));
  CHECK(inspect(tar).detail.starts_with("a tar archive"));

  const auto binary = inspect(std::string("\x00\x01garbage\xff", 10));
  CHECK(binary.verdict == DumpVerdict::not_a_dump);
  CHECK(
      binary.detail.starts_with("not a pg_dump archive: it starts with 00 01 67 61 72 62 61 67 65 "
                                "ff (\"\\x00\\x01garbage\\xff\")"));
}

TEST_CASE("dump archive: the header's format byte, sizes and version are checked") {
  const auto bytes = vector_bytes("custom-z0.dump");
  const auto with_byte = [&](std::size_t at, char b) {
    auto copy = bytes;
    copy[at] = b;
    return inspect(copy);
  };
  const auto tar = with_byte(10, 3);
  CHECK(tar.verdict == DumpVerdict::not_a_dump);
  CHECK(tar.offset == 10);
  CHECK(tar.detail.starts_with("the header says tar format (byte 10 is 3)"));
  CHECK(with_byte(10, 5).detail.starts_with("the header says directory format"));
  CHECK(with_byte(10, 2).detail.starts_with("unknown archive format 2 at byte 10"));
  CHECK(with_byte(8, 0).detail.starts_with("unsupported integer size 0 at byte 8"));
  CHECK(with_byte(8, 9).detail.starts_with("unsupported integer size 9 at byte 8"));
  CHECK(with_byte(9, 16).detail.starts_with("unsupported offset size 16 at byte 9"));
  CHECK(with_byte(6, 17).detail.starts_with("unsupported custom-format version 1.17 at byte 5"));
  CHECK(with_byte(5, 2).detail.starts_with("unsupported custom-format version 2.14"));
  CHECK(with_byte(6, 9).detail.starts_with("custom-format version 1.9 at byte 5 is older"));
  for (const auto at : {6, 8, 9, 10}) CHECK(with_byte(at, 17).verdict == DumpVerdict::not_a_dump);
}

TEST_CASE("dump archive: garbage TOC counts are refused without reading on") {
  const auto bytes = vector_bytes("custom-z0.dump");
  const auto at = toc_count_offset(inspect(bytes));
  REQUIRE(inspect(with_int_at(bytes, at, 24)).verdict == DumpVerdict::custom_ok);

  const auto huge = inspect(with_int_at(bytes, at, 0x7fffffff));
  CHECK(huge.verdict == DumpVerdict::not_a_dump);
  CHECK(huge.offset == at);
  CHECK(huge.detail.starts_with("corrupt TOC: it claims 2147483647 entries at byte " +
                                std::to_string(at)));
  CHECK(inspect(with_int_at(bytes, at, -3)).detail.starts_with("corrupt TOC: it claims -3"));

  // More entries than there are: the data blocks are read as TOC entries and make no sense.
  const auto more = inspect(with_int_at(bytes, at, 1000));
  CHECK_FALSE(more.ok());
  CHECK(more.detail.find("entry 25 of 1000") != std::string::npos);
  // Fewer: the rest of the TOC is taken for data blocks, which it is not.
  const auto fewer = inspect(with_int_at(bytes, at, 20));
  CHECK_FALSE(fewer.ok());

  auto bad_sign = bytes;
  bad_sign[at] = '\x07';
  const auto sign = inspect(bad_sign);
  CHECK(sign.verdict == DumpVerdict::not_a_dump);
  CHECK(sign.detail.starts_with("corrupt integer at byte " + std::to_string(at)));
}

TEST_CASE("dump archive: format versions 1.12 to 1.16 and other integer sizes are read") {
  for (const int minor : {12, 13, 14, 15, 16}) {
    for (const int int_size : {4, 8}) {
      for (const int off_size : {8, 4}) {
        Synth s;
        s.minor = minor;
        s.int_size = int_size;
        s.off_size = off_size;
        s.compression = minor >= 15 ? 3 : 0;
        CAPTURE(minor);
        CAPTURE(int_size);
        CAPTURE(off_size);
        const auto d = inspect(s.build());
        CHECK_MESSAGE(d.verdict == DumpVerdict::custom_ok, d.detail);
        CHECK(d.format_minor == minor);
        CHECK(d.compression == (minor >= 15 ? "zstd" : "none"));
        CHECK(d.created == "2024-05-07 06:05:04");
        CHECK(d.dbname == "synth");
        CHECK(d.toc_entries == 7);
        CHECK(d.data_entries == 3);
        CHECK(d.data_blocks_walked == 3);
        CHECK(d.large_objects == 2);
        CHECK(d.table_data == std::vector<std::string>{"public.stations", "public.weighings"});
      }
    }
  }
  Synth gzip;
  gzip.minor = 14;
  gzip.compression = -1;
  CHECK(inspect(gzip.build()).compression == "gzip");
  gzip.compression = 6;
  CHECK(inspect(gzip.build()).compression == "gzip level 6");
  Synth unknown;
  unknown.compression = 4;
  CHECK(inspect(unknown.build()).detail.starts_with("unknown compression algorithm 4 at byte 11"));
}

TEST_CASE("dump archive: every prefix of a 1.16 archive with 8-byte integers is truncated") {
  Synth s;
  s.int_size = 8;
  const auto bytes = s.build();
  REQUIRE(inspect(bytes).verdict == DumpVerdict::custom_ok);
  check_every_prefix("synthetic 1.16", bytes, bytes.size());
}

TEST_CASE("dump archive: data blocks must be where the TOC says, once each, and well formed") {
  const Synth base;
  const auto good = base.build();
  const auto first_block = good.size() - base.block(base.entries[3]).size() -
                           base.block(base.entries[4]).size() - base.block(base.entries[5]).size();

  Synth overlap = base;  // weighings' data placed inside stations' block
  overlap.offset_override[5] = first_block + 8;
  const auto o = inspect(overlap.build());
  CHECK(o.verdict == DumpVerdict::not_a_dump);
  CHECK(o.detail.find("places the data of TABLE DATA public.weighings (dump id 5) at byte " +
                      std::to_string(first_block + 8)) != std::string::npos);
  CHECK(o.detail.find("overlap or are out of place") != std::string::npos);

  Synth past_end = base;
  past_end.offset_override[6] = good.size() + 100;
  const auto p = inspect(past_end.build());
  CHECK(p.verdict == DumpVerdict::truncated);
  CHECK(p.detail.find("before the data of 1 of 3 data entries (the first, BLOBS (dump id 6), "
                      "would start at byte " +
                      std::to_string(good.size() + 100)) != std::string::npos);

  Synth in_toc = base;
  in_toc.offset_override[4] = 20;
  CHECK(inspect(in_toc.build()).detail.find("inside the header and TOC") != std::string::npos);

  Synth unset_one = base;  // one offset unset: pg_dump never rewrote the TOC
  unset_one.entries[4].state = 1;
  unset_one.offset_override.clear();
  const auto u = inspect(unset_one.build());
  CHECK(u.verdict == DumpVerdict::truncated);
  CHECK(u.detail.find("(1 of 3 data entries have none)") != std::string::npos);

  Synth no_flag = base;  // a data entry whose offset flag says "no data"
  no_flag.entries[3].state = 3;
  CHECK(inspect(no_flag.build())
            .detail.find("is marked as having data, but its offset flag says none") !=
        std::string::npos);
  Synth bad_flag = base;
  bad_flag.entries[3].state = 9;
  CHECK(inspect(bad_flag.build()).detail.find("has data offset flag 9") != std::string::npos);

  Synth same_id = base;
  same_id.entries[4].id = 4;
  CHECK(
      inspect(same_id.build()).detail.starts_with("corrupt TOC: two data entries have dump id 4"));

  std::string word;
  base.put_int(word, -7);
  Synth negative = base;
  negative.entries[3].payload = word;
  const auto n = inspect(negative.build());
  CHECK(n.verdict == DumpVerdict::not_a_dump);
  CHECK(n.detail.starts_with("negative chunk length -7 at byte " + std::to_string(first_block + 6) +
                             " in the data of TABLE DATA public.stations"));

  // A chunk longer than the rest of the file, in the last block.
  word.clear();
  base.put_int(word, 1000);
  Synth long_chunk = base;
  long_chunk.entries[5].payload = word;
  const auto l = inspect(long_chunk.build());
  CHECK(l.verdict == DumpVerdict::truncated);
  CHECK(l.detail.find("inside the data of BLOBS (dump id 6, block at byte ") != std::string::npos);

  auto bad_type = good;
  bad_type[first_block] = '\2';
  const auto t = inspect(bad_type);
  CHECK(t.verdict == DumpVerdict::not_a_dump);
  CHECK(t.offset == first_block);
  CHECK(t.detail.starts_with("the data block at byte " + std::to_string(first_block) +
                             " has type 2"));

  auto other_id = good;
  other_id[first_block + 2] = '\7';  // dump id 7 is the INDEX entry, which has no data
  CHECK(inspect(other_id).detail.find("is for dump id 7, which has no data entry in the TOC") !=
        std::string::npos);
}

TEST_CASE("dump archive: a failing read is reported as unreadable at every point") {
  const auto bytes = vector_bytes("custom-lo.dump");
  std::size_t ok_reads = 0;
  for (;; ++ok_reads) {
    FailingSource source(bytes, ok_reads);
    const auto d = inspect_dump(source);
    if (d.ok()) break;
    CHECK(d.verdict == DumpVerdict::unreadable);
    CHECK(d.detail.find("read error: injected") != std::string::npos);
    REQUIRE(ok_reads < 100);
  }
  CHECK(ok_reads >= 2);
}

TEST_CASE("dump archive: a file source reads the same as memory and refuses directories") {
  auto file = FileArchiveSource::open((kDumps / "custom-lo.dump").string());
  REQUIRE(file.has_value());
  const auto d = inspect_dump(**file);
  CHECK(d.verdict == DumpVerdict::custom_ok);
  CHECK(d.large_objects == 2);
  CHECK(d.file_size == vector_bytes("custom-lo.dump").size());

  const auto dir = FileArchiveSource::open(kDumps.string());
  REQUIRE_FALSE(dir.has_value());
  CHECK(dir.error() == boost::system::errc::is_a_directory);
  const auto missing = FileArchiveSource::open((kDumps / "no-such.dump").string());
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error() == boost::system::errc::no_such_file_or_directory);
}
