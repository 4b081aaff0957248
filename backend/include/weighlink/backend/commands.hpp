#pragma once
// The weighlink-backend commands, called by main.cpp after flag parsing. Each returns the
// process exit code: 0 ok, 1 operational failure, 2 bad usage/config. Errors go to stderr as one
// line (what failed, where, what to do).

#include <cstddef>
#include <string>
#include <vector>

namespace weighlink::backend {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

[[nodiscard]] int run_migrate(const std::string& dsn);
// Prints the new token once, as the last line of stdout. A non-empty `key_file` (--key-file)
// registers the agent's station key in the same statement; a bad key file exits 2.
// `allow_unsigned_weighings` (--allow-unsigned-weighings): without a key its weighings are still
// recorded; by default they are REJECTED unsigned_weighing until the key is registered.
[[nodiscard]] int run_station_add(const std::string& dsn, const std::string& station_id,
                                  const std::string& key_file = {},
                                  bool allow_unsigned_weighings = false);
// station set-unsigned-weighings --id ID allow|refuse. Unknown id exits 1.
[[nodiscard]] int run_station_set_unsigned_weighings(const std::string& dsn,
                                                     const std::string& station_id, bool allow);
[[nodiscard]] int run_station_disable(const std::string& dsn, const std::string& station_id);
// Prints the new token once, as the last line of stdout; the old token stops working at once.
[[nodiscard]] int run_station_rotate_token(const std::string& dsn, const std::string& station_id);

struct ServeOptions {
  std::string dsn;
  std::string grpc_listen = "127.0.0.1:50051";
  std::string http_listen = "127.0.0.1:8081";
  std::string ready_file;  // empty: none
  std::size_t workers = 4;
  std::size_t max_queue = 64;    // jobs waiting for a worker before RESOURCE_EXHAUSTED
  std::size_t max_batch = 1000;  // mutations per Replay call
  // TLS on gRPC: the server's certificate chain and key (PEM files); with client_ca, every client
  // must present a certificate signed by it (mutual TLS). Empty cert: plaintext (loopback, or a
  // TLS-terminating proxy in front).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
};

// Runs until SIGTERM or SIGINT, then shuts down cleanly and returns 0.
[[nodiscard]] int run_serve(const ServeOptions& options);

// Validates a station id: 1..64 characters of [A-Za-z0-9._-].
[[nodiscard]] bool valid_station_id(const std::string& station_id) noexcept;

// Registers the agent's station key (its key file: 64+ hex digits) as the station's signing key;
// replay then checks every new mutation's signature and chain. A bad key file exits 2.
[[nodiscard]] int run_station_set_key(const std::string& dsn, const std::string& station_id,
                                      const std::string& key_file);

// backup --dir DIR: DIR/weighlink_YYYYMMDD_HHMMSS.dump (pg_dump -Fc) and its .manifest.json (size,
// sha256, per-table row counts, per-station high water and the generation from the dump's own
// snapshot, server version, created_at). DIR is a local folder or an rclone remote; each --mirror
// gets a copy; with retention_days, retention runs on every destination afterwards. The last
// line printed is the primary manifest's path. Exit 1 when any destination missed the dump.
struct BackupOptions {
  std::string dsn;
  std::vector<std::string> destinations;  // --dir, then each --mirror
  int retention_days = 0;                 // 0: no retention
  std::string staging_dir;                // where a dump for a remote --dir is written first
};
[[nodiscard]] int run_backup(const BackupOptions& options);

struct RestoreOptions {
  std::string file;      // a custom-format dump (backup's weighlink_*.dump)
  std::string dsn;       // the target database; nothing outside it is touched
  bool force = false;    // empty a non-empty target first (drop its schemas)
  std::size_t jobs = 2;  // pg_restore --jobs for the data and post-data sections
  // Not empty: the file's sha256 must be this (the verified-latest pointer's, for a dump fetched
  // without its manifest), else it is refused before the target is touched.
  std::string expected_sha256;
};

// restore --file F --dsn DSN [--force] [--jobs N]: refuses a file that is not a custom-format
// dump or not of a weighlink database (exit 2), one whose sha256 differs from the manifest
// beside it, a dump it cannot read to the end, a target that is not empty without --force, and a
// target a weighlink-backend is still connected to (exit 1, the target untouched). Then pg_restore
// pre-data, data, post-data (each timed; a failure names its phase and the failing object),
// ANALYZE, the pending migrations, and a new generation in backend_meta (with restored_from,
// restored_at). Prints a phase and throughput summary; the last line is the new generation.
// restore.hpp has the same as a function (restore_dump).
[[nodiscard]] int run_restore(const RestoreOptions& options);

// mark-restored --dsn DSN --from TEXT: after a restore weighlink did not run itself (pgBackRest
// point-in-time recovery, a volume snapshot): refuses a server still in recovery, runs the pending
// migrations (as migrate) and sets a new generation with restored_from = TEXT and restored_at.
// The last line printed is the new generation. An empty --from exits 2.
[[nodiscard]] int run_mark_restored(const std::string& dsn, const std::string& restored_from);

}  // namespace weighlink::backend
