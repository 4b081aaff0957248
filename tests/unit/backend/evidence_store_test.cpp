// The evidence file calls' checks before any SQL (evidence_store.hpp), and the manifest's
// evidence figures (backup_catalog.hpp).
#include "weighlink/service/evidence_store.hpp"

#include <doctest/doctest.h>

#include "weighlink/recovery/backup_catalog.hpp"

using namespace weighlink::service;

namespace {

const std::string kSha(64, 'a');

BlobChunkIn chunk(std::uint64_t total, std::uint64_t offset, std::string_view data) {
  return BlobChunkIn{kSha, total, "image/jpeg", offset, data};
}

}  // namespace

TEST_CASE("evidence store: a chunk inside its blob and the size limit is taken") {
  const std::string data(1000, 'x');
  CHECK_FALSE(blob_chunk_problem(chunk(3000, 0, data), kDefaultMaxBlobBytes));
  CHECK_FALSE(blob_chunk_problem(chunk(3000, 2000, data), kDefaultMaxBlobBytes));
  CHECK_FALSE(blob_chunk_problem(chunk(0, 0, ""), kDefaultMaxBlobBytes));  // an empty file
}

TEST_CASE("evidence store: bad names, sizes, offsets and content types are refused") {
  const std::string data(1000, 'x');
  auto refused = [](const BlobChunkIn& c, std::uint64_t max = kDefaultMaxBlobBytes) {
    const auto problem = blob_chunk_problem(c, max);
    return problem ? *problem : std::string();
  };
  CHECK(refused(BlobChunkIn{std::string(64, 'A'), 10, "image/jpeg", 0, "0123456789"})
            .find("SHA-256") != std::string::npos);
  CHECK(refused(BlobChunkIn{"abc", 10, "image/jpeg", 0, "0123456789"}).find("SHA-256") !=
        std::string::npos);
  CHECK(refused(chunk(5000, 0, data), 4096).find("at most 4096") != std::string::npos);
  CHECK(refused(chunk(1500, 1000, data)).find("ends past") != std::string::npos);
  CHECK(refused(chunk(1500, 2000, "")).find("ends past") != std::string::npos);
  CHECK(refused(chunk(1500, 0, "")).find("no bytes") != std::string::npos);
  const std::string big(kBlobChunkBytes + 1, 'y');
  CHECK(refused(chunk(kBlobChunkBytes * 2, 0, big)).find("at most") != std::string::npos);
  CHECK(refused(BlobChunkIn{kSha, 10, "image/ jpeg", 0, "0123456789"}).find("content_type") !=
        std::string::npos);
  CHECK(refused(BlobChunkIn{kSha, 10, "", 0, "0123456789"}).find("content_type") !=
        std::string::npos);
  CHECK(blob_name_problem(kSha) == std::nullopt);
  CHECK(blob_name_problem(std::string(63, 'a')).has_value());
}

TEST_CASE("evidence store: the manifest's evidence figures are read, and bad ones refused") {
  const std::string base =
      R"({"format":"weighlink-backup/1","dump":"weighlink_20261207_030000.dump",)"
      R"("size_bytes":5000,"sha256":")" +
      std::string(64, 'b') +
      R"(","created_at":"2026-12-07T03:00:00Z","row_counts":{},"station_high_water":{})";
  const auto without = weighlink::recovery::parse_manifest(base + "}");
  REQUIRE_MESSAGE(without.has_value(), without.error().message);
  CHECK_FALSE(without->evidence_blobs.has_value());
  const auto with = weighlink::recovery::parse_manifest(
      base + R"(,"evidence_blobs":{"count":3,"checksum":")" + kSha + R"("}})");
  REQUIRE(with.has_value());
  CHECK(with->evidence_blobs == 3);
  CHECK(with->evidence_checksum == kSha);
  CHECK_FALSE(
      weighlink::recovery::parse_manifest(base + R"(,"evidence_blobs":{"count":3}})").has_value());
}
