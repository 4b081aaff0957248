// Evidence files before their records (attachments.hpp): the upload and resume rules, over a
// BlobRemote.

#include "weighlink/sync/attachments.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <map>

namespace weighlink::sync {

std::vector<Attachment> attachments_of(std::string_view kind, std::string_view payload_json,
                                       bool keep_malformed) {
  std::vector<Attachment> out;
  // The prefix first: rows of other kinds (every weighing) are never parsed here.
  if (!kind.starts_with("weighlink.")) return out;
  if (payload_json.find("\"attachments\"") == std::string_view::npos) return out;
  boost::system::error_code ec;
  const auto doc = boost::json::parse(payload_json, ec);
  const auto* object = ec ? nullptr : doc.if_object();
  const auto* listed = object ? object->if_contains("attachments") : nullptr;
  const auto* array = listed ? listed->if_array() : nullptr;
  if (!array) return out;
  for (const auto& entry : *array) {
    const auto* e = entry.if_object();
    if (!e) continue;
    const auto* sha = e->if_contains("sha256");
    const bool named = sha && sha->is_string() && is_sha256_hex(sha->get_string());
    if (!named && !keep_malformed) continue;
    Attachment a;
    if (sha && sha->is_string()) a.sha256 = std::string(sha->get_string());
    if (const auto* bytes = e->if_contains("bytes")) {
      if (bytes->is_uint64()) a.bytes = bytes->get_uint64();
      if (bytes->is_int64() && bytes->get_int64() > 0) {
        a.bytes = static_cast<std::uint64_t>(bytes->get_int64());
      }
    }
    if (const auto* type = e->if_contains("content_type"); type && type->is_string()) {
      a.content_type = std::string(type->get_string());
    }
    if (a.content_type.empty()) a.content_type = "application/octet-stream";
    out.push_back(std::move(a));
  }
  return out;
}

namespace {

// Why a blob cannot be sent (it is then reported lost), or the failure that stops the batch.
struct BlobOutcome {
  bool held = false;      // the backend holds it whole
  bool uploaded = false;  // by this call
  std::string lost;       // non-empty: the reason it cannot be sent
};

using Step = boost::system::result<BlobOutcome, RemoteError>;

// One blob: ask, then send from where the backend stands, chunk by chunk.
Step send_one(const Attachment& a, const BlobStore& store, BlobRemote& remote,
              std::size_t chunk_bytes, AttachmentTally& tally) {
  auto state = remote.status(a.sha256);
  if (!state) {
    if (state.error().permanent) return BlobOutcome{false, false, state.error().message};
    return state.error();
  }
  if (state->complete) return BlobOutcome{true, false, {}};
  auto bytes = store.get(a.sha256);
  if (!bytes) return BlobOutcome{false, false, bytes.error().message};
  const std::uint64_t total = bytes->size();
  if (state->max_bytes != 0 && total > state->max_bytes) {
    return BlobOutcome{false, false,
                       "the file has " + std::to_string(total) + " bytes, more than the " +
                           std::to_string(state->max_bytes) + " the backend takes"};
  }
  std::uint64_t offset = state->received_bytes > total ? 0 : state->received_bytes;
  // Each answer moves the offset on; a backend that stops taking the chunks (or keeps starting
  // afresh) ends the call after twice the chunks a clean upload takes.
  const std::uint64_t limit = 2 * (total / chunk_bytes + 2);
  for (std::uint64_t calls = 0; calls < limit; ++calls) {
    const auto n = std::min<std::uint64_t>(chunk_bytes, total - offset);
    const std::string_view chunk = std::string_view(*bytes).substr(offset, n);
    auto answer = remote.put_chunk(a, total, offset, chunk);
    if (!answer) {
      if (answer.error().permanent) return BlobOutcome{false, false, answer.error().message};
      return answer.error();
    }
    ++tally.chunks;
    tally.bytes_sent += n;
    if (answer->complete) return BlobOutcome{true, true, {}};
    offset = answer->received_bytes > total ? 0 : answer->received_bytes;
  }
  return RemoteError{0,
                     "the backend did not complete evidence file " + a.sha256 + " after " +
                         std::to_string(limit) + " chunks; retrying later",
                     false};
}

}  // namespace

boost::system::result<AttachmentTally, RemoteError> send_attachments(
    std::span<const OutboxRow> rows, const std::set<std::uint64_t>& skip, const BlobStore& store,
    BlobRemote& remote, std::size_t chunk_bytes) {
  AttachmentTally tally;
  std::map<std::string, BlobOutcome> done;  // by name: a blob two rows list is sent once
  chunk_bytes = std::max<std::size_t>(chunk_bytes, 1);
  for (const auto& row : rows) {
    if (skip.contains(row.seq)) continue;
    for (const auto& a : attachments_of(row.kind, row.payload_json)) {
      auto it = done.find(a.sha256);
      if (it == done.end()) {
        auto outcome = send_one(a, store, remote, chunk_bytes, tally);
        if (!outcome) return outcome.error();
        if (outcome->uploaded) ++tally.uploaded;
        if (outcome->held && !outcome->uploaded) ++tally.already_held;
        it = done.emplace(a.sha256, std::move(*outcome)).first;
      }
      if (it->second.lost.empty()) continue;
      // Recorded with the record before it is sent; a backend without the call cannot record
      // it, and the record still goes.
      if (auto reported = remote.report_lost(a, row, it->second.lost);
          !reported && !reported.error().permanent) {
        return reported.error();
      }
      ++tally.lost;
    }
  }
  return tally;
}

}  // namespace weighlink::sync
