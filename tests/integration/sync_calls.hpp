#pragma once
// One SyncService call at a time, as an agent makes it (bearer token, a deadline), for the tests
// that drive the backend over real gRPC directly: the status, the correlation id and the trailers;
// and the station's side of the evidence chain (its key file, a signed mutation).

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "weighlink/base/hash.hpp"
#include "weighlink/record/evidence.hpp"
#include "weighlink/sync/v1/sync.grpc.pb.h"

namespace weighlink::testing {

struct SyncCall {
  grpc::Status status;
  std::string correlation_id;
  std::map<std::string, std::string> trailers;
};

inline SyncCall call_replay(const std::string& address, const std::string& token,
                            const sync::v1::ReplayRequest& request,
                            sync::v1::ReplayResponse* response,
                            const std::string& correlation_id = {},
                            std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  auto stub = sync::v1::SyncService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  context.AddMetadata("authorization", "Bearer " + token);
  if (!correlation_id.empty()) context.AddMetadata("x-correlation-id", correlation_id);
  SyncCall call;
  call.status = stub->Replay(&context, request, response);
  for (const auto& [k, v] : context.GetServerTrailingMetadata()) {
    call.trailers[std::string(k.data(), k.size())] = std::string(v.data(), v.size());
  }
  if (auto it = call.trailers.find("x-correlation-id"); it != call.trailers.end()) {
    call.correlation_id = it->second;
  }
  return call;
}

inline SyncCall call_hello(const std::string& address, const std::string& token,
                           const std::string& station, sync::v1::HelloResponse* response,
                           std::uint64_t last_seq = 0, const std::string& agent_version = "test") {
  auto stub = sync::v1::SyncService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  context.AddMetadata("authorization", "Bearer " + token);
  sync::v1::HelloRequest request;
  request.set_station_id(station);
  request.set_agent_version(agent_version);
  request.set_last_seq(last_seq);
  SyncCall call;
  call.status = stub->Hello(&context, request, response);
  return call;
}

// Signs `m` as the agent's outbox does, chained to `prev`; returns its record_hash.
inline std::string sign_mutation(sync::v1::Mutation& m, const std::string& prev,
                                 const std::vector<unsigned char>& key) {
  m.set_prev_hash(prev);
  m.set_record_hash(record::chain_hash(prev, {m.station_id(), m.seq(), m.idempotency_key(),
                                              m.kind(), m.created_at_unix_ms(), m.payload_json()}));
  m.set_signature(record::sign_record(key, m.record_hash()));
  return m.record_hash();
}

// Writes `key` to `path` as the agent writes its station key file (hex, newline); returns `path`.
inline std::filesystem::path write_station_key(const std::filesystem::path& path,
                                               const std::vector<unsigned char>& key) {
  std::ofstream(path, std::ios::trunc) << base::to_hex(key) << "\n";
  return path;
}

}  // namespace weighlink::testing
