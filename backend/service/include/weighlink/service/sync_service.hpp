#pragma once
// The gRPC SyncService adapter (callback API). Each call is handed to the worker pool; the
// reaction never blocks. Proto types stop here; the work is done by replay.hpp / pg_store.hpp.

#include <grpcpp/impl/codegen/service_type.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "weighlink/pg/pg.hpp"
#include "weighlink/service/bounded_pool.hpp"
#include "weighlink/service/metrics.hpp"

namespace weighlink::service {

// What each pool worker owns.
struct WorkerContext {
  pg::PgConnection db;
};

using WorkerPool = BoundedPool<WorkerContext>;

struct SyncServiceDeps {
  WorkerPool* pool = nullptr;
  Metrics* metrics = nullptr;
  std::function<std::int64_t()> now_unix_ms;  // injected clock
  // A Replay with more mutations is refused (RESOURCE_EXHAUSTED, trailer x-weighlink-max-batch)
  // before any work: the agent halves its batch and caps it there.
  std::size_t max_batch = 1000;
  // The largest evidence file (BlobStatus, PutBlobChunk) taken (serve --max-blob-bytes).
  std::uint64_t max_blob_bytes = std::uint64_t{16} * 1024 * 1024;
  // Fault injection for tests only (env WEIGHLINK_TEST_PAUSE_AFTER_COMMIT_MS): a Replay waits
  // this long between its commit and its answer, so a test can kill the process there.
  std::chrono::milliseconds pause_after_commit{0};
};

// The wait the overload answer (worker queue full) asks for, in proto::kRetryAfterTrailer.
inline constexpr int kOverloadRetryAfterMs = 500;

[[nodiscard]] std::unique_ptr<grpc::Service> make_sync_service(SyncServiceDeps deps);

}  // namespace weighlink::service
