// restore --dir: the dump to restore fetched from a backup location first (a folder, an rclone
// remote, an rclone crypt remote in front of a bucket, which decrypts on the way;
// docs/operations.md, "Encrypted offsite copies"). The dump and its manifest land side by side in
// a download folder, so that restore_dump checks the sha256 the manifest records exactly as for a
// local file.
#include <unistd.h>

#include <filesystem>
#include <ostream>

#include "weighlink/base/subprocess.hpp"
#include "weighlink/recovery/backup_catalog.hpp"
#include "weighlink/recovery/offsite.hpp"
#include "weighlink/recovery/restore.hpp"

namespace weighlink::recovery {

namespace fs = std::filesystem;

RestoreResult restore_from_location(const RestoreOptions& options, const FetchSource& source,
                                    std::ostream& progress) {
  const auto fail = [](int code, std::string what) {
    return RestoreFailure{code, std::move(what) + "; the target was not touched"};
  };
  const auto locations = parse_locations(source.locations);
  if (!locations) return fail(kExitUsage, locations.error().message);
  auto found = find_verified_latest(*locations);
  if (!found) return fail(kExitFailure, found.error().message);
  Store& store = *found->reachable.store;
  const std::string where = store.location().display();
  if (!found->reachable.skipped.empty()) progress << describe_fallback(found->reachable) << "\n";

  RestoreOptions local = options;
  if (options.file.empty()) {
    if (!found->pointer) {
      return fail(kExitFailure, "no usable verified-latest in " + where + " (" + found->why +
                                    "): run verify-backup, or name a dump with --file");
    }
    local.file = found->pointer->dump;
    local.expected_sha256 = found->pointer->sha256;
    progress << "verified-latest in " << where << " is " << local.file << " (verified "
             << format_utc_timestamp(found->pointer->verified_at) << ")\n";
  }
  if (auto name = check_file_name(local.file); !name || dump_base(local.file).empty()) {
    return fail(kExitUsage, "--file " + local.file + " is not a dump's file name in " + where +
                                " (weighlink_*.dump, no folder)");
  }

  // A folder of its own: the dump and its manifest under their names, removed when done.
  const fs::path staging =
      (source.staging_dir.empty() ? base::temp_folder() : fs::path(source.staging_dir)) /
      ("wl-restore-" + std::to_string(::getpid()));
  struct RemoveFolder {
    fs::path path;
    ~RemoveFolder() {
      std::error_code ec;
      if (!path.empty()) fs::remove_all(path, ec);
    }
  } cleanup{store.location().remote() ? staging : fs::path()};
  std::error_code ec;
  if (store.location().remote()) {
    fs::create_directories(staging, ec);
    if (ec) {
      return fail(kExitFailure, "cannot create " + staging.string() + ": " + ec.message() +
                                    "; give a --staging-dir this user may write in");
    }
  }
  auto fetched = store.fetch(local.file, staging / local.file);
  if (!fetched) return fail(kExitFailure, fetched.error().message);
  if (store.location().remote()) {
    // Without its manifest the restore still checks the pointer's sha256 (when there is one).
    const auto manifest = manifest_name(local.file);
    if (auto m = store.fetch(manifest, staging / manifest);
        !m && m.error().code != OffsiteErrc::not_found) {
      return fail(kExitFailure, m.error().message);
    }
    progress << "fetched " << local.file << " from " << where << "\n";
  }
  local.file = fetched->string();
  return restore_dump(local, progress);
}

}  // namespace weighlink::recovery
