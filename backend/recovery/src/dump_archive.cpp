// inspect_dump(): what a backup file is, without a server. The custom format's header, TOC and
// data blocks are read in dump_archive_custom.cpp; the format itself is described in
// dump_archive_inspector.hpp.
#include "weighlink/recovery/dump_archive.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <utility>

#include "dump_archive_inspector.hpp"

namespace weighlink::recovery {

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

namespace dump_detail {

void Inspector::run() {
  out_.file_size = win_.size();
  if (!inspect()) {
    out_.verdict = problem_->verdict;
    out_.detail = std::move(problem_->detail);
    out_.offset = problem_->offset;
  }
}

bool Inspector::inspect() {
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

bool Inspector::plain(std::string_view head, std::string_view footer, std::string_view tool) {
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

bool Inspector::not_a_dump(std::span<const std::byte> head) {
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
                    "); a dump must be pg_dump -Fc output, not piped through " + std::string(tool) +
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

std::string Inspector::unset_note() const {
  return unset_ == 0 ? std::string()
                     : " (and the TOC's data offsets were never written: pg_dump did not "
                       "finish)";
}

bool Inspector::need(std::uint64_t at, std::size_t n, const std::byte*& p, std::size_t ahead) {
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
              "could not read " + num(n) + " bytes at byte " + num(at) + " of " + num(win_.size()) +
                  (error.empty() ? std::string() : ": " + error) +
                  "; check the disk or the file system, then run the check again");
}

// Where the field being read is, for a detail.
std::string Inspector::where() const {
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

}  // namespace dump_detail

DumpInspection inspect_dump(ArchiveSource& source) noexcept {
  DumpInspection out;
  try {
    dump_detail::Inspector(source, out).run();
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

}  // namespace weighlink::recovery
