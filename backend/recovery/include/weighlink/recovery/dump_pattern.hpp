#pragma once
// A backup file-name pattern with a timestamp, strftime-like: `pg_dump_%Y%m%d_%H%M.dump` matches
// `pg_dump_20261121_0300.dump` and says when that is (Unix seconds, the name read as UTC).
//   %Y  four digits      %m %d %H %M %S  two digits      %%  a literal '%'
// Every other character stands for itself. %Y, %m and %d are required; a missing %H, %M or %S
// is 0. A name with a day that does not exist (20260230) does not match.
//
// Pure (no clock, no file system). Threading: an immutable value; share it freely.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/base/error.hpp"

namespace weighlink::recovery {

class DumpNamePattern {
 public:
  // invalid_argument naming the pattern and what is wrong (an unknown %x, a field twice, no %Y).
  [[nodiscard]] static base::Expected<DumpNamePattern> parse(std::string_view pattern);

  // The time a matching file name stands for; nullopt when `file_name` does not match.
  [[nodiscard]] std::optional<std::int64_t> match(std::string_view file_name) const;

  [[nodiscard]] const std::string& text() const noexcept { return text_; }

 private:
  struct Part {
    char field = 0;       // 'Y', 'm', 'd', 'H', 'M', 'S'; 0 for literal text
    std::string literal;  // when field is 0
  };
  DumpNamePattern() = default;
  std::string text_;
  std::vector<Part> parts_;
};

// What a folder holds by default: a platform's nightly CronJob's dumps and weighlink's own.
inline constexpr std::string_view kDefaultDumpPatterns[] = {"pg_dump_%Y%m%d_%H%M.dump",
                                                            "weighlink_%Y%m%d_%H%M%S.dump"};

// The --pattern flags of verify-backup and prune, parsed in order (none given:
// kDefaultDumpPatterns); the first bad one's invalid_argument.
[[nodiscard]] base::Expected<std::vector<DumpNamePattern>> parse_dump_patterns(
    const std::vector<std::string>& texts);

}  // namespace weighlink::recovery
