// BlobStore (blob_store.hpp): content-addressed evidence files.

#include "weighlink/sync/blob_store.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <system_error>

#include "weighlink/base/file_write.hpp"
#include "weighlink/base/hash.hpp"

namespace weighlink::sync {

bool is_sha256_hex(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::filesystem::path BlobStore::path(std::string_view sha256) const {
  if (!is_sha256_hex(sha256)) return {};
  return root_ / std::string(sha256.substr(0, 2)) / std::string(sha256);
}

bool BlobStore::contains(std::string_view sha256) const {
  std::error_code ec;
  const auto p = path(sha256);
  return !p.empty() && std::filesystem::is_regular_file(p, ec);
}

base::Expected<std::string> BlobStore::put(std::string_view bytes) const {
  auto sha = base::sha256_hex(bytes);
  const auto p = path(sha);
  if (contains(sha)) return sha;
  std::error_code ec;
  std::filesystem::create_directories(p.parent_path(), ec);
  if (ec) {
    return base::Error{ec, "cannot create " + p.parent_path().string() + ": " + ec.message()};
  }
  if (auto written = base::write_file_atomically(p, bytes, 0640); !written) {
    return written.error();
  }
  return sha;
}

base::Expected<std::string> BlobStore::get(std::string_view sha256) const {
  const auto p = path(sha256);
  if (p.empty()) {
    return base::invalid_argument("'" + std::string(sha256) + "' is not a SHA-256 (64 hex)");
  }
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    return base::Error{std::make_error_code(std::errc::no_such_file_or_directory),
                       "evidence file " + p.string() + " is missing or unreadable"};
  }
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (base::sha256_hex(bytes) != sha256) {
    return base::Error{
        std::make_error_code(std::errc::illegal_byte_sequence),
        "evidence file " + p.string() + " does not match its SHA-256: it was altered or damaged"};
  }
  return bytes;
}

bool BlobStore::remove(std::string_view sha256) const {
  const auto p = path(sha256);
  std::error_code ec;
  return !p.empty() && std::filesystem::remove(p, ec);
}

}  // namespace weighlink::sync
