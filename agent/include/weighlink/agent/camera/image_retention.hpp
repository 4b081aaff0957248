#pragma once
// Image retention (docs/devices.md, "Camera evidence"): an image file is deleted once no record
// of the outbox or of its evidence archive lists it in `attachments` any more (its records were
// trimmed after the legal retention period, the backend holding them in a verified backup). Files
// younger than a grace period are kept: their record may not be written yet.
// Threading: sweep_images() reads the whole outbox and the blob folder: call it off the io thread.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "weighlink/sync/blob_store.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::agent::camera {

struct BlobFile {
  std::string sha256;
  std::filesystem::file_time_type modified;
};

// The files to delete: not referenced, and modified before `now - grace`. Pure.
[[nodiscard]] std::vector<std::string> unreferenced_images(const std::set<std::string>& referenced,
                                                           const std::vector<BlobFile>& files,
                                                           std::filesystem::file_time_type now,
                                                           std::chrono::seconds grace);

struct SweepResult {
  std::uint64_t files = 0;    // blob files seen
  std::uint64_t removed = 0;  // deleted
  std::string error;          // the outbox could not be read: nothing was deleted
};

[[nodiscard]] SweepResult sweep_images(sync::Outbox& outbox, const sync::BlobStore& blobs,
                                       std::chrono::seconds grace);

}  // namespace weighlink::agent::camera
