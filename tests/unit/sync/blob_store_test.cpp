// The agent's evidence files by content (blob_store.hpp): stored once, found by their SHA-256,
// and refused when altered.
#include "weighlink/sync/blob_store.hpp"

#include <doctest/doctest.h>

#include <fstream>

#include "weighlink/base/hash.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::sync::BlobStore;
using weighlink::testing::TempDir;

TEST_CASE("blob store: bytes are stored under their SHA-256 and read back whole") {
  TempDir dir;
  const BlobStore store(dir.path() / "blobs");
  const std::string jpeg("\xff\xd8\xff\xe0 not really a jpeg \0 with a zero\xff\xd9", 37);
  const auto sha = store.put(jpeg);
  REQUIRE(sha.has_value());
  CHECK(*sha == weighlink::base::sha256_hex(jpeg));
  CHECK(store.path(*sha) == dir.path() / "blobs" / sha->substr(0, 2) / *sha);
  CHECK(store.contains(*sha));
  const auto back = store.get(*sha);
  REQUIRE(back.has_value());
  CHECK(*back == jpeg);
  // The same bytes again: the same name, one file.
  CHECK(store.put(jpeg).value() == *sha);
}

TEST_CASE("blob store: an altered or missing file is an error naming it") {
  TempDir dir;
  const BlobStore store(dir.path());
  const auto sha = store.put("image bytes").value();
  std::ofstream(store.path(sha), std::ios::binary | std::ios::trunc) << "swapped image";
  const auto altered = store.get(sha);
  REQUIRE_FALSE(altered.has_value());
  CHECK(altered.error().message.find("altered") != std::string::npos);
  CHECK(altered.error().message.find(sha) != std::string::npos);
  CHECK(store.remove(sha));
  CHECK_FALSE(store.contains(sha));
  const auto missing = store.get(sha);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message.find("missing") != std::string::npos);
}

TEST_CASE("blob store: a name that is not a SHA-256 is refused, never a path") {
  TempDir dir;
  const BlobStore store(dir.path());
  CHECK(store.path("../../etc/passwd").empty());
  CHECK(store.path(std::string(64, 'A')).empty());  // upper case is not the stored form
  CHECK_FALSE(store.get("../x").has_value());
  CHECK_FALSE(store.contains(""));
}
