#pragma once
// What a backup folder holds, as backup, verify-backup, drill and dr-status read it:
//   weighlink_YYYYMMDD_HHMMSS.dump            pg_dump -Fc
//   weighlink_YYYYMMDD_HHMMSS.manifest.json   written by backup after the dump is complete
//   weighlink_YYYYMMDD_HHMMSS.verified.json   written by verify-backup when the dump passed
//   verified-latest                           the newest verified dump (JSON), replaced atomically
// Parsing is pure; listing goes through an offsite Store (a local folder or an rclone remote).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/base/error.hpp"
#include "weighlink/recovery/backup_policy.hpp"
#include "weighlink/recovery/offsite.hpp"

namespace weighlink::recovery {

inline constexpr std::string_view kManifestFormat = "weighlink-backup/1";
inline constexpr std::string_view kVerifiedLatest = "verified-latest";

struct BackupManifest {
  std::string dump;  // file name, beside the manifest
  std::uint64_t size_bytes = 0;
  std::string sha256;
  std::int64_t created_at = 0;
  std::string created_at_text;
  std::string server_version;
  std::string generation;  // the database's generation at the dump (empty: before it was recorded)
  RowCounts row_counts;
  std::map<std::string, std::int64_t> station_high_water;
  // The evidence files (schema v6) in the dump: how many complete, and pg::kEvidenceSummarySql's
  // checksum over their names and sizes. Absent from manifests of older backups.
  std::optional<std::int64_t> evidence_blobs;
  std::string evidence_checksum;
};

// Parses a manifest; invalid_argument saying which field is wrong.
[[nodiscard]] base::Expected<BackupManifest> parse_manifest(std::string_view json);

// "weighlink_20261121_030007.dump" -> "weighlink_20261121_030007"; "" when not a .dump name.
[[nodiscard]] std::string dump_base(std::string_view dump_name);
[[nodiscard]] std::string manifest_name(std::string_view dump_name);
// NAME.verified.json; a name that does not end in .dump keeps its suffix (db.sql.verified.json).
[[nodiscard]] std::string verified_name(std::string_view dump_name);

// The verified-latest pointer.
struct VerifiedLatest {
  std::string dump;
  std::string sha256;
  std::int64_t created_at = 0;   // the dump's manifest time (what the RPO is measured from)
  std::int64_t verified_at = 0;  // when verify-backup passed it
};
[[nodiscard]] std::string to_json(const VerifiedLatest& pointer);
[[nodiscard]] std::optional<VerifiedLatest> parse_verified_latest(std::string_view json);

// A folder's dumps as their manifests describe them (unreadable manifests are skipped with a
// note), which of them verify-backup passed, and the verified-latest pointer.
struct Catalog {
  std::vector<DumpRecord> records;
  std::map<std::string, BackupManifest> manifests;  // by dump name
  std::map<std::string, std::uint64_t> sizes;       // every file listed, by name
  std::optional<VerifiedLatest> latest;
  std::vector<std::string> notes;
};
[[nodiscard]] Catalog read_catalog(Store& store, const std::vector<StoreEntry>& entries);

// The first of `locations` that answers, and its verified-latest pointer: what a recovery or a
// drill restores. Reads the pointer alone (not every manifest). An error when no location
// answers; `pointer` empty, with `why`, when the one that answered has none or an unreadable one.
struct VerifiedLatestAt {
  ReachableStore reachable;
  std::optional<VerifiedLatest> pointer;
  std::string why;  // when there is no pointer: the read error, or "it cannot be read"
};
[[nodiscard]] OffsiteResult<VerifiedLatestAt> find_verified_latest(
    const std::vector<Location>& locations);

}  // namespace weighlink::recovery
