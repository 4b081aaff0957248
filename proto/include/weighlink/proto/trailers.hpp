#pragma once
// Trailing metadata of the backend's refusals (RESOURCE_EXHAUSTED): the backend sets them, the
// replay client reads them. Named once here for both sides (docs/sync-protocol.md).

namespace weighlink::proto {

// The largest batch the backend takes; the client caps its batch there.
inline constexpr const char* kMaxBatchTrailer = "x-weighlink-max-batch";
// How long an overloaded backend asks clients to stay away, in milliseconds.
inline constexpr const char* kRetryAfterTrailer = "x-weighlink-retry-after-ms";

}  // namespace weighlink::proto

// Transitional (issue 17): agent/ and sync/ still spell these weighlink::sync::; drop this once
// they say proto::.
namespace weighlink::sync {
using proto::kMaxBatchTrailer;
using proto::kRetryAfterTrailer;
}  // namespace weighlink::sync
