#pragma once
// A folder of pg_dump files without weighlink manifests, as verify-backup reads it: which files
// are dumps (a DumpNamePattern), when each was made (the name's time, or the file's modification
// time), which passed verification before (NAME.verified.json beside it), and a dump's
// `sha256sum` sidecar (NAME.sha256). Pure: it works on a listing, never on the folder itself.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/base/error.hpp"
#include "weighlink/recovery/backup_catalog.hpp"
#include "weighlink/recovery/backup_policy.hpp"
#include "weighlink/recovery/dump_pattern.hpp"
#include "weighlink/recovery/offsite.hpp"

namespace weighlink::recovery {

enum class NewestBy { name, mtime };

// The files of `entries` that `pattern` matches, except those in `skip`, as DumpRecords:
// created_at the name's time (NewestBy::mtime: the file's modification time), size_bytes the
// listed size, verified when its verified record (verified_name) is listed too.
[[nodiscard]] std::vector<DumpRecord> pattern_dumps(const std::vector<StoreEntry>& entries,
                                                    const DumpNamePattern& pattern, NewestBy by,
                                                    const std::set<std::string>& skip = {});

// The newest dump of any of `patterns` (ties: the later name), and the index of its pattern.
struct PatternDump {
  DumpRecord record;
  std::size_t pattern = 0;
};
[[nodiscard]] std::optional<PatternDump> newest_pattern_dump(
    const std::vector<StoreEntry>& entries, const std::vector<DumpNamePattern>& patterns,
    NewestBy by, const std::set<std::string>& skip = {});

// The index of the first of `patterns` that matches `name`.
[[nodiscard]] std::optional<std::size_t> pattern_of(std::string_view name,
                                                    const std::vector<DumpNamePattern>& patterns);

// Files that are weighlink backups, not "any pg_dump" (verify-backup and prune leave them to the
// manifests): those with a manifest and, in a folder where weighlink-backend backup writes (one
// with manifests), its dumps whose manifest is not written yet.
[[nodiscard]] std::set<std::string> weighlink_backup_names(const Catalog& catalog,
                                                           const std::vector<StoreEntry>& entries);

// "NAME.sha256"
[[nodiscard]] std::string sidecar_name(std::string_view dump_name);

// The digest in a `sha256sum` line for `dump_name` ("<64 hex>  NAME", "<64 hex> *NAME", or the
// digest alone), lower case. invalid_argument when there is no such digest, or the line names
// another file.
[[nodiscard]] base::Expected<std::string> parse_sha256_sidecar(std::string_view text,
                                                               std::string_view dump_name);

}  // namespace weighlink::recovery
