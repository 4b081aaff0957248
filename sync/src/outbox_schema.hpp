#pragma once
// The outbox's SQLite file: its schema and upgrades, how a row and the evidence chain's signed
// points are stored, and rechaining. Private to sync/ (outbox_*.cpp); functions that write run on
// the writer connection, inside the caller's transaction unless they say otherwise.

#include <boost/system/result.hpp>
#include <cstdint>
#include <filesystem>
#include <string>

#include "sqlite_handle.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::sync::detail {

inline constexpr const char* kAnchorKey = "chain.anchor";
// Where schemas 2 to 6 kept the signed chain head (the head row holds it from schema 7).
inline constexpr const char* kLegacyHeadKey = "chain.head";
// Where the evidence archive's part of the chain starts (signed as "archive_anchor").
inline constexpr const char* kArchiveAnchorKey = "chain.archive_anchor";

// The columns read_row() reads, in its order.
inline constexpr const char* kRowColumns =
    "seq, idempotency_key, kind, payload, request_hash, state, created_at_ms, attempts, "
    "last_error, outcome, acknowledged_at_ms, prev_hash, record_hash, signature, "
    "discard_reason, discarded_at_ms";
// A query over the archive and the outbox adds this column after kRowColumns: 1 when archived.
inline constexpr int kArchivedColumn = 16;

// WAL, synchronous=FULL, the schema, and every upgrade from the file's user_version to the current
// one, each in its own transaction. Nothing, or the Error naming the file and the SQL step that
// failed (io_error; not_supported for a file from a newer agent).
[[nodiscard]] base::Expected<void> prepare_schema(sqlite3* db, const std::filesystem::path& file,
                                                  const OutboxOptions& options);

[[nodiscard]] OutboxRow read_row(const sqlite::Stmt& s);

// A chain point stored in the state table as "seq hash signature".
[[nodiscard]] std::string encode_point(std::uint64_t seq, const std::string& hash,
                                       const std::string& sig);
[[nodiscard]] bool decode_point(const std::string& text, std::uint64_t& seq, std::string& hash,
                                std::string& sig);
// The chain's signed anchor and head (and the archive's anchor) as stored.
[[nodiscard]] Outbox::Chain read_chain(sqlite3* db);
// The chain's anchor or head at (seq, hash), signed with the station's key: the state row to write
// (the head only by the upgrade to schema 2; later schemas keep it in the head row).
enum class ChainPoint { anchor, head, archive_anchor };
[[nodiscard]] StateWrite signed_point(const OutboxOptions& options, ChainPoint point,
                                      std::uint64_t seq, const std::string& hash);

// The head row (schema 7): the chain's signed head and the rows per state, in one page. This
// UPDATE sets the head to ?1 seq, ?2 hash, ?3 signature and adds ?4 rows to `pending` (each commit
// runs it once with the rows it added).
inline constexpr const char* kWriteHead =
    "UPDATE head SET seq = ?1, hash = ?2, signature = ?3, pending = pending + ?4 WHERE id = 1";
// The head's signature of (seq, hash) with the station's key.
[[nodiscard]] std::string sign_head(const OutboxOptions& options, std::uint64_t seq,
                                    const std::string& hash);
// kWriteHead with no rows added. SQLITE_OK or the error code.
int write_head(sqlite3* db, std::uint64_t seq, const std::string& hash, const std::string& sig);

// Sets (or, with no value, deletes) one row of the state table. SQLITE_OK or the error code.
int put_state_row(sqlite3* db, const StateWrite& w);

// Chains every row again, in seq order, from the genesis hash (prev_hash, record_hash, signature):
// a file upgraded to the chain, or renumbered. The last seq and hash (the caller signs the head
// when there are rows), or the SQLite error code.
struct Rechained {
  int rc = SQLITE_OK;
  std::uint64_t last_seq = 0;
  std::string last_hash;
};
[[nodiscard]] Rechained rechain_all(sqlite3* db, const OutboxOptions& options);

}  // namespace weighlink::sync::detail
