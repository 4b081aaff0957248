// The pg_dump custom format, read as pg_restore reads it: the archive header, the TOC and the
// data blocks to the last one (dump_archive_inspector.hpp describes the layout).
#include <cstdio>
#include <cstring>
#include <limits>

#include "dump_archive_inspector.hpp"

namespace weighlink::recovery::dump_detail {

bool Inspector::custom() {
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

std::string Inspector::creation_time(const std::int64_t (&tm)[7]) {
  // tm_sec, tm_min, tm_hour, tm_mday, tm_mon, tm_year, tm_isdst as pg_dump's localtime().
  if (tm[0] < 0 || tm[0] > 60 || tm[1] < 0 || tm[1] > 59 || tm[2] < 0 || tm[2] > 23 || tm[3] < 1 ||
      tm[3] > 31 || tm[4] < 0 || tm[4] > 11 || tm[5] < 0 || tm[5] > 8099) {
    return {};
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", static_cast<int>(tm[5] + 1900),
                static_cast<int>(tm[4] + 1), static_cast<int>(tm[3]), static_cast<int>(tm[2]),
                static_cast<int>(tm[1]), static_cast<int>(tm[0]));
  return buf;
}

bool Inspector::toc(std::uint64_t& pos) {
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
    if (e.desc == "EXTENSION") out_.extensions.push_back(e.name);
    if (e.state == kNoData) continue;
    if (!ns.empty()) e.name = ns + "." + e.name;
    if (e.desc == "TABLE DATA") out_.table_data.push_back(e.name);
    entries_.push_back(std::move(e));
    out_.data_entries = entries_.size();
  }
  toc_end_ = pos;
  return true;
}

bool Inspector::data(std::uint64_t pos) {
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
                  "corrupt TOC: two data entries have dump id " + std::to_string(e.dump_id) + " (" +
                      describe(entries_[by_id[i - 1].second]) + " and " + e.desc + ")" +
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

// One data block at `pos`, to the byte after its terminator.
bool Inspector::block(std::uint64_t& pos) {
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
                    ", which has no data entry in the TOC" + unset_note() + std::string(kCorrupt));
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
bool Inspector::chunks(std::uint64_t& pos) {
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

bool Inspector::read_int(std::uint64_t& pos, std::int64_t& value) {
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
bool Inspector::read_str(std::uint64_t& pos, std::string* keep, bool* is_null) {
  const auto len_at = pos;
  std::int64_t len = 0;
  if (!read_int(pos, len)) return false;
  if (is_null != nullptr) *is_null = len == -1;
  if (len == -1) return true;
  if (len < -1 || len > kMaxString) {
    return fail(DumpVerdict::not_a_dump, len_at,
                "corrupt string length " + std::to_string(len) + " at byte " + num(len_at) + ", " +
                    where() + std::string(kCorrupt));
  }
  const auto ulen = static_cast<std::uint64_t>(len);
  if (ulen > win_.size() - pos) {
    return fail(DumpVerdict::truncated, len_at,
                "the file ends at byte " + num(win_.size()) + ", " + where() +
                    ": the string at byte " + num(len_at) + " declares " + num(ulen) + " bytes, " +
                    num(win_.size() - pos) + " are left" + std::string(kRetake));
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

}  // namespace weighlink::recovery::dump_detail
