#pragma once
// The agent's evidence files (camera images) by content: `<root>/<first 2 hex>/<sha256>`, each
// written once, atomically and fsynced, and named by the SHA-256 of its bytes, which the signed,
// chained record that refers to it carries. A record's blobs are listed in its payload's
// `attachments` ([{"sha256","bytes","content_type"}], `weighlink.*` kinds only); the replay
// worker sends them to the backend before the record (docs/devices.md, "Camera evidence").
//
// Threading: every method is safe from any thread (files only, no state in memory).

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "weighlink/base/error.hpp"

namespace weighlink::sync {

class BlobStore {
 public:
  explicit BlobStore(std::filesystem::path root) : root_(std::move(root)) {}

  [[nodiscard]] const std::filesystem::path& root() const { return root_; }

  // Stores `bytes` (once: the same bytes again keep the file there) and returns their SHA-256,
  // lower-case hex.
  [[nodiscard]] base::Expected<std::string> put(std::string_view bytes) const;
  // Where the blob `sha256` is (or would be) stored; empty for a name that is not 64 lower hex.
  [[nodiscard]] std::filesystem::path path(std::string_view sha256) const;
  [[nodiscard]] bool contains(std::string_view sha256) const;
  // The bytes of `sha256`, checked against the name: an error naming the file when it is missing,
  // unreadable, or does not hash to its name (altered).
  [[nodiscard]] base::Expected<std::string> get(std::string_view sha256) const;
  // Removes a blob (retention); false when it was not there.
  bool remove(std::string_view sha256) const;

 private:
  std::filesystem::path root_;
};

// 64 lower-case hex digits.
[[nodiscard]] bool is_sha256_hex(std::string_view text);

}  // namespace weighlink::sync
