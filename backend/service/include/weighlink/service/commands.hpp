#pragma once
// The sync service's commands (migrate, station admin, serve), called by main.cpp after flag
// parsing. Each returns the process exit code (weighlink/base/command.hpp): 0 ok, 1 operational
// failure, 2 bad usage/config. Errors go to stderr as one line (what failed, where, what to do).

#include <cstddef>
#include <string>
#include <vector>

#include "weighlink/base/command.hpp"

namespace weighlink::service {

using base::kExitFailure;
using base::kExitOk;
using base::kExitUsage;

[[nodiscard]] int run_migrate(const std::string& dsn, const base::Console& console);
// Prints the new token once, as the last line of stdout. A non-empty `key_file` (--key-file)
// registers the agent's station key in the same statement; a bad key file exits 2.
// `allow_unsigned_weighings` (--allow-unsigned-weighings): without a key its weighings are still
// recorded; by default they are REJECTED unsigned_weighing until the key is registered.
[[nodiscard]] int run_station_add(const std::string& dsn, const std::string& station_id,
                                  const std::string& key_file, bool allow_unsigned_weighings,
                                  const base::Console& console);
// station set-unsigned-weighings --id ID allow|refuse. Unknown id exits 1.
[[nodiscard]] int run_station_set_unsigned_weighings(const std::string& dsn,
                                                     const std::string& station_id, bool allow,
                                                     const base::Console& console);
[[nodiscard]] int run_station_disable(const std::string& dsn, const std::string& station_id,
                                      const base::Console& console);
// Prints the new token once, as the last line of stdout; the old token stops working at once.
[[nodiscard]] int run_station_rotate_token(const std::string& dsn, const std::string& station_id,
                                           const base::Console& console);

struct ServeOptions {
  std::string dsn;
  std::string grpc_listen = "127.0.0.1:50051";
  std::string http_listen = "127.0.0.1:8081";
  std::string ready_file;  // empty: none
  std::size_t workers = 4;
  std::size_t max_queue = 64;    // jobs waiting for a worker before RESOURCE_EXHAUSTED
  std::size_t max_batch = 1000;  // mutations per Replay call
  std::uint64_t max_blob_bytes =
      std::uint64_t{16} * 1024 * 1024;  // the largest evidence file taken
  // TLS on gRPC: the server's certificate chain and key (PEM files); with client_ca, every client
  // must present a certificate signed by it (mutual TLS). Empty cert: plaintext (loopback, or a
  // TLS-terminating proxy in front).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
};

// Runs until SIGTERM or SIGINT, then shuts down cleanly and returns 0.
[[nodiscard]] int run_serve(const ServeOptions& options, const base::Console& console);

// Validates a station id: 1..64 characters of [A-Za-z0-9._-].
[[nodiscard]] bool valid_station_id(const std::string& station_id) noexcept;

// Registers the agent's station key (its key file: 64+ hex digits) as the station's signing key;
// replay then checks every new mutation's signature and chain. A bad key file exits 2.
[[nodiscard]] int run_station_set_key(const std::string& dsn, const std::string& station_id,
                                      const std::string& key_file, const base::Console& console);

// `records verify --station ID --seq N`: one stored record of any station checked with the
// station's registered key: its signature over the stored record_hash, its link (prev_hash = the
// record_hash stored for seq - 1, or the genesis hash at seq 1) and its hash, recomputed from the
// exact payload text the agent signed (payload_text, schema v5) and the other columns, with the
// jsonb payload checked to say the same (hash_ok null, with the reason, for rows without the
// text). Prints one JSON object. Exit 0 intact, 3 not, 1 no such record or key, or PostgreSQL
// unreachable, 2 bad usage.
[[nodiscard]] int run_records_verify(const std::string& dsn, const std::string& station_id,
                                     std::uint64_t seq, const base::Console& console);

}  // namespace weighlink::service
