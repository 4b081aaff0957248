// The corruption indicators of a PostgreSQL 15 server log (pg_log.hpp). Each text below is the
// server's own message (src/backend: storage/buffer/bufmgr.c, storage/page/bufpage.c,
// storage/smgr/md.c, storage/file/fd.c, postmaster/postmaster.c, access/transam/xlog.c), as the
// PostgreSQL 15 binary carries it; the unit test matches lines a real server logged.
#include <array>

#include "weighlink/recovery/pg_log.hpp"

namespace weighlink::recovery {
namespace {

using Kind = IndicatorKind;

// One rule: the message starts with `starts` and contains `contains` (empty: anything). The first
// rule that matches names the line. A message is matched from its start only: an error message
// that quotes a client's input ("invalid input syntax for type numeric: \"...\"") never
// matches, nor do the DETAIL, STATEMENT, CONTEXT and HINT lines that carry a query's text.
struct Rule {
  std::string_view indicator;
  Kind kind;
  std::string_view starts;
  std::string_view contains;
};

constexpr std::array kRules = {
    // bufpage.c: a page whose checksum does not match (WARNING, then bufmgr's ERROR below).
    Rule{"checksum_failure", Kind::damage, "page verification failed, calculated checksum ", ""},
    // bufmgr.c: a page that failed its header or checksum check ("; zeroing out page" with
    // zero_damaged_pages).
    Rule{"invalid_page", Kind::damage, "invalid page in block ", ""},
    // md.c: reading, writing, extending or syncing a relation's file failed.
    Rule{"read_error", Kind::damage, "could not read block ", ""},
    Rule{"write_error", Kind::damage, "could not write block ", ""},
    Rule{"write_error", Kind::damage, "could not extend file \"", ""},
    Rule{"write_error", Kind::damage, "could not fsync file \"", ""},
    // md.c / fd.c: a relation's or the cluster's own file cannot be opened. Paths are relative
    // to the data directory; a client's COPY file or a configuration file is not damage.
    Rule{"file_missing", Kind::damage, "could not open file \"base/", ""},
    Rule{"file_missing", Kind::damage, "could not open file \"global/", ""},
    Rule{"file_missing", Kind::damage, "could not open file \"pg_tblspc/", ""},
    Rule{"file_missing", Kind::damage, "could not open file \"pg_xact/", ""},
    Rule{"file_missing", Kind::damage, "could not open file \"pg_multixact/", ""},
    Rule{"file_missing", Kind::damage, "could not open file \"pg_wal/", ""},
    // The file system's own EIO, whatever the operation ("could not write to file ...: ").
    Rule{"io_error", Kind::damage, "could not ", ": Input/output error"},
    // postmaster.c: the startup process (crash recovery, or recovery from an archive) died.
    Rule{"startup_failed", Kind::crash, "startup process (PID ", "was terminated by"},
    Rule{"startup_failed", Kind::crash, "startup process (PID ", "exited with exit code"},
    Rule{"startup_failed", Kind::crash, "shutting down due to startup process failure", ""},
    // postmaster.c: a backend crashed; the postmaster ends the others and reinitialises.
    Rule{"backend_crash", Kind::crash, "server process (PID ", "was terminated by"},
    Rule{"backend_crash", Kind::crash, "server process (PID ", "exited with exit code"},
    Rule{"backend_crash", Kind::crash, "terminating any other active server processes", ""},
    // xlog.c: the server starts after a crash (or an unclean stop) and replays its WAL.
    Rule{"recovery_interrupted", Kind::crash, "database system was interrupted", ""},
};

// The severities whose message can be an indicator, as the stderr log writes them (after any
// log_line_prefix, and in syslog and the journal too): "ERROR:  message".
constexpr std::array<std::string_view, 5> kSeverities = {
    "LOG:  ", "WARNING:  ", "ERROR:  ", "FATAL:  ", "PANIC:  "};
// The lines that follow a message and may quote a client's text.
constexpr std::array<std::string_view, 6> kFollowers = {
    "DETAIL:  ", "STATEMENT:  ", "CONTEXT:  ", "HINT:  ", "QUERY:  ", "LOCATION:  "};

// The message of a line: the text after its first severity tag; nullopt when the line has none,
// or when a follower's tag comes first.
std::optional<std::string_view> message_of(std::string_view line) {
  std::size_t at = std::string_view::npos;
  std::size_t length = 0;
  bool follower = false;
  auto earliest = [&](const auto& tags, bool is_follower) {
    for (const auto tag : tags) {
      const auto found = line.find(tag);
      if (found < at) {
        at = found;
        length = tag.size();
        follower = is_follower;
      }
    }
  };
  earliest(kSeverities, false);
  earliest(kFollowers, true);
  if (at == std::string_view::npos || follower) return std::nullopt;
  return line.substr(at + length);
}

}  // namespace

const std::vector<IndicatorInfo>& corruption_indicators() {
  static const std::vector<IndicatorInfo> all = {
      {"checksum_failure", Kind::damage,
       "a data page's checksum does not match its contents (data checksums on): the page changed "
       "on disk after PostgreSQL wrote it"},
      {"invalid_page", Kind::damage,
       "a data page failed its header or checksum check when it was read: the query that read it "
       "failed"},
      {"read_error", Kind::damage, "PostgreSQL could not read a block of a relation's file"},
      {"write_error", Kind::damage,
       "PostgreSQL could not write, extend or fsync a relation's file"},
      {"file_missing", Kind::damage,
       "a relation's or the cluster's own file could not be opened (deleted, permissions, "
       "file-system damage)"},
      {"io_error", Kind::damage, "the file system returned an I/O error (EIO)"},
      {"checksum_failures", Kind::damage,
       "pg_stat_database.checksum_failures rose since the previous check"},
      {"backend_crash", Kind::crash,
       "a server process crashed (a signal, or an exit code other than 0 or 1); the server ended "
       "every session and reinitialised"},
      {"startup_failed", Kind::crash,
       "the startup process (crash recovery) failed: the server does not come up"},
      {"recovery_interrupted", Kind::crash,
       "the server starts after a crash or an unclean stop and replays its WAL"},
  };
  return all;
}

std::optional<IndicatorMatch> match_corruption_indicator(std::string_view line) {
  const auto message = message_of(line);
  if (!message) return std::nullopt;
  for (const auto& rule : kRules) {
    if (message->starts_with(rule.starts) &&
        (rule.contains.empty() || message->find(rule.contains) != std::string_view::npos)) {
      return IndicatorMatch{rule.indicator, rule.kind};
    }
  }
  return std::nullopt;
}

std::string_view indicator_kind_name(IndicatorKind kind) {
  return kind == IndicatorKind::damage ? "damage" : "crash";
}

}  // namespace weighlink::recovery
