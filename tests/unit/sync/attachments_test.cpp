// Evidence files before their records (attachments.hpp): which rows list blobs, and the upload,
// resume and loss rules against a fake backend that keeps blobs the way the real one does
// (a received prefix, completion once the whole hashes to the name).
#include "weighlink/sync/attachments.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <map>

#include "weighlink/base/hash.hpp"
#include "weighlink/testing/process.hpp"

using namespace weighlink::sync;
using weighlink::testing::TempDir;

namespace {

class FakeBackend final : public BlobRemote {
 public:
  struct Held {
    std::string bytes;
    bool complete = false;
  };
  std::map<std::string, Held> blobs;
  std::vector<std::pair<std::string, std::string>> lost;  // key, sha256
  std::uint64_t max_bytes = std::uint64_t{16} * 1024 * 1024;
  int status_calls = 0;
  int chunk_calls = 0;
  int fail_chunk_at = -1;  // the chunk call (0-based) that fails UNAVAILABLE, once
  bool unimplemented = false;

  RemoteResult<RemoteBlobState> status(const std::string& sha256) override {
    ++status_calls;
    if (unimplemented) return RemoteError{12, "unimplemented", true};
    const auto& held = blobs[sha256];
    return RemoteBlobState{held.bytes.size(), held.complete, max_bytes};
  }
  RemoteResult<RemoteBlobState> put_chunk(const Attachment& blob, std::uint64_t total,
                                          std::uint64_t offset, std::string_view data) override {
    if (chunk_calls++ == fail_chunk_at) return RemoteError{14, "connection reset", false};
    auto& held = blobs[blob.sha256];
    if (!held.complete && offset == held.bytes.size()) held.bytes.append(data);
    if (held.bytes.size() == total && !held.complete) {
      if (weighlink::base::sha256_hex(held.bytes) == blob.sha256) {
        held.complete = true;
      } else {
        held.bytes.clear();
        return RemoteError{15, "hash mismatch", false};
      }
    }
    return RemoteBlobState{held.bytes.size(), held.complete, max_bytes};
  }
  RemoteResult<void> report_lost(const Attachment& blob, const OutboxRow& row,
                                 std::string_view /*reason*/) override {
    if (unimplemented) return RemoteError{12, "unimplemented", true};
    lost.emplace_back(row.idempotency_key, blob.sha256);
    return {};
  }
};

OutboxRow row_with(std::uint64_t seq, std::string kind, const std::vector<std::string>& shas) {
  OutboxRow row;
  row.seq = seq;
  row.idempotency_key = "k" + std::to_string(seq);
  row.kind = std::move(kind);
  std::string list;
  for (const auto& sha : shas) {
    if (!list.empty()) list += ",";
    list += R"({"sha256":")" + sha + R"(","bytes":1,"content_type":"image/jpeg"})";
  }
  row.payload_json = R"({"scale":"s1","attachments":[)" + list + "]}";
  return row;
}

std::string image(std::size_t n, char seed) {
  std::string bytes(n, '\0');
  for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>(seed + i * 7);
  return bytes;
}

}  // namespace

TEST_CASE("attachments: only weighlink.* kinds are read, and only a top-level array") {
  const std::string sha(64, 'a');
  CHECK(attachments_of("weighlink.capture_images",
                       R"({"attachments":[{"sha256":")" + sha +
                           R"(","bytes":12,"content_type":"image/jpeg"}]})")
            .size() == 1);
  CHECK(attachments_of("weighing.captured", R"({"attachments":[{"sha256":")" + sha + R"("}]})")
            .empty());
  CHECK(attachments_of("weighlink.x", R"({"images":{"attachments":[]}})").empty());
  CHECK(attachments_of("weighlink.x", R"({"attachments":[{"sha256":"not-a-hash"}]})").empty());
  CHECK(attachments_of("weighlink.x", R"({"attachments":"no"})").empty());
  CHECK(attachments_of("weighlink.x", "not json \"attachments\"").empty());
  const auto a = attachments_of("weighlink.x", R"({"attachments":[{"sha256":")" + sha + R"("}]})");
  REQUIRE(a.size() == 1);
  CHECK(a[0].content_type == "application/octet-stream");
}

