#pragma once
// Backup locations: a local folder or an rclone remote (`name:path`, or an on-the-fly remote such
// as `:webdav,url='http://127.0.0.1:1234':path`), behind one Store interface, and the ordered
// fallback that verify-backup reads through (SPEC §6;
// docs/decisions/0004-offsite-through-rclone.md).
//
// rclone (the `rclone` binary, Debian package `rclone`) does every remote protocol; nothing here
// speaks S3 or WebDAV itself. Remote operations run `rclone` as a child process with bounded
// timeouts and retries, so that an unreachable endpoint fails in seconds, not minutes.
//
// Errors are returned, never thrown, as an OffsiteError whose code tells "endpoint unreachable"
// (connection refused, timeout, DNS, HTTP 5xx) from "not found" and from everything else.

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "weighlink/base/timestamp.hpp"

namespace weighlink::recovery {

enum class OffsiteErrc {
  ok = 0,
  // A location string or a file name that cannot be used (empty, a path in a name, ...).
  invalid_argument,
  // The endpoint did not answer: connection refused, connect or I/O timeout, DNS failure, TLS
  // handshake failure, HTTP 5xx. Worth trying a fallback, or again later.
  unreachable,
  // The endpoint answered: no such file or folder.
  not_found,
  // No location of an ordered list could be listed (open_first_reachable); the notes say why for
  // each. verify-backup reports it as OFFSITE_ENDPOINT_DOWN.
  none_reachable,
  // Anything else: refused credentials, a read-only remote, a full disk, rclone missing, ...
  failed,
};

[[nodiscard]] const boost::system::error_category& offsite_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(OffsiteErrc e) noexcept {
  return {static_cast<int>(e), offsite_category()};
}

struct OffsiteError {
  OffsiteErrc code = OffsiteErrc::failed;
  // What failed, with which location, and what to do next: for a person.
  std::string message;
  // The cause alone: rclone's last error line, or the system's error text.
  std::string detail;
};

// boost::system::result<T, OffsiteError>::value() on an error throws std::runtime_error(message).
[[noreturn]] void throw_exception_from_error(const OffsiteError& error,
                                             const boost::source_location& loc);

template <class T>
using OffsiteResult = boost::system::result<T, OffsiteError>;

struct Location {
  enum class Kind { local, remote };
  Kind kind = Kind::local;
  // The string as given: a local path, or an rclone remote spec passed to rclone unchanged.
  std::string spec;

