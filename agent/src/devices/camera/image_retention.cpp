// Image retention (image_retention.hpp).
#include "weighlink/agent/camera/image_retention.hpp"

#include "weighlink/sync/evidence_check.hpp"

namespace weighlink::agent::camera {

std::vector<std::string> unreferenced_images(const std::set<std::string>& referenced,
                                             const std::vector<BlobFile>& files,
                                             std::filesystem::file_time_type now,
                                             std::chrono::seconds grace) {
  std::vector<std::string> out;
  for (const auto& f : files) {
    if (!referenced.contains(f.sha256) && f.modified + grace <= now) out.push_back(f.sha256);
  }
  return out;
}

SweepResult sweep_images(sync::Outbox& outbox, const sync::BlobStore& blobs,
                         std::chrono::seconds grace) {
  SweepResult result;
  // The blob files first: a file written after this listing is not looked at.
  std::vector<BlobFile> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(blobs.root(), ec)) {
    const auto name = entry.path().filename().string();
    if (!entry.is_regular_file() || !sync::is_sha256_hex(name)) continue;
    files.push_back(BlobFile{name, entry.last_write_time()});
  }
  result.files = files.size();
  if (files.empty()) return result;
  std::set<std::string> referenced;
  auto scanned = outbox.scan_evidence([](const sync::Outbox::Chain&) {},
                                      [&](const sync::StoredRecord& r) {
                                        for (auto& a : sync::attachments_of(r.row)) {
                                          referenced.insert(std::move(a.sha256));
                                        }
                                        return true;
                                      });
  if (!scanned) {
    result.error = "cannot read the outbox: " + scanned.error().message();
    return result;
  }
  const auto now = std::filesystem::file_time_type::clock::now();
  for (const auto& sha : unreferenced_images(referenced, files, now, grace)) {
    if (blobs.remove(sha)) ++result.removed;
  }
  return result;
}

}  // namespace weighlink::agent::camera