TEST_CASE("attachments: a blob is sent in chunks once, and a blob held whole is not sent again") {
  TempDir dir;
  const BlobStore store(dir.path() / "blobs");
  const auto bytes = image(1000, 'a');
  const auto sha = store.put(bytes).value();
  FakeBackend backend;
  const std::vector rows{row_with(1, "weighlink.capture_images", {sha}),
                         row_with(2, "weighlink.capture_images", {sha})};
  auto first = send_attachments(rows, {}, store, backend, 300);
  REQUIRE(first.has_value());
  CHECK(first->uploaded == 1);
  CHECK(first->chunks == 4);  // 300 + 300 + 300 + 100
  CHECK(first->bytes_sent == 1000);
  CHECK(backend.blobs[sha].complete);
  CHECK(backend.blobs[sha].bytes == bytes);
  // Sent again (a retry, a restore): asked, not sent.
  auto again = send_attachments(rows, {}, store, backend, 300);
  REQUIRE(again.has_value());
  CHECK(again->uploaded == 0);
  CHECK(again->already_held == 1);
  CHECK(backend.chunk_calls == 4);
}

TEST_CASE("attachments: an interrupted upload resumes at the backend's received offset") {
  TempDir dir;
  const BlobStore store(dir.path() / "blobs");
  const auto bytes = image(1000, 'b');
  const auto sha = store.put(bytes).value();
  FakeBackend backend;
  backend.fail_chunk_at = 2;  // two chunks held, then the link breaks
  const std::vector rows{row_with(1, "weighlink.capture_images", {sha})};
  auto broken = send_attachments(rows, {}, store, backend, 300);
  REQUIRE_FALSE(broken.has_value());
  CHECK_FALSE(broken.error().permanent);
  CHECK(backend.blobs[sha].bytes.size() == 600);
  auto resumed = send_attachments(rows, {}, store, backend, 300);
  REQUIRE(resumed.has_value());
  CHECK(resumed->bytes_sent == 400);  // from 600 on, not from 0
  CHECK(backend.blobs[sha].bytes == bytes);
  CHECK(backend.blobs[sha].complete);
}

TEST_CASE("attachments: a blob missing or altered here is reported lost and the rest goes on") {
  TempDir dir;
  const BlobStore store(dir.path() / "blobs");
  const auto kept = store.put(image(10, 'c')).value();
  const auto deleted = store.put(image(20, 'd')).value();
  const auto altered = store.put(image(30, 'e')).value();
  REQUIRE(store.remove(deleted));
  { std::ofstream(store.path(altered), std::ios::binary | std::ios::trunc) << "swapped"; }
  FakeBackend backend;
  const std::vector rows{row_with(1, "weighlink.capture_images", {deleted, kept}),
                         row_with(2, "weighlink.capture_images", {altered})};
  auto tally = send_attachments(rows, {}, store, backend);
  REQUIRE(tally.has_value());
  CHECK(tally->uploaded == 1);
  CHECK(tally->lost == 2);
  CHECK(backend.blobs[kept].complete);
  REQUIRE(backend.lost.size() == 2);
  CHECK(backend.lost[0] == std::pair<std::string, std::string>{"k1", deleted});
  CHECK(backend.lost[1] == std::pair<std::string, std::string>{"k2", altered});
}

TEST_CASE("attachments: too large for the backend, or an old backend: lost, never retried") {
  TempDir dir;
  const BlobStore store(dir.path() / "blobs");
  const auto sha = store.put(image(100, 'f')).value();
  const std::vector rows{row_with(1, "weighlink.capture_images", {sha})};
  FakeBackend small;
  small.max_bytes = 99;
  auto refused = send_attachments(rows, {}, store, small);
  REQUIRE(refused.has_value());
  CHECK(refused->lost == 1);
  CHECK(small.chunk_calls == 0);
  FakeBackend old;
  old.unimplemented = true;
  auto old_backend = send_attachments(rows, {}, store, old);
  REQUIRE(old_backend.has_value());
  CHECK(old_backend->lost == 1);
}

TEST_CASE("attachments: rows of other kinds and markers are not looked at") {
  TempDir dir;
  const BlobStore store(dir.path() / "blobs");
  const auto sha = store.put(image(10, 'g')).value();
  FakeBackend backend;
  const std::vector rows{row_with(1, "weighing.captured", {sha}),
                         row_with(2, "weighlink.capture_images", {sha})};
  auto tally = send_attachments(rows, {2}, store, backend);
  REQUIRE(tally.has_value());
  CHECK(backend.status_calls == 0);
  CHECK(tally->uploaded == 0);
}