  [[nodiscard]] bool remote() const { return kind == Kind::remote; }
  // `spec` with the values of secret-looking connection-string parameters (pass, password, key,
  // secret, token) and URL passwords replaced by "***": for reports and logs.
  [[nodiscard]] std::string display() const;
  friend bool operator==(const Location&, const Location&) = default;
};

// A string with a ':' before its first '/' is an rclone remote, unless the part before the colon
// is a single letter (a Windows drive such as `C:` or `C:\backups`); anything else is a local
// path. Pure. An empty string is refused.
[[nodiscard]] OffsiteResult<Location> parse_location(std::string spec);
// Each of `specs` in order (a command's --dir, then its --mirror or --fallback locations); the
// first one refused is the error.
[[nodiscard]] OffsiteResult<std::vector<Location>> parse_locations(
    const std::vector<std::string>& specs);

// A regular file directly in a location.
struct StoreEntry {
  std::string name;
  std::uint64_t size = 0;
  std::chrono::system_clock::time_point mod_time;
  friend bool operator==(const StoreEntry&, const StoreEntry&) = default;
};

// Uploads go to `name + kPartialSuffix` first and are renamed into place when complete, so that a
// reader never sees an incomplete file under its final name; leftovers of an interrupted upload
// keep the suffix (list() returns them; callers match the names they expect).
inline constexpr std::string_view kPartialSuffix = ".partial";

// read_small() refuses files bigger than this (it is for manifests and pointers, not dumps).
inline constexpr std::uint64_t kMaxSmallBytes = 1 << 20;

// One location. Implementations keep no mutable state: calls may run concurrently from several
// threads; concurrent writes of the same name race as they would on the storage itself.
class Store {
 public:
  virtual ~Store() = default;
  [[nodiscard]] virtual const Location& location() const = 0;
  // The regular files directly in the location (not in sub-folders), in no particular order.
  [[nodiscard]] virtual OffsiteResult<std::vector<StoreEntry>> list() = 0;
  // A local path where file `name` can be read: for a remote, `local_path` once downloaded (via
  // `local_path.partial`); for a local location the file itself, in place, without a copy (do not
  // modify or remove it, and do not assume `local_path` was written).
  [[nodiscard]] virtual OffsiteResult<std::filesystem::path> fetch(
      const std::string& name, const std::filesystem::path& local_path) = 0;
  // Uploads `local_file` as `name`, replacing it; atomic for readers (see kPartialSuffix).
  [[nodiscard]] virtual OffsiteResult<void> put(const std::filesystem::path& local_file,
                                                const std::string& name) = 0;
  // Removes file `name`; not_found when there is none.
  [[nodiscard]] virtual OffsiteResult<void> remove(const std::string& name) = 0;
  // The contents of a small file (at most kMaxSmallBytes): manifests, the verified-latest pointer.
  [[nodiscard]] virtual OffsiteResult<std::string> read_small(const std::string& name) = 0;
  // Writes a small file, replacing it; atomic for readers like put().
  [[nodiscard]] virtual OffsiteResult<void> write_small(const std::string& name,
                                                        std::string_view text) = 0;
};

// How rclone is run. The defaults make an unreachable endpoint fail within about connect_timeout
// (refused: well under a second; silent: connect_timeout or io_timeout), see the decision record.
struct RcloneOptions {
  std::string binary = "rclone";  // looked up on PATH unless it contains '/'
  // --config; empty: rclone's own default (RCLONE_CONFIG, ~/.config/rclone/rclone.conf).
  std::filesystem::path config_file;
  std::chrono::seconds connect_timeout{5};  // --contimeout (TCP connect and TLS handshake)
  // --timeout of listings, small files, deletes and renames: idle I/O and waiting for response
  // headers.
  std::chrono::seconds io_timeout{10};
  // --timeout of dump transfers (put, fetch): a server may take a while to answer after the last
  // byte of a large upload.
  std::chrono::seconds transfer_io_timeout{60};
  int low_level_retries = 1;           // --low-level-retries of everything but transfers
  int transfer_low_level_retries = 3;  // --low-level-retries of put and fetch (chunk retries)
  // Wall-clock limit of one rclone run other than a transfer; rclone is killed past it (a guard
  // against a hang the timeouts above do not cover). Transfers are bounded by their I/O timeout.
  std::chrono::seconds small_op_deadline{60};
  // Appended to every rclone command line (e.g. "--bwlimit", "8M").
  std::vector<std::string> extra_flags;
};

// The store for a location: std::filesystem for local paths, rclone for remotes.
[[nodiscard]] std::unique_ptr<Store> open_store(const Location& location,
                                                const RcloneOptions& options = {});

using StoreFactory = std::function<std::unique_ptr<Store>(const Location&)>;

// A location of an ordered list that could not be listed, and why.
struct FallbackNote {
  Location location;
  OffsiteError error;
  std::chrono::milliseconds elapsed{0};
};

struct ReachableStore {
  std::unique_ptr<Store> store;
  std::size_t index = 0;              // in the list given to open_first_reachable
  std::vector<StoreEntry> entries;    // what its list() returned
  std::vector<FallbackNote> skipped;  // the locations before it, in order
};

// The first location whose list() works, with the notes of those before it that failed ("primary
// X unreachable (reason), served by fallback Y"). When none works: none_reachable, its message
// naming every location and reason. `factory` defaults to open_store with default options.
[[nodiscard]] OffsiteResult<ReachableStore> open_first_reachable(
    const std::vector<Location>& locations, const StoreFactory& factory = {});

// For the report: "served by primary X", or "primary X unreachable (reason), served by fallback
// Y" with every skipped location and its reason. Pure.
[[nodiscard]] std::string describe_fallback(const ReachableStore& reachable);

// Pure helpers, exposed for the unit tests.

// `name` is a plain file name: not empty, not "." or "..", no '/', '\\' or control characters.
[[nodiscard]] OffsiteResult<void> check_file_name(std::string_view name);
// The rclone path of `name` inside remote `spec` (`s3:bucket/dir` -> `s3:bucket/dir/name`,
// `remote:` -> `remote:name`).
[[nodiscard]] std::string remote_path(std::string_view spec, std::string_view name);
// The files of `rclone lsjson --files-only` output (directories skipped).
[[nodiscard]] OffsiteResult<std::vector<StoreEntry>> parse_lsjson(std::string_view json);
// RFC 3339 time as rclone prints it ("2024-05-01T03:00:00.123456789+02:00", "...Z").
using base::parse_rfc3339;
// The category of a failed rclone run from its exit status and stderr.
[[nodiscard]] OffsiteErrc classify_rclone_failure(int exit_status, std::string_view stderr_text);
// The most telling line of rclone's stderr (its last error, without the timestamp), shortened.
[[nodiscard]] std::string rclone_error_summary(std::string_view stderr_text);

}  // namespace weighlink::recovery

template <>
struct boost::system::is_error_code_enum<weighlink::recovery::OffsiteErrc> : std::true_type {};
