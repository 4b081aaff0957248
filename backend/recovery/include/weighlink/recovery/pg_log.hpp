#pragma once
// The monitor's view of the PostgreSQL server log (docs/operations.md, "Health monitor",
// "Corruption indicators"): which lines show damaged data or a crashed server
// (match_corruption_indicator, pure), and a follower that reads a log file incrementally across
// rotation and truncation (PgLogFollower, POSIX file I/O).
//
// Threading: the functions are pure; a PgLogFollower belongs to one thread.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/base/error.hpp"

namespace weighlink::recovery {

// What an indicator means for the monitor. `damage`: the data files are damaged (a page that
// fails its header or checksum check, a relation file the server cannot read, write or open); the
// check that sees it fails (state `corrupt`) and counts toward --threshold, because the damage
// stays until the data is restored. `crash`: a server process crashed, the server reinitialised,
// or a startup was interrupted; PostgreSQL recovers from these by itself from its WAL, so they
// alert and never count (a server that does not come back fails the reachability check anyway).
enum class IndicatorKind { damage, crash };

struct IndicatorMatch {
  std::string_view
      indicator;  // invalid_page, checksum_failure, read_error, ... (corruption_indicators())
  IndicatorKind kind = IndicatorKind::damage;
};

// Every indicator, with what it means: for the documentation and the alerts.
struct IndicatorInfo {
  std::string_view indicator;
  IndicatorKind kind;
  std::string_view meaning;
};
[[nodiscard]] const std::vector<IndicatorInfo>& corruption_indicators();

// The indicator one server log line shows, nullopt when it shows none. The line is in the stderr
// format (log_destination = stderr, any log_line_prefix; syslog and the journal carry the same
// text): "<prefix>ERROR:  <message>". Only the message of a LOG, WARNING, ERROR, FATAL or PANIC
// line is matched, from its start; the texts are PostgreSQL 15's in English (lc_messages C or en).
[[nodiscard]] std::optional<IndicatorMatch> match_corruption_indicator(std::string_view line);

// "damage" or "crash".
[[nodiscard]] std::string_view indicator_kind_name(IndicatorKind kind);

// Reads the lines a log file gained since the last read. The first read starts at the file's end
// (what was logged before the monitor started is not news; a file that does not exist yet is read
// from its start once it appears). A rotated file (the path names another file) is read to its
// end before the new one is read from its start; a file truncated in place (copytruncate) is read
// from its start again. A line is returned once complete (its newline written); lines longer than
// kMaxLine are cut there.
class PgLogFollower {
 public:
  static constexpr std::size_t kMaxLine = 8192;
  // At most this much is read per call; the rest comes with the next.
  static constexpr std::size_t kMaxRead = std::size_t{16} << 20;

  explicit PgLogFollower(std::string path);
  ~PgLogFollower();
  PgLogFollower(const PgLogFollower&) = delete;
  PgLogFollower& operator=(const PgLogFollower&) = delete;

  // The complete lines written since the last call; an Error (what, which file, what to do) when
  // the file cannot be read (a file that does not exist is no error: no lines).
  [[nodiscard]] base::Expected<std::vector<std::string>> read_new_lines();
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  void read_from_fd(std::vector<std::string>& lines, std::size_t& budget);
  void close_fd() noexcept;

  std::string path_;
  int fd_ = -1;
  dev_t device_ = 0;
  ino_t inode_ = 0;
  std::uint64_t offset_ = 0;
  std::string partial_;
  bool started_ = false;  // the first read happened (later files are read from their start)
};

}  // namespace weighlink::recovery
