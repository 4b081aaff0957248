#pragma once
// Internal to weighlink::recovery (drill): the two clients the restore drill points at the backend
// it started on the restored database. Adapters: the backend's Beast HTTP client
// (drill_http_probe.cpp over notify_http.hpp) and the generated gRPC stub (drill_sync_smoke.cpp);
// protobuf types stay inside the latter.
//
// Threading: free functions that block their caller, each call bounded by its timeout.

#include <chrono>
#include <string>
#include <vector>

namespace weighlink::recovery {

// One GET http://ADDRESS TARGET (ADDRESS "127.0.0.1:PORT", "[::1]:PORT", a name) on a fresh
// connection, the whole of it bounded by `timeout`. status 0 with `error` when no answer came;
// `body` holds the start of the answer's body (control characters as spaces).
struct HttpAnswer {
  int status = 0;
  std::string body;
  std::string error;
};
[[nodiscard]] HttpAnswer http_get(const std::string& address, const std::string& target,
                                  std::chrono::milliseconds timeout);

// The sync smoke of SPEC §6 over real gRPC, as station `station_id` with its token: Hello (the
// watermark must carry a generation, `generation` when given), one synthetic mutation (seq 1,
// kind `kind`, payload "{}") replayed and APPLIED, then sent again and answered DUPLICATE with the
// original outcome APPLIED. Every call has `call_timeout` as its deadline.
struct SmokeTarget {
  std::string grpc_address;
  std::string station_id;
  std::string token;
  std::string generation;  // expected in every watermark; empty: any non-empty one
  std::string kind = "drill.smoke";
  std::chrono::milliseconds call_timeout{10000};
};
struct SmokeResult {
  std::string failed_call;          // empty: every check passed
  std::string detail;               // what failed, or a summary of what passed
  std::vector<std::string> passed;  // one line per passed check, in order
  [[nodiscard]] bool ok() const { return failed_call.empty(); }
};
[[nodiscard]] SmokeResult smoke_sync_service(const SmokeTarget& target);

}  // namespace weighlink::recovery
